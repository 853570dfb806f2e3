/**
 * The DAG runner: plans the stages a target needs, computes each one's key once its
 * dependencies are known, reuses the store's output or builds it, and runs
 * independent stages in parallel (up to `jobs`). Early cutoff falls out of the
 * keys: a dependent's key holds its dependencies' *output* hashes, so a rebuilt
 * stage with an identical output leaves its dependents cached.
 */
import { join } from "node:path";
import type { Board } from "./board.ts";
import { defaultDownloadDir, envMirrors, fetchSource } from "./fetch/mod.ts";
import { KeyCaches, stageKey } from "./key.ts";
import { killDescendants } from "./proc.ts";
import { makeProgress, type Outcome, type Progress } from "./progress.ts";
import { stageShell } from "./shell.ts";
import { stageEnv } from "./stage_env.ts";
import type { Stage, StageContext } from "./stage.ts";
import { defaultStoreDir, type Store } from "./store.ts";
import { bwrapArgs, denoDir, type SandboxRequest } from "./sandbox.ts";
import { type Container, containerArgs } from "./container.ts";
import { MissingToolError, which } from "./tools.ts";

export { SOURCE_DATE_EPOCH, stageEnv } from "./stage_env.ts";

/** Options of one build. */
export interface BuildOptions {
  root: string;
  board: Board;
  /** Every stage known for this board. */
  stages: Stage[];
  targets: string[];
  store: Store;
  jobs?: number;
  /** Stages rebuilt even when cached. */
  force?: string[];
  dryRun?: boolean;
  keepGoing?: boolean;
  progress?: Progress;
  downloadDir?: string;
  mirrors?: string[];
  signal?: AbortSignal;
  /** Run each stage under bubblewrap with only its declared inputs (lib/sandbox.ts). */
  sandbox?: boolean;
  /** Run each stage inside this build image (lib/container.ts). */
  container?: Container;
}

/** What happened to one stage. */
export interface StageResult {
  name: string;
  outcome: Outcome;
  seconds: number;
  key?: string;
  outputHash?: string;
  /** Output directory in the store. */
  out?: string;
  error?: string;
  log?: string;
}

/** The result of a build. */
export interface BuildResult {
  ok: boolean;
  results: Map<string, StageResult>;
}

/**
 * Order the stages `targets` need (dependencies first). Unknown stages and cycles
 * are errors raised before anything runs.
 */
