/**
 * Running a stage's run() in a child process — under bubblewrap (`--sandbox`) or in the
 * build container (`--container`) — with the context passed as a request file and the
 * child's output going to the stage log.
 */
import { join } from "node:path";
import { type Container, containerArgs } from "./container.ts";
import { bwrapArgs, denoDir, type SandboxRequest } from "./sandbox.ts";
import type { Stage, StageContext } from "./stage.ts";
import { defaultStoreDir } from "./store.ts";

/** Where a stage runs: in this process, under bubblewrap, or in a container. */
export type Isolation = { kind: "host" } | { kind: "sandbox" } | {
  kind: "container";
  container: Container;
};

/** Run `stage` with `ctx` as `isolation` says; `info` receives what it recorded. */
export async function executeStage(
  stage: Stage,
  ctx: StageContext,
  isolation: Isolation,
  tmp: string,
  log: { writeSync(p: Uint8Array): number },
  info: Record<string, unknown>,
): Promise<void> {
  if (isolation.kind === "host") return await stage.run(ctx);
  const command = isolation.kind === "container"
    ? (req: SandboxRequest, f: string) => ({
      cmd: isolation.container.engine,
      args: containerArgs(isolation.container, req, f, denoDir()),
      env: isolation.container.env,
    })
    : (req: SandboxRequest, f: string) => ({
      cmd: "bwrap",
      args: bwrapArgs(req, f, denoDir()),
      env: {} as Record<string, string>,
    });
  const req = sandboxRequest(stage, ctx, join(tmp, "result.json"));
  const reqFile = join(tmp, "request.json");
  await Deno.writeTextFile(reqFile, JSON.stringify(req));
  const c = command(req, reqFile);
  const child = new Deno.Command(c.cmd, {
    args: c.args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    clearEnv: true,
    env: { ...ctx.env, ...c.env },
  }).spawn();
  const onAbort = () => child.kill("SIGKILL");
  ctx.signal.addEventListener("abort", onAbort, { once: true });
  let lastErr = "";
  const pump = async (stream: ReadableStream<Uint8Array>, isErr: boolean) => {
    for await (const chunk of stream) {
      log.writeSync(chunk);
      if (isErr) lastErr = (lastErr + new TextDecoder().decode(chunk)).slice(-2000);
    }
  };
  const [status] = await Promise.all([
    child.status,
    pump(child.stdout, false),
    pump(child.stderr, true),
  ]);
  ctx.signal.removeEventListener("abort", onAbort);
  if (!status.success) {
    const lines = lastErr.trim().split("\n");
    const why = lines.filter((l) => l.startsWith("FAILED: ")).pop()?.slice(8) ?? lines.pop() ??
      `exit ${status.code}`;
    throw new Error(`(sandboxed) ${why}`);
  }
  Object.assign(info, JSON.parse(await Deno.readTextFile(req.result)).info);
}

/** The request a sandboxed child rebuilds the context from. */
function sandboxRequest(stage: Stage, ctx: StageContext, result: string): SandboxRequest {
  if (!stage.module) throw new Error(`--sandbox: stage ${stage.name} has no defining module`);
  return {
    module: stage.module,
    stage: stage.name,
    board: ctx.board,
    root: ctx.root,
    deps: ctx.deps,
    sources: ctx.sources,
    inputs: ctx.inputs,
    params: ctx.params,
    out: ctx.out,
    work: ctx.tmp,
    jobs: ctx.jobs,
    env: ctx.env,
    result,
    loaderEnv: {
      ICENET_HOME: defaultStoreDir(),
      ...Object.fromEntries(
        Object.entries(Deno.env.toObject()).filter(([k]) => k.startsWith("ICENET_")),
      ),
    },
  };
}
