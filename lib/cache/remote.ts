/**
 * The remote build cache of one build: looks stage keys up in each configured cache
 * in order and downloads a verified hit; uploads results in the background. Failure
 * is a miss: a cache that fails (refused, timed out, 5xx, cut short) is said once and
 * skipped for the rest of the build; a result that is unsigned, foreign, forged or
 * damaged is a miss with a warning naming the stage, key and URL. Nothing here throws
 * into the build.
 *
 * An entry, in Bazel's HTTP cache protocol:
 *
 *   ac/<stage key>          ActionResult (lib/cache/action_result.ts) listing
 *                             icenet/record.json    -> the signed record (lib/cache/record.ts)
 *                             icenet/manifest.json  -> the manifest blob (lib/cache/tree.ts)
 *                             out/<path>            -> each file of the output, by sha256
 *                           and out/<path> symlinks; stdout_digest is the build log
 *   cas/<sha256>            the blobs
 *
 * Uploads put every blob first and the action result last, so a reader never finds an
 * entry whose blobs are not there yet (the store's key-record-last rule).
 *
 * ```ts
 * const cache = new RemoteCache({ transports, push: true, trusted, signer });
 * const hit = await cache.fetch({ key, stage, board }, outDir, warn);
 * cache.push({ key, stage, board }, store, outputHash, true, warn);
 * await cache.flush();
 * ```
 */
import type { TrustedKeys } from "../ice-pkg/keys.ts";
import type { ManifestEntry } from "../manifest.ts";
import { sha256 } from "../hash.ts";
import type { Store } from "../store.ts";
import {
  type ActionResult,
  actionResultProblem,
  decodeActionResult,
  type Digest,
} from "./action_result.ts";
import { encodeActionResult } from "./action_result.ts";
import {
  type CacheRecord,
  type Signer,
  signRecord,
  UntrustedRecord,
  verifyRecord,
} from "./record.ts";
import { type CacheStats, newStats } from "./stats.ts";
import {
  BadEntry,
  type CacheManifest,
  cacheManifest,
  downloadTree,
  parseManifest,
  putBlob,
  readBlob,
  uploadTree,
} from "./tree.ts";
import { CacheUnavailable, type Transport } from "./transport.ts";

/** Paths of IceNet's own blobs in an action result. */
export const RECORD_PATH = "icenet/record.json";
export const MANIFEST_PATH = "icenet/manifest.json";
/** Output files are listed under this prefix. */
export const OUT_PREFIX = "out/";

/** Which result is wanted. */
export interface CacheQuery {
  key: string;
  stage: string;
  board: string;
}

/** A verified hit, its tree already downloaded. */
export interface RemoteHit {
  url: string;
  record: CacheRecord;
  keyId: string;
  manifest: CacheManifest;
  log?: Uint8Array;
}

/** Where warnings go (the build's progress). */
export type Warn = (message: string) => void;

/** The remote cache set-up of a build. */
export interface RemoteCacheOptions {
  transports: Transport[];
  /** Upload what the build made (and local results the cache lacks). */
  push: boolean;
  trusted: TrustedKeys;
  /** Signs uploaded records; required for push. */
  signer?: Signer;
}

/** See the module doc. */
export class RemoteCache {
  readonly stats: CacheStats;
  /** Caches that failed: skipped for the rest of the build. */
  readonly #down = new Set<string>();
  /** Caches that refused an upload: not uploaded to again. */
  readonly #noPush = new Set<string>();
  readonly #said = new Set<string>();
  readonly #pending = new Set<Promise<void>>();
  /** Uploads run one stage at a time (each several blobs at once), behind the build. */
  #queue: Promise<void> = Promise.resolve();

  constructor(readonly opts: RemoteCacheOptions) {
    this.stats = newStats(opts.transports.map((t) => t.url));
  }

  /** Whether results are uploaded. */
  get pushing(): boolean {
    return this.opts.push && this.opts.signer !== undefined;
  }

