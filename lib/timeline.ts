/**
 * Build timelines: when each stage of a build started and ended, how it ended, and the
 * CPU its child processes used — recorded by the runner for every build and kept in
 * the store (`<store>/timelines/`), so `deno task build --timeline out.svg` and
 * `deno task timeline` can show where a build spent its time (lib/timeline_svg.ts
 * draws it; summarize() says it in text).
 *
 * CPU time, and why it is only sometimes per stage: Linux adds a child's user+sys time
 * to its parent's "children" counters (getrusage(RUSAGE_CHILDREN), cutime/cstime in
 * /proc/self/stat) when the parent reaps it. Deno reaps every stage command itself
 * (dax and Deno.Command expose no per-child rusage), and all stages share this
 * process, so the counters are process-wide. Their change over the whole build is
 * exact; their change over one stage is exact only if no other stage ran at any
 * moment of it (its commands are awaited, so they are reaped inside its span). Those
 * stages get `cpu`; overlapped ones get none rather than a guess.
 */
import { join } from "node:path";
import type { Outcome } from "./progress.ts";
import { writeFileAtomic } from "./store.ts";

/** One stage in a timeline. Times are ms since the build started. */
export interface TimelineStage {
  stage: string;
  board: string;
  outcome: Outcome;
  start: number;
  end: number;
  needs: string[];
  /** User+sys seconds of the stage's child processes; only when exact (see the top). */
  cpu?: { user: number; sys: number };
  error?: string;
}

/** One build's timeline, as stored. */
export interface Timeline {
  version: 1;
  board: string;
  targets: string[];
  /** Wall-clock start of the build (ISO 8601). */
  started: string;
  /** Wall time of the whole build, ms. */
  wall: number;
  ok: boolean;
  jobs: number;
  /** User+sys seconds of every child process reaped during the build. */
  cpu: { user: number; sys: number };
  stages: TimelineStage[];
}

/** Builds kept in `<store>/timelines/` (oldest removed first). */
export const KEEP_TIMELINES = 20;

/** Stage spans open in this process, across builds: who overlapped whom. */
const open = new Set<{ alone: boolean }>();

/** Records one build's stages as the runner starts and ends them. */
export class TimelineRecorder {
  readonly #t0 = performance.now();
  readonly #started = new Date();
  readonly #cpu0 = childCpu();
  readonly #stages: TimelineStage[] = [];

  constructor(readonly board: string, readonly targets: string[], readonly jobs: number) {}

  #now(): number {
    return Math.round((performance.now() - this.#t0) * 1000) / 1000;
  }

  /** A stage starts; call the returned function with its outcome when it ends. */
  start(stage: string, needs: string[]): (outcome: Outcome, error?: string) => void {
    const start = this.#now();
    const cpu0 = childCpu();
    const span = { alone: open.size === 0 };
    for (const o of open) o.alone = false;
    open.add(span);
    return (outcome, error) => {
      open.delete(span);
      const rec: TimelineStage = {
        stage,
        board: this.board,
        outcome,
        start,
        end: this.#now(),
        needs,
      };
      if (span.alone) rec.cpu = diffCpu(cpu0, childCpu());
      if (error) rec.error = error;
      this.#stages.push(rec);
    };
  }

  /** A stage that never ran (its dependency failed, or the build stopped). */
  skipped(stage: string, needs: string[], error: string): void {
    const t = this.#now();
    this.#stages.push({
      stage,
      board: this.board,
      outcome: "skipped",
      start: t,
      end: t,
      needs,
      error,
    });
  }

  /** The timeline so far. */
  timeline(ok: boolean): Timeline {
    return {
      version: 1,
      board: this.board,
      targets: this.targets,
      started: this.#started.toISOString(),
      wall: this.#now(),
      ok,
      jobs: this.jobs,
      cpu: diffCpu(this.#cpu0, childCpu()),
      stages: [...this.#stages].sort((a, b) => a.start - b.start || a.end - b.end),
    };
  }
}

/** USER_HZ: the unit of /proc times, 100 on every Linux ABI. */
const TICKS_PER_SECOND = 100;

/** Ticks of user and sys time of this process's reaped children. */
function childCpu(): { user: number; sys: number } {
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    // Fields after "(comm) ": state is field 3, so cutime (16) and cstime (17) are 13, 14.
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { user: Number(f[13]), sys: Number(f[14]) };
  } catch {
    return { user: 0, sys: 0 }; // not Linux: no figures rather than no build
  }
}

function diffCpu(
  a: { user: number; sys: number },
  b: { user: number; sys: number },
): { user: number; sys: number } {
  return { user: (b.user - a.user) / TICKS_PER_SECOND, sys: (b.sys - a.sys) / TICKS_PER_SECOND };
}

