/**
 * The DAG runner: plans the stages a target needs, computes each one's key once its
 * dependencies are known, reuses the store's output or builds it, and runs
 * independent stages in parallel (up to `jobs`). Early cutoff falls out of the
 * keys: a dependent's key holds its dependencies' *output* hashes, so a rebuilt
 * stage with an identical output leaves its dependents cached.
 */
import type { Board } from "./board.ts";
import type { RemoteCache } from "./cache/remote.ts";
import { saveStats } from "./cache/stats.ts";
import type { Container } from "./container.ts";
import { KeyCaches } from "./key.ts";
import { killDescendants } from "./proc.ts";
import { makeProgress, type Outcome, type Progress } from "./progress.ts";
import type { Stage } from "./stage.ts";
import { type BuildState, runStage, stageId } from "./stage_run.ts";
import type { Store } from "./store.ts";
import { saveTimeline, type Timeline, TimelineRecorder } from "./timeline.ts";
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
  /** The remote build cache (lib/cache/): looked up on a local miss, uploaded to. */
  cache?: RemoteCache;
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
  /** When each stage ran (lib/timeline.ts); not kept for a dry run. */
  timeline?: Timeline;
  /** Where the timeline is stored, if it could be written. */
  timelinePath?: string;
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

/** Build `targets` for one board: plan, open the store, schedule the stages, close. */
export async function build(opts: BuildOptions): Promise<BuildResult> {
  const plan = planStages(opts.stages, opts.targets, opts.board.name);
  // In a container the build image provides the tools, not the host.
  if (!opts.dryRun && !opts.container) checkTools(plan);
  const progress = opts.progress ?? makeProgress();
  const abort = new AbortController();
  const onAbort = () => {
    abort.abort();
    killDescendants("SIGTERM");
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  using _storeLock = await opts.store.lockStore(false);
  await recoverStore(opts.store, progress);
  // Scratch dirs are removed off the critical path; the build waits for them at the end.
  const state: BuildState = {
    opts,
    results: new Map(),
    caches: KeyCaches.inStore(opts.store.dir),
    progress,
    signal: abort.signal,
    cleanups: [],
  };
  const jobs = Math.max(1, opts.jobs ?? navigator.hardwareConcurrency);
  const recorder = new TimelineRecorder(opts.board.name, opts.targets, jobs);
  const ok = () =>
    [...state.results.values()].every((r) => r.outcome !== "failed" && r.outcome !== "skipped");
  let timeline: Timeline | undefined, timelinePath: string | undefined;
  try {
    await schedule(plan, state, recorder);
    await closeBuild(state);
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    // Kept even when the build failed or threw: that is when it is wanted most.
    if (!opts.dryRun) {
      timeline = recorder.timeline(ok());
      timelinePath = await keepTimeline(timeline, state);
    }
  }
  return { ok: ok(), results: state.results, timeline, timelinePath };
}

/** Store the timeline; a build is not failed for want of its picture. */
async function keepTimeline(t: Timeline, b: BuildState): Promise<string | undefined> {
  try {
    return await saveTimeline(b.opts.store.dir, t);
  } catch (e) {
    b.progress.message(`timeline: not saved: ${(e as Error).message}`);
    return undefined;
  }
}

/** Drop what an earlier crash left half-written, and say so. */
async function recoverStore(store: Store, progress: Progress): Promise<void> {
  const dropped = await store.recover();
  if (dropped.length) {
    progress.message(`store: dropped ${dropped.length} entries damaged by an earlier crash`);
  }
}

/**
 * Run the planned stages, each once its dependencies have results, up to `jobs` at a
 * time. After a failure (without --keep-going) or an abort the rest are skipped.
 */
async function schedule(plan: Stage[], b: BuildState, timeline: TimelineRecorder): Promise<void> {
  const { opts, results } = b;
  const jobs = timeline.jobs;
  const pending = new Set(plan.map((s) => s.name));
  const running = new Map<string, Promise<void>>();
  let failed = false;
  while (pending.size > 0 || running.size > 0) {
    for (const name of [...pending]) {
      const stage = plan.find((s) => s.name === name)!;
      const deps = stage.needs.map((d) => results.get(d));
      if (deps.some((d) => d === undefined)) continue;
      const skipped = skipReason(
        deps as StageResult[],
        b.signal.aborted,
        failed && !opts.keepGoing,
      );
      if (skipped) {
        pending.delete(name);
        results.set(name, { name, outcome: "skipped", seconds: 0, error: skipped.error });
        timeline.skipped(name, stage.needs, skipped.error);
        if (skipped.report) {
          b.progress.finish(stageId(name, opts.board.name), "skipped", 0, skipped.error);
        }
        continue;
      }
      if (running.size >= jobs) break;
      pending.delete(name);
      const ended = timeline.start(name, stage.needs);
      running.set(
        name,
        runStage(stage, b).then((r) => {
          ended(r.outcome, r.error);
          results.set(name, r);
          if (r.outcome === "failed") failed = true;
          running.delete(name);
        }),
      );
    }
    if (running.size > 0) await Promise.race(running.values());
  }
}

/** Why a stage whose dependencies have results is skipped, if it is. */
function skipReason(
  deps: StageResult[],
  aborted: boolean,
  stopped: boolean,
): { error: string; report: boolean } | undefined {
  if (aborted || stopped) return { error: "build stopped", report: false };
  const bad = deps.find((d) => d.outcome === "failed" || d.outcome === "skipped");
  if (bad) return { error: `dependency ${bad.name} ${bad.outcome}`, report: true };
  return undefined;
}

/** Finish uploads and scratch removals, save the key caches, sync the store. */
async function closeBuild(b: BuildState): Promise<void> {
  const { opts } = b;
  // Uploads read store objects: they end while the store lock is held.
  if (opts.cache) {
    await opts.cache.flush();
    await saveStats(opts.store.dir, opts.cache.stats);
  }
  await Promise.all(b.cleanups);
  await b.caches.save();
  await opts.store.sync();
}