  /**
   * Look `q` up in each cache in order; on a verified hit the output tree is made at
   * `out` (which must not exist) and the hit returned; otherwise `out` does not exist
   * and the result is undefined. `downloading` is called once a trusted record is found.
   */
  async fetch(
    q: CacheQuery,
    out: string,
    warn: Warn,
    downloading?: (url: string) => void,
    signal?: AbortSignal,
  ): Promise<RemoteHit | undefined> {
    for (const t of this.opts.transports) {
      if (this.#down.has(t.url)) continue;
      try {
        const hit = await this.#lookup(t, q, out, downloading, signal);
        if (!hit) continue;
        this.stats.hits++;
        return hit;
      } catch (e) {
        await Deno.remove(out, { recursive: true }).catch(() => {});
        if (e instanceof CacheUnavailable) {
          this.#failed(t, e, warn, q);
          continue;
        }
        this.stats.rejected++;
        const why = e instanceof UntrustedRecord || e instanceof BadEntry
          ? e.message
          : `unexpected error: ${(e as Error).message}`;
        warn(`cache: ${q.stage}@${q.board} (key ${q.key}): ${t.url}: not used: ${why}`);
      }
    }
    this.stats.misses++;
    return undefined;
  }

  /**
   * One cache's answer: action result, then the signed record it lists, then the
   * manifest the record pins, then the tree; undefined if the cache has no entry.
   */
  async #lookup(
    t: Transport,
    q: CacheQuery,
    out: string,
    downloading?: (url: string) => void,
    signal?: AbortSignal,
  ): Promise<RemoteHit | undefined> {
    const down = (n: number) => this.stats.bytesDown += n;
    const arBytes = await readBlob(t, "ac", q.key, down, undefined, 64 * 1024 * 1024);
    if (!arBytes) return undefined;
    const recFile = parseActionResult(arBytes).outputFiles.find((f) => f.path === RECORD_PATH);
    if (!recFile) throw new UntrustedRecord(`no ${RECORD_PATH}: not an IceNet result`);
    const recBytes = await readBlob(t, "cas", recFile.digest.hash, down, recFile.digest);
    if (!recBytes) throw new BadEntry(`record blob cas/${recFile.digest.hash} is missing`);
    const record = await verifyRecord(recBytes, this.opts.trusted, q);
    const mBytes = await readBlob(t, "cas", record.manifest.hash, down, record.manifest);
    if (!mBytes) throw new BadEntry(`manifest blob cas/${record.manifest.hash} is missing`);
    const manifest = parseManifest(mBytes, record.outputHash);
    downloading?.(t.url);
    await downloadTree(t, manifest, out, down, signal);
    // The log is a convenience: a missing or damaged one does not make a miss.
    const log = record.log &&
      await readBlob(t, "cas", record.log.hash, down, record.log).catch(() => undefined);
    const keyId = JSON.parse(new TextDecoder().decode(recBytes)).keyId as string;
    return { url: t.url, record, keyId, manifest, log };
  }

