/**
 * Inside the sandbox: rebuild the stage context from the request, find the stage in
 * its defining module and run it. Output goes to stdout/stderr (the stage log).
 */
import { pathToFileURL } from "node:url";
import { stageShell } from "./shell.ts";
import type { SandboxRequest } from "./sandbox.ts";
import type { Stage, StageContext } from "./stage.ts";

const req: SandboxRequest = JSON.parse(await Deno.readTextFile(Deno.args[0]));
const mod = await import(pathToFileURL(req.module).href);

/** Find the stage among a module's exports: a stage, a list, or a stage factory. */
async function findStage(): Promise<Stage | undefined> {
  for (const exp of Object.values(mod)) {
    const list = typeof exp === "function"
      ? await (exp as (r: string, b: unknown) => unknown)(req.root, req.board)
      : exp;
    for (const s of Array.isArray(list) ? list : [list]) {
      if (
        s && typeof s === "object" && (s as Stage).name === req.stage &&
        typeof (s as Stage).run === "function"
      ) {
        return s as Stage;
      }
    }
  }
  return undefined;
}

const stage = await findStage();
if (!stage) {
  console.error(`sandbox: ${req.module} exports no stage named ${req.stage}`);
  Deno.exit(2);
}
const info: Record<string, unknown> = {};
const stdout = { writeSync: (p: Uint8Array) => Deno.stdout.writeSync(p) };
const ctx: StageContext = {
  board: req.board,
  deps: req.deps,
  sources: req.sources,
  inputs: req.inputs,
  params: req.params,
  out: req.out,
  tmp: req.work,
  root: req.root,
  $: stageShell({ cwd: req.work, env: req.env, log: stdout, signal: new AbortController().signal }),
  log: (l) => console.log(l),
  record: (k, v) => {
    info[k] = v;
  },
  signal: new AbortController().signal,
  jobs: req.jobs,
  env: req.env,
};
try {
  await stage.run(ctx);
} catch (e) {
  console.error(`FAILED: ${(e as Error).message}`);
  Deno.exit(1);
}
await Deno.writeTextFile(req.result, JSON.stringify({ info }));
