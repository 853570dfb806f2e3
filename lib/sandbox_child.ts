/**
 * Inside the sandbox: rebuild the stage context from the request, find the stage in
 * its defining module and run it. Output goes to stdout/stderr (the stage log).
 */
import { pathToFileURL } from "node:url";
import { stageShell } from "./shell.ts";
import type { SandboxRequest } from "./sandbox.ts";
import type { Stage, StageContext } from "./stage.ts";

const req: SandboxRequest = JSON.parse(await Deno.readTextFile(Deno.args[0]));
for (const [k, v] of Object.entries(req.loaderEnv)) Deno.env.set(k, v);
const mod = await import(pathToFileURL(req.module).href);

/**
 * Find the stage among the module's exports: the default export (a stage, a list,
 * or a factory called with root and board, as lib/registry.ts does), then any
 * exported stage object. Other exported functions are never called.
 */
async function findStage(): Promise<Stage | undefined> {
  const candidates: unknown[] = [];
  const def = mod.default;
  if (typeof def === "function") candidates.push(await def(req.root, req.board));
  else if (def) candidates.push(def);
  for (const [name, exp] of Object.entries(mod)) {
    if (name !== "default" && typeof exp !== "function") candidates.push(exp);
  }
  for (const c of candidates) {
    for (const s of Array.isArray(c) ? c : [c]) {
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