  /**
   * Upload a result of the store to every cache, in the background (`flush()` waits).
   * A result found in the local store (`built` false) is uploaded only where the cache
   * lacks it: seeding a new cache from a warm machine costs one HEAD per stage after.
   */
  push(q: CacheQuery, store: Store, outputHash: string, built: boolean, warn: Warn): void {
    if (!this.pushing) return;
    const p = this.#queue = this.#queue.then(async () => {
      for (const t of this.opts.transports) {
        if (this.#down.has(t.url) || this.#noPush.has(t.url)) continue;
        try {
          if (await this.#pushTo(t, q, store, outputHash, built)) this.stats.pushed++;
        } catch (e) {
          if (e instanceof CacheUnavailable) this.#failed(t, e, warn, q, true);
          else {
            const why = (e as Error).message;
            warn(`cache: ${q.stage}@${q.board} (key ${q.key}): upload to ${t.url} failed: ${why}`);
          }
        }
      }
    });
    this.#pending.add(p);
    p.catch(() => {}).finally(() => this.#pending.delete(p));
  }

  /** A hit the store refused to commit: counted as a rejected miss. */
  refused(): void {
    this.stats.hits--;
    this.stats.misses++;
    this.stats.rejected++;
  }

  /** Wait for every upload. */
  async flush(): Promise<void> {
    while (this.#pending.size) await Promise.all(this.#pending);
  }

  /** Upload one result; false if the cache already had it. */
  async #pushTo(
    t: Transport,
    q: CacheQuery,
    store: Store,
    outputHash: string,
    built: boolean,
  ): Promise<boolean> {
    if (!built && await t.has("ac", q.key)) return false;
    const up = (n: number) => this.stats.bytesUp += n;
    const m = await store.manifest(outputHash);
    if (!m) throw new Error(`object ${outputHash} has no manifest in the store`);
    const dir = store.objectOut(outputHash);
    const mBlob = cacheManifest(dir, m);
    await uploadTree(t, dir, m, mBlob, up);
    let log: Digest | undefined;
    try {
      log = await putBlob(t, await Deno.readFile(store.logPath(q.key)), up);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    const record: CacheRecord = {
      key: q.key,
      stage: q.stage,
      board: q.board,
      outputHash,
      manifest: { hash: sha256(mBlob), size: mBlob.length },
      ...(log ? { log } : {}),
    };
    const recDigest = await putBlob(t, await signRecord(record, this.opts.signer!), up);
    const ar = actionResult(m.files, recDigest, record.manifest, log);
    const problem = actionResultProblem(ar);
    if (problem) throw new Error(`action result would be refused: ${problem}`);
    const bytes = encodeActionResult(ar);
    await t.put("ac", q.key, bytes);
    up(bytes.length);
    return true;
  }

  /** A cache failed: say so once, and skip it (or only stop uploading to it). */
  #failed(t: Transport, e: CacheUnavailable, warn: Warn, q: CacheQuery, upload = false): void {
    // An HTTP status on an upload (403, 405, 507): reads may still work.
    const readsToo = !(upload && e.status !== undefined);
    (readsToo ? this.#down : this.#noPush).add(t.url);
    if (readsToo) this.stats.unreachable[t.url] ??= e.message;
    const what = readsToo ? "unreachable" : "refused an upload";
    if (this.#said.has(`${what} ${t.url}`)) return;
    this.#said.add(`${what} ${t.url}`);
    const doing = upload ? "uploading" : "looking up";
    warn(
      `cache: ${t.url} ${what} (${doing} ${q.stage}@${q.board}: ${e.message}); ` +
        (readsToo ? "building without it" : "not uploading to it") + " for the rest of this build",
    );
  }
}

/** The action result that lists a result's blobs (what bazel-remote checks). */
function actionResult(
  files: ManifestEntry[],
  record: Digest,
  manifest: Digest,
  log?: Digest,
): ActionResult {
  return {
    outputFiles: [
      { path: RECORD_PATH, digest: record },
      { path: MANIFEST_PATH, digest: manifest },
      ...files.flatMap((f) =>
        f.type === "file"
          ? [{
            path: OUT_PREFIX + f.path,
            digest: { hash: f.sha256, size: f.size },
            isExecutable: (f.mode & 0o111) !== 0,
          }]
          : []
      ),
    ],
    outputSymlinks: files.flatMap((f) =>
      f.type === "symlink" ? [{ path: OUT_PREFIX + f.path, target: f.target }] : []
    ),
    exitCode: 0,
    ...(log ? { stdoutDigest: log } : {}),
  };
}

function parseActionResult(bytes: Uint8Array): ActionResult {
  try {
    return decodeActionResult(bytes);
  } catch (e) {
    throw new BadEntry(`action result: ${(e as Error).message}`);
  }
}