/**
 * Store a timeline as `<store>/timelines/<started>-<board>.json` and as `latest.json`
 * (each written whole, then renamed), dropping all but the newest KEEP_TIMELINES.
 * Returns the path.
 */
export async function saveTimeline(
  storeDir: string,
  t: Timeline,
  keep = KEEP_TIMELINES,
): Promise<string> {
  const dir = join(storeDir, "timelines");
  await Deno.mkdir(dir, { recursive: true });
  const text = JSON.stringify(t, null, 1);
  // ':' in file names upsets some tools; the ISO form still sorts by time.
  const path = join(dir, `${t.started.replaceAll(":", "-")}-${t.board}.json`);
  await writeFileAtomic(path, text, { sync: false });
  await writeFileAtomic(join(dir, "latest.json"), text, { sync: false });
  const old = (await listTimelines(storeDir)).slice(0, -keep);
  for (const f of old) await Deno.remove(f).catch(() => {});
  return path;
}

/** Stored timelines, oldest first (the names sort by start time). */
export async function listTimelines(storeDir: string): Promise<string[]> {
  const dir = join(storeDir, "timelines");
  const names: string[] = [];
  try {
    for await (const e of Deno.readDir(dir)) {
      if (e.isFile && /^\d{4}-.*\.json$/.test(e.name)) names.push(e.name);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return names.sort().map((n) => join(dir, n));
}

/** The newest stored timeline (of `board`, if given). */
export async function lastTimeline(storeDir: string, board?: string): Promise<Timeline> {
  const all = await listTimelines(storeDir);
  const path = board ? all.filter((p) => p.endsWith(`-${board}.json`)).pop() : all.pop();
  if (!path) {
    throw new Error(
      `no build timeline in ${join(storeDir, "timelines")}${board ? ` for ${board}` : ""}`,
    );
  }
  return JSON.parse(await Deno.readTextFile(path));
}

/** A duration for people: ms below a second (cached stages take a few), else seconds. */
const secs = (ms: number) => ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`;

/**
 * The chain of dependencies with the largest summed stage time: what the build could
 * not go faster than with unlimited parallelism (Bazel's "critical path").
 */
export function criticalPath(t: Timeline): TimelineStage[] {
  const byName = new Map(t.stages.map((s) => [s.stage, s]));
  const best = new Map<string, { total: number; path: TimelineStage[] }>();
  const walk = (s: TimelineStage): { total: number; path: TimelineStage[] } => {
    const known = best.get(s.stage);
    if (known) return known;
    let prev = { total: 0, path: [] as TimelineStage[] };
    for (const d of s.needs) {
      const dep = byName.get(d);
      if (!dep) continue;
      const r = walk(dep);
      if (r.total > prev.total) prev = r;
    }
    const r = { total: prev.total + (s.end - s.start), path: [...prev.path, s] };
    best.set(s.stage, r);
    return r;
  };
  let top = { total: -1, path: [] as TimelineStage[] };
  for (const s of t.stages) {
    const r = walk(s);
    if (r.total > top.total) top = r;
  }
  return top.path;
}

/** A few lines: wall time, CPU, the critical path and the slowest stages. */
export function summarize(t: Timeline, top = 5): string {
  const cpu = t.cpu.user + t.cpu.sys;
  const counts = new Map<string, number>();
  for (const s of t.stages) counts.set(s.outcome, (counts.get(s.outcome) ?? 0) + 1);
  const path = criticalPath(t);
  const pathTime = path.reduce((n, s) => n + s.end - s.start, 0);
  const slowest = [...t.stages].sort((a, b) => (b.end - b.start) - (a.end - a.start))
    .slice(0, top);
  const w = Math.max(0, ...slowest.map((s) => s.stage.length));
  return [
    `timeline: ${t.targets.join(" ")}@${t.board} started ${t.started}: wall ${secs(t.wall)}, ` +
    `${t.stages.length} stages (${[...counts].map(([o, n]) => `${n} ${o}`).join(", ")}), ` +
    `child CPU ${cpu.toFixed(2)} s${t.ok ? "" : ", FAILED"}`,
    `critical path (${secs(pathTime)}): ${
      path.map((s) => `${s.stage} ${secs(s.end - s.start)}`).join(" -> ")
    }`,
    `slowest stages:`,
    ...slowest.map((s) =>
      `  ${s.stage.padEnd(w)}  ${secs(s.end - s.start).padStart(8)}  ${s.outcome}${
        s.cpu ? `, CPU ${(s.cpu.user + s.cpu.sys).toFixed(2)} s` : ""
      }`
    ),
  ].join("\n");
}
