/**
 * What the remote cache did in one build: hits, misses, bytes down and up, results
 * uploaded, caches found unreachable. Kept in the store as `cache-stats.json` when the
 * build ends (`deno task cache stats` prints it) and shown on the build's summary line.
 *
 * ```ts
 * formatStats(stats); // "cache: 12 hits, 0 misses, 41.2 MiB down, 0 B up"
 * ```
 */
import { join } from "node:path";
import { writeFileAtomic } from "../store.ts";

/** Counters of one build. */
export interface CacheStats {
  urls: string[];
  hits: number;
  misses: number;
  bytesDown: number;
  bytesUp: number;
  /** Stage results uploaded. */
  pushed: number;
  /** Caches that failed during the build (then skipped), with the first reason. */
  unreachable: Record<string, string>;
  /** Results refused as untrusted or damaged. */
  rejected: number;
  started: string;
  finished?: string;
}

/** Fresh counters. */
export function newStats(urls: string[]): CacheStats {
  return {
    urls,
    hits: 0,
    misses: 0,
    bytesDown: 0,
    bytesUp: 0,
    pushed: 0,
    unreachable: {},
    rejected: 0,
    started: new Date().toISOString(),
  };
}

/** A byte count for people. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/** One line: hits, misses, bytes down and up (and what else happened, if anything). */
export function formatStats(s: CacheStats): string {
  const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  let line = `cache: ${plural(s.hits, "hit", "hits")}, ${plural(s.misses, "miss", "misses")}, ` +
    `${formatBytes(s.bytesDown)} down, ${formatBytes(s.bytesUp)} up`;
  if (s.pushed) line += `, ${plural(s.pushed, "result", "results")} uploaded`;
  if (s.rejected) line += `, ${s.rejected} rejected`;
  const down = Object.keys(s.unreachable);
  if (down.length) line += `, unreachable: ${down.join(" ")}`;
  return line;
}

const FILE = "cache-stats.json";

/** Save the counters of the build that just ended in the store. */
export async function saveStats(storeDir: string, s: CacheStats): Promise<void> {
  await writeFileAtomic(
    join(storeDir, FILE),
    JSON.stringify({ ...s, finished: new Date().toISOString() }, null, 1),
    { sync: false },
  );
}

/** The counters of the last build that used a cache, if any. */
export function loadStats(storeDir: string): CacheStats | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(join(storeDir, FILE)));
  } catch {
    return undefined;
  }
}
