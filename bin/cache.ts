/**
 * `deno task cache stats [--json]`: what the remote build cache did in the last build
 * that used one (hits, misses, bytes down and up), from the store's cache-stats.json.
 * Set-up: README "Shared build cache".
 */
import { formatStats, loadStats } from "../lib/cache/stats.ts";
import { defaultStoreDir } from "../lib/store.ts";

const USAGE = "usage: deno task cache stats [--json]";

export function main(args: string[], storeDir = defaultStoreDir()): number {
  const [cmd, ...rest] = args;
  if (cmd !== "stats" || rest.some((a) => a !== "--json")) {
    console.error(USAGE);
    return 2;
  }
  const s = loadStats(storeDir);
  if (!s) {
    console.log(`cache: no build with a remote cache recorded in ${storeDir}`);
    return 0;
  }
  if (rest.includes("--json")) {
    console.log(JSON.stringify(s, null, 1));
    return 0;
  }
  console.log(`last build with a remote cache: ${s.started} .. ${s.finished ?? "?"}`);
  console.log(`caches: ${s.urls.join(", ")}`);
  console.log(`hits: ${s.hits}`);
  console.log(`misses: ${s.misses}`);
  console.log(`bytes down: ${s.bytesDown}`);
  console.log(`bytes up: ${s.bytesUp}`);
  console.log(`results uploaded: ${s.pushed}`);
  if (s.rejected) console.log(`results rejected (untrusted or damaged): ${s.rejected}`);
  for (const [url, why] of Object.entries(s.unreachable)) {
    console.log(`unreachable: ${url}: ${why}`);
  }
  console.log(formatStats(s));
  return 0;
}

if (import.meta.main) Deno.exit(main(Deno.args));
