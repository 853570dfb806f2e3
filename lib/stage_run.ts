/**
 * One stage of a build, in named steps: gather the dependencies' outputs, compute
 * the key, reuse the store's output, or take the key's lock (another build may be
 * making it), look the key up in the remote cache, else fetch the sources, run the
 * stage and commit its output; then queue its upload to the remote cache. Failures
 * are results, never exceptions, so the runner can go on with independent stages.
 */
import { join } from "node:path";
import { defaultDownloadDir, envMirrors, fetchSource } from "./fetch/mod.ts";
import { type KeyCaches, type StageKey, stageKey } from "./key.ts";
import type { Progress } from "./progress.ts";
import type { BuildOptions, StageResult } from "./runner.ts";
import { executeStage, type Isolation } from "./sandbox_run.ts";
import { stageShell } from "./shell.ts";
import type { Stage, StageContext } from "./stage.ts";
import { stageEnv } from "./stage_env.ts";
import { StageLog } from "./stage_log.ts";
import { writeFileAtomic } from "./store.ts";

/** What a stage run shares with the rest of its build. */
export interface BuildState {
  opts: BuildOptions;
  results: Map<string, StageResult>;
  caches: KeyCaches;
  progress: Progress;
  signal: AbortSignal;
  /** Scratch removals, awaited at the end of the build (off the critical path). */
  cleanups: Promise<void>[];
}

/** `<stage>@<board>`, as progress and logs name a stage. */
export function stageId(name: string, board: string): string {
  return `${name}@${board}`;
}

/** Key, look up, and build one stage if needed. Never throws. */
export function runStage(stage: Stage, build: BuildState): Promise<StageResult> {
  return new StageRun(stage, build).run();
}

class StageRun {
  readonly sid: string;
  readonly #t0 = performance.now();

  constructor(readonly stage: Stage, readonly b: BuildState) {
    this.sid = stageId(stage.name, b.opts.board.name);
  }

  get #secs(): number {
    return (performance.now() - this.#t0) / 1000;
  }

  async run(): Promise<StageResult> {
    const deps = this.#dependencies();
    if ("outcome" in deps) return deps;
    let key: StageKey;
    try {
      const { opts } = this.b;
      key = await stageKey(
        this.stage,
        opts.board,
        opts.root,
        deps.hashes,
        this.b.caches,
        opts.container?.image,
      );
    } catch (e) {
      this.b.progress.message(`${this.sid}: FAILED: ${(e as Error).message}`);
      return this.#finish({ outcome: "failed", error: (e as Error).message });
    }
    const hit = await this.#cached(key);
    if (hit) return hit;
    if (this.b.opts.dryRun) return this.#finish({ outcome: "would build", key: key.key }, 0);
    return await this.#buildLocked(key, deps.dirs);
  }