export function planStages(stages: Stage[], targets: string[], board?: string): Stage[] {
  const byName = new Map(stages.map((s) => [s.name, s]));
  const order: Stage[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (name: string, path: string[]) => {
    const s = byName.get(name);
    if (!s) {
      const by = path.length ? ` (needed by ${path[path.length - 1]})` : "";
      const known = [...byName.keys()].sort().join(", ");
      throw new Error(
        `unknown stage "${name}"${by}${board ? ` for board ${board}` : ""}; known: ${known}`,
      );
    }
    if (state.get(name) === "done") return;
    if (state.get(name) === "visiting") {
      const cycle = [...path.slice(path.indexOf(name)), name];
      throw new Error(`dependency cycle: ${cycle.join(" -> ")}`);
    }
    state.set(name, "visiting");
    for (const d of s.needs) visit(d, [...path, name]);
    state.set(name, "done");
    order.push(s);
  };
  for (const t of targets) visit(t, []);
  return order;
}

/** Fail before anything runs if a planned stage lacks a host tool. */
export function checkTools(plan: Stage[]): void {
  for (const s of plan) {
    const missing = s.tools.filter((t) => !which(t));
    if (missing.length) throw new MissingToolError(s.name, missing);
  }
}

/** Build `targets` for one board. */
export async function build(opts: BuildOptions): Promise<BuildResult> {
  const plan = planStages(opts.stages, opts.targets, opts.board.name);
  // In a container the build image provides the tools, not the host.
  if (!opts.dryRun && !opts.container) checkTools(plan);
  const progress = opts.progress ?? makeProgress();
  const jobs = Math.max(1, opts.jobs ?? navigator.hardwareConcurrency);
  const caches = KeyCaches.inStore(opts.store.dir);
  const results = new Map<string, StageResult>();
  const abort = new AbortController();
  const onAbort = () => {
    abort.abort();
    killDescendants("SIGTERM");
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  using _storeLock = await opts.store.lockStore(false);
  const dropped = await opts.store.recover();
  if (dropped.length) {
    progress.message(`store: dropped ${dropped.length} entries damaged by an earlier crash`);
  }

  // Scratch dirs are removed off the critical path; the build waits for them at the end.
  const cleanups: Promise<void>[] = [];
  const pending = new Set(plan.map((s) => s.name));
  const running = new Map<string, Promise<void>>();
  let failed = false;
  while (pending.size > 0 || running.size > 0) {
    for (const name of [...pending]) {
      const stage = plan.find((s) => s.name === name)!;
      const deps = stage.needs.map((d) => results.get(d));
      if (deps.some((d) => d === undefined)) continue;
      if (abort.signal.aborted || (failed && !opts.keepGoing)) {
        pending.delete(name);
        results.set(name, { name, outcome: "skipped", seconds: 0, error: "build stopped" });
        continue;
      }
      const bad = deps.find((d) => d!.outcome === "failed" || d!.outcome === "skipped");
      if (bad) {
        pending.delete(name);
        results.set(name, {
          name,
          outcome: "skipped",
          seconds: 0,
          error: `dependency ${bad.name} ${bad.outcome}`,
        });
        progress.finish(id(name, opts), "skipped", 0, `dependency ${bad.name} ${bad.outcome}`);
        continue;
      }
      if (running.size >= jobs) break;
      pending.delete(name);
      const p = runOne(stage, opts, results, caches, progress, abort.signal, cleanups).then((r) => {
        results.set(name, r);
        if (r.outcome === "failed") failed = true;
        running.delete(name);
      });
      running.set(name, p);
    }
    if (running.size > 0) await Promise.race(running.values());
  }
  await Promise.all(cleanups);
  await caches.save();
  await opts.store.sync();
  opts.signal?.removeEventListener("abort", onAbort);
  const ok = [...results.values()].every((r) => r.outcome !== "failed" && r.outcome !== "skipped");
  return { ok, results };
}

function id(name: string, opts: { board: Board }): string {
  return `${name}@${opts.board.name}`;
}

/** Key, look up, and build one stage if needed. Never throws: failures are results. */
async function runOne(
  stage: Stage,
  opts: BuildOptions,
  results: Map<string, StageResult>,
  caches: KeyCaches,
  progress: Progress,
  signal: AbortSignal,
  cleanups: Promise<void>[],
): Promise<StageResult> {
  const name = stage.name;
  const sid = id(name, opts);
  const t0 = performance.now();
  const secs = () => (performance.now() - t0) / 1000;
  const depHashes: Record<string, string> = {};
  const deps: Record<string, string> = {};
  for (const d of stage.needs) {
    const r = results.get(d)!;
    if (r.outcome === "would build") {
      progress.finish(sid, "would build", 0, `dependency ${d} would build`);
      return { name, outcome: "would build", seconds: 0 };
    }
    depHashes[d] = r.outputHash!;
    deps[d] = r.out!;
  }
  let key;
  try {
    key = await stageKey(stage, opts.board, opts.root, depHashes, caches, opts.container?.image);
  } catch (e) {
    const error = (e as Error).message;
    progress.message(`${sid}: FAILED: ${error}`);
    progress.finish(sid, "failed", secs());
    return { name, outcome: "failed", seconds: secs(), error };
  }
  const forced = opts.force?.includes(name) ?? false;
  const cachedResult = async (): Promise<StageResult | undefined> => {
    const rec = forced ? undefined : await opts.store.lookup(key.key);
    if (!rec) return undefined;
    await opts.store.touchLatest(rec);
    progress.finish(sid, "cached", secs());
    return {
      name,
      outcome: "cached",
      seconds: secs(),
      key: key.key,
      outputHash: rec.outputHash,
      out: opts.store.objectOut(rec.outputHash),
      log: opts.store.logPath(key.key),
    };
  };
  const hit = await cachedResult();
  if (hit) return hit;
  if (opts.dryRun) {
    progress.finish(sid, "would build", 0);
    return { name, outcome: "would build", seconds: 0, key: key.key };
  }
  // Another build on this store may be making the same key: wait for it, then reuse.
  const waiting = setTimeout(
    () => progress.message(`${sid}: waiting for another build of the same key to finish`),
    1000,
  );
  // Ctrl-C while waiting must not wait for the other build: race the lock with it.
  const aborted = new Promise<undefined>((resolve) => {
    if (signal.aborted) resolve(undefined);
    signal.addEventListener("abort", () => resolve(undefined), { once: true });
  });
  using _lock = await Promise.race([opts.store.lockKey(key.key), aborted]);
  clearTimeout(waiting);
  if (!_lock) {
    progress.finish(sid, "failed", secs(), "interrupted");
    return { name, outcome: "failed", seconds: secs(), key: key.key, error: "interrupted" };
  }
  if (!forced) {
    const again = await cachedResult();
    if (again) return again;
  }
  progress.start(sid);
  const tmp = opts.store.makeTmp(sid);
  const logPath = join(tmp, "log");
  const logFile = Deno.openSync(logPath, { write: true, create: true, append: true });
  const enc = new TextEncoder();
  let partial = "";
  const logLine = (text: string) => {
    logFile.writeSync(enc.encode(text.endsWith("\n") ? text : text + "\n"));
    progress.line(sid, text.trimEnd());
  };
  const logStream = {
    writeSync(chunk: Uint8Array): number {
      logFile.writeSync(chunk);
      partial = (partial + new TextDecoder().decode(chunk)).slice(-4096);
      const lines = partial.split("\n");
      partial = lines.pop()!;
      const last = lines.filter((l) => l.trim()).pop();
      if (last) progress.line(sid, last);
      return chunk.length;
    },
  };
  const info: Record<string, unknown> = {};
  const started = new Date();
  try {
    const sources: Record<string, string> = {};
    for (const [sname, src] of Object.entries(stage.sources)) {
      sources[sname] = await fetchSource(src, {
        downloadDir: opts.downloadDir ?? defaultDownloadDir(opts.store.dir),
        storeDir: opts.store.dir,
        mirrors: opts.mirrors ?? envMirrors(),
        log: logLine,
      });
    }
    const out = join(tmp, "out");
    const work = join(tmp, "work");
    Deno.mkdirSync(out);
    Deno.mkdirSync(work);
    const env = stageEnv(work);
    const ctx: StageContext = {
      board: opts.board,
      deps,
      sources,
      inputs: key.inputs,
      params: stage.params,
      out,
      tmp: work,
      root: opts.root,
      // Built on first use: a dax instance costs more than a whole no-op stage.
      get $() {
        const shell = stageShell({ cwd: work, env, log: logStream, signal });
        Object.defineProperty(this, "$", { value: shell });
        return shell;
      },
      log: logLine,
      record: (k, v) => {
        info[k] = v;
      },
      signal,
      jobs: Math.max(1, opts.jobs ?? navigator.hardwareConcurrency),
      env,
    };
    if (opts.container) {
      const c = opts.container;
      await runSandboxed(stage, ctx, tmp, logStream, info, (req, f) => ({
        cmd: c.engine,
        args: containerArgs(c, req, f, denoDir()),
        env: c.env,
      }));
    } else if (opts.sandbox) {
      await runSandboxed(stage, ctx, tmp, logStream, info, (req, f) => ({
        cmd: "bwrap",
        args: bwrapArgs(req, f, denoDir()),
        env: {},
      }));
    } else await stage.run(ctx);
    if (signal.aborted) throw new Error("interrupted");
    const manifest = await opts.store.commit(
      out,
      {
        key: key.key,
        stage: name,
        board: opts.board.name,
        parts: key.parts,
        seconds: secs(),
      },
      info,
      started,
    );
    logFile.close();
    Deno.renameSync(logPath, opts.store.logPath(key.key));
    cleanups.push(Deno.remove(tmp, { recursive: true }).catch(() => {}));
    progress.finish(sid, "built", secs());
    return {
      name,
      outcome: "built",
      seconds: secs(),
      key: key.key,
      outputHash: manifest.outputHash,
      out: opts.store.objectOut(manifest.outputHash),
      log: opts.store.logPath(key.key),
    };
  } catch (e) {
    const error = signal.aborted ? "interrupted" : (e as Error).message;
    try {
      logLine(`FAILED: ${(e as Error).stack ?? error}`);
      logFile.close();
    } catch { /* already closed */ }
    const kept = join(opts.store.dir, "logs", `${key.key}.failed.log`);
    await Deno.rename(logPath, kept).catch(() => {});
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    if (!signal.aborted) progress.message(failureReport(sid, error, kept));
    progress.finish(sid, "failed", secs());
    return { name, outcome: "failed", seconds: secs(), key: key.key, error, log: kept };
  }
}

/** Run a stage's run() in a child process: under bubblewrap or in a container. */
async function runSandboxed(
  stage: Stage,
  ctx: StageContext,
  tmp: string,
  log: { writeSync(p: Uint8Array): number },
  info: Record<string, unknown>,
  command: (
    req: SandboxRequest,
    reqFile: string,
  ) => { cmd: string; args: string[]; env: Record<string, string> },
): Promise<void> {
  if (!stage.module) throw new Error(`--sandbox: stage ${stage.name} has no defining module`);
  const req: SandboxRequest = {
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
    result: join(tmp, "result.json"),
    loaderEnv: {
      ICENET_HOME: defaultStoreDir(),
      ...Object.fromEntries(
        Object.entries(Deno.env.toObject()).filter(([k]) => k.startsWith("ICENET_")),
      ),
    },
  };
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
    const why = lastErr.trim().split("\n").filter((l) =>
      l.startsWith("FAILED: ")
    ).pop()?.slice(8) ??
      lastErr.trim().split("\n").pop() ?? `exit ${status.code}`;
    throw new Error(`(sandboxed) ${why}`);
  }
  Object.assign(info, JSON.parse(await Deno.readTextFile(req.result)).info);
}

/** The last 40 lines of a failed stage's log and where the whole log is. */
function failureReport(sid: string, error: string, log: string): string {
  let tail = "";
  try {
    tail = Deno.readTextFileSync(log).split("\n").slice(-41).join("\n");
  } catch { /* no log */ }
  return `${sid}: FAILED: ${error}\n--- last lines of the log ---\n${tail}\n--- full log: ${log}`;
}