  /** The dependencies' output hashes and dirs, or "would build" if one would. */
  #dependencies(): { hashes: Record<string, string>; dirs: Record<string, string> } | StageResult {
    const hashes: Record<string, string> = {}, dirs: Record<string, string> = {};
    for (const d of this.stage.needs) {
      const r = this.b.results.get(d)!;
      if (r.outcome === "would build") {
        this.b.progress.finish(this.sid, "would build", 0, `dependency ${d} would build`);
        return { name: this.stage.name, outcome: "would build", seconds: 0 };
      }
      hashes[d] = r.outputHash!;
      dirs[d] = r.out!;
    }
    return { hashes, dirs };
  }

  /**
   * The store's output for the key (unless forced), recorded as the latest build
   * (and uploaded where the remote cache lacks it, when uploading).
   */
  async #cached(key: StageKey): Promise<StageResult | undefined> {
    const { store, force } = this.b.opts;
    if (force?.includes(this.stage.name)) return undefined;
    const rec = await store.lookup(key.key);
    if (!rec) return undefined;
    // A key shared by boards (a stage that reads no board field) was recorded by the
    // board that built it first: this hit is this board's latest build.
    await store.touchLatest({ ...rec, board: this.b.opts.board.name });
    this.#push(rec.key, rec.outputHash, false);
    return this.#finish({
      outcome: "cached",
      key: key.key,
      outputHash: rec.outputHash,
      out: store.objectOut(rec.outputHash),
      log: store.logPath(key.key),
    });
  }

  /** Build under the key's lock: another build of the same key is waited for and reused. */
  async #buildLocked(key: StageKey, deps: Record<string, string>): Promise<StageResult> {
    const { progress, signal } = this.b;
    const waiting = setTimeout(
      () => progress.message(`${this.sid}: waiting for another build of the same key to finish`),
      1000,
    );
    // Ctrl-C while waiting must not wait for the other build: race the lock with it.
    const aborted = new Promise<undefined>((resolve) => {
      if (signal.aborted) resolve(undefined);
      signal.addEventListener("abort", () => resolve(undefined), { once: true });
    });
    using lock = await Promise.race([this.b.opts.store.lockKey(key.key), aborted]);
    clearTimeout(waiting);
    if (!lock) return this.#finish({ outcome: "failed", key: key.key, error: "interrupted" });
    return await this.#cached(key) ?? await this.#fetched(key) ?? await this.#build(key, deps);
  }

  /**
   * The remote cache's output for the key (unless forced): downloaded and verified
   * into a scratch dir, then committed like a build's output (the commit refuses a
   * tree that does not hash to the signed record's output hash). A miss of any kind
   * leaves nothing behind, and the stage is built.
   */
  async #fetched(key: StageKey): Promise<StageResult | undefined> {
    const { opts, progress, signal } = this.b;
    const cache = opts.cache;
    if (!cache || opts.force?.includes(this.stage.name)) return undefined;
    const tmp = opts.store.makeTmp(this.sid);
    const started = new Date();
    const q = { key: key.key, stage: this.stage.name, board: opts.board.name };
    const warn = (m: string) => progress.message(m);
    try {
      const hit = await cache.fetch(
        q,
        join(tmp, "out"),
        warn,
        (url) => progress.start(this.sid, `fetching from ${url}`),
        signal,
      );
      if (signal.aborted) {
        return this.#finish({ outcome: "failed", key: key.key, error: "interrupted" });
      }
      if (!hit) return undefined;
      const info = { ...hit.manifest.info, fetched: { from: hit.url, signedBy: hit.keyId } };
      const rec = { ...q, parts: key.parts, seconds: this.#secs };
      let hash: string;
      try {
        const out = join(tmp, "out");
        hash = (await opts.store.commit(out, rec, info, started, hit.record.outputHash)).outputHash;
      } catch (e) {
        cache.refused();
        warn(`cache: ${this.sid} (key ${key.key}): not used: ${(e as Error).message}`);
        return undefined;
      }
      const log = hit.log ??
        new TextEncoder().encode(`${this.sid}: fetched from ${hit.url}; no build log uploaded\n`);
      try {
        await writeFileAtomic(opts.store.logPath(key.key), log, { sync: false });
      } catch { /* the output is in; a missing log is no reason to build it again */ }
      return this.#finish({
        outcome: "fetched",
        key: key.key,
        outputHash: hash,
        out: opts.store.objectOut(hash),
        log: opts.store.logPath(key.key),
      });
    } finally {
      this.b.cleanups.push(Deno.remove(tmp, { recursive: true }).catch(() => {}));
    }
  }

  /** Queue the upload of a result in the store to the remote cache (if uploading). */
  #push(key: string, outputHash: string, built: boolean): void {
    const { opts, progress } = this.b;
    if (!opts.cache?.pushing) return;
    const q = { key, stage: this.stage.name, board: opts.board.name };
    opts.cache.push(q, opts.store, outputHash, built, (m) => progress.message(m));
  }

  /** Fetch, run and commit; the scratch dir goes either way, a failed log is kept. */
  async #build(key: StageKey, deps: Record<string, string>): Promise<StageResult> {
    const { opts, progress, signal } = this.b;
    progress.start(this.sid);
    const tmp = opts.store.makeTmp(this.sid);
    const log = new StageLog(join(tmp, "log"), this.sid, progress);
    const info: Record<string, unknown> = {};
    const started = new Date();
    try {
      const ctx = this.#context(key, deps, await this.#fetchSources(log), tmp, log, info);
      await executeStage(this.stage, ctx, this.#isolation(), tmp, log.stream, info);
      if (signal.aborted) throw new Error("interrupted");
      const manifest = await opts.store.commit(
        ctx.out,
        {
          key: key.key,
          stage: this.stage.name,
          board: opts.board.name,
          parts: key.parts,
          seconds: this.#secs,
        },
        info,
        started,
      );
      log.close();
      Deno.renameSync(log.path, opts.store.logPath(key.key));
      this.b.cleanups.push(Deno.remove(tmp, { recursive: true }).catch(() => {}));
      this.#push(key.key, manifest.outputHash, true);
      return this.#finish({
        outcome: "built",
        key: key.key,
        outputHash: manifest.outputHash,
        out: opts.store.objectOut(manifest.outputHash),
        log: opts.store.logPath(key.key),
      });
    } catch (e) {
      const error = signal.aborted ? "interrupted" : (e as Error).message;
      log.line(`FAILED: ${(e as Error).stack ?? error}`);
      log.close();
      const kept = join(opts.store.dir, "logs", `${key.key}.failed.log`);
      await Deno.rename(log.path, kept).catch(() => {});
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
      if (!signal.aborted) progress.message(failureReport(this.sid, error, kept));
      return this.#finish({ outcome: "failed", key: key.key, error, log: kept });
    }
  }

  /** Every declared source, fetched (or found) and verified; local path by name. */
  async #fetchSources(log: StageLog): Promise<Record<string, string>> {
    const { opts } = this.b;
    const sources: Record<string, string> = {};
    for (const [name, src] of Object.entries(this.stage.sources)) {
      sources[name] = await fetchSource(src, {
        downloadDir: opts.downloadDir ?? defaultDownloadDir(opts.store.dir),
        storeDir: opts.store.dir,
        mirrors: opts.mirrors ?? envMirrors(),
        log: (l) => log.line(l),
      });
    }
    return sources;
  }

  /** What run() receives: only what the stage declared, and fresh out and work dirs. */
  #context(
    key: StageKey,
    deps: Record<string, string>,
    sources: Record<string, string>,
    tmp: string,
    log: StageLog,
    info: Record<string, unknown>,
  ): StageContext {
    const { opts, signal } = this.b;
    const out = join(tmp, "out"), work = join(tmp, "work");
    Deno.mkdirSync(out);
    Deno.mkdirSync(work);
    const env = stageEnv(work);
    return {
      board: opts.board,
      deps,
      sources,
      inputs: key.inputs,
      params: this.stage.params,
      out,
      tmp: work,
      root: opts.root,
      // Built on first use: a dax instance costs more than a whole no-op stage.
      get $() {
        const shell = stageShell({ cwd: work, env, log: log.stream, signal });
        Object.defineProperty(this, "$", { value: shell });
        return shell;
      },
      log: (l) => log.line(l),
      record: (k, v) => {
        info[k] = v;
      },
      signal,
      jobs: Math.max(1, opts.jobs ?? navigator.hardwareConcurrency),
      env,
    };
  }

  #isolation(): Isolation {
    const { container, sandbox } = this.b.opts;
    if (container) return { kind: "container", container };
    return sandbox ? { kind: "sandbox" } : { kind: "host" };
  }

  /** The result, reported to progress. */
  #finish(r: Omit<StageResult, "name" | "seconds">, seconds = this.#secs): StageResult {
    const detail = r.outcome === "failed" && r.error === "interrupted" ? "interrupted" : undefined;
    this.b.progress.finish(this.sid, r.outcome, seconds, detail);
    return { name: this.stage.name, seconds, ...r };
  }
}

/** The last 40 lines of a failed stage's log and where the whole log is. */
function failureReport(sid: string, error: string, log: string): string {
  let tail = "";
  try {
    tail = Deno.readTextFileSync(log).split("\n").slice(-41).join("\n");
  } catch { /* no log */ }
  return `${sid}: FAILED: ${error}\n--- last lines of the log ---\n${tail}\n--- full log: ${log}`;
}
