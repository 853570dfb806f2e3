/**
 * `deno task bench cache`: the remote build cache, against Debian's nginx (WebDAV PUT)
 * on loopback.
 *   cache_cold_build_<board>_<target>   a cold build in an empty store, uploading to an
 *                                       empty cache (--cache-push)
 *   cache_all_hits_<board>_<target>     the same build in another empty store, every
 *                                       stage fetched from the cache
 *   cache_speedup_<board>_<target>      the ratio of the two
 *   cache_bytes_<board>_<target>        what the all-hits build downloaded
 *   cache_miss_overhead_per_stage       the cost of a miss: 100 stages writing one file
 *                                       built with an empty cache vs without one
 * ICENET_BENCH_CACHE_TARGET (default `image`) and ICENET_BENCH_CACHE_BOARD (`zima`)
 * choose the build; `none` measures the miss overhead only. Cold, zima's image is a
 * full build (the kernel most of it: about 15 minutes on 2 idle cores); `busybox`
 * (kernel headers, musl, busybox) takes a few minutes.
 */
import { join } from "node:path";
import { loadBoard } from "../../lib/board.ts";
import type { RemoteCache } from "../../lib/cache/remote.ts";
import { defaultDownloadDir } from "../../lib/fetch/mod.ts";
import { SilentProgress } from "../../lib/progress.ts";
import { build } from "../../lib/runner.ts";
import { defineStage, type Stage } from "../../lib/stage.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { loadStages, ROOT } from "../../lib/registry.ts";
import { startNginx } from "../cache/_nginx.ts";
import { cacheWith, keyFiles } from "../cache/_setup.ts";
import { testProject } from "../foundation/_project.ts";

export default async function bench(): Promise<void> {
  const target = Deno.env.get("ICENET_BENCH_CACHE_TARGET") ?? "image";
  const board = Deno.env.get("ICENET_BENCH_CACHE_BOARD") ?? "zima";
  if (target !== "none") await coldVsHits(board, target);
  await missOverhead();
}

/** A cold build pushing to an empty cache, then an all-hits build from it. */
async function coldVsHits(boardName: string, target: string): Promise<void> {
  const work = await Deno.makeTempDir({ prefix: "icenet-bench-cache-" });
  const server = await startNginx();
  try {
    const k = await keyFiles(work, "bench");
    const b = await loadBoard(ROOT, boardName);
    const stages = await loadStages(b, ROOT);
    const run = async (store: string, cache: RemoteCache) => {
      const t0 = performance.now();
      const r = await build({
        root: ROOT,
        board: b,
        stages,
        targets: [target],
        store: new Store(store),
        downloadDir: defaultDownloadDir(defaultStoreDir()),
        progress: new SilentProgress(),
        cache,
      });
      const secs = (performance.now() - t0) / 1000;
      if (!r.ok) {
        const bad = [...r.results.values()].filter((x) => x.outcome === "failed");
        throw new Error(`build failed: ${bad.map((x) => `${x.name}: ${x.error}`).join("; ")}`);
      }
      return { secs, results: r.results };
    };
    const push = await cacheWith({
      ICENET_CACHE: server.url,
      ICENET_CACHE_PUSH: "1",
      ICENET_CACHE_SIGNING_KEY: k.priv,
    }, []);
    const cold = await run(join(work, "cold"), push!);
    const notBuilt = [...cold.results.values()].filter((r) => r.outcome !== "built");
    if (notBuilt.length) throw new Error(`cold build did not build ${notBuilt.map((r) => r.name)}`);
    const pull = await cacheWith({ ICENET_CACHE: server.url, ICENET_CACHE_KEYS: k.pub }, []);
    const hits = await run(join(work, "hits"), pull!);
    const missed = [...hits.results.values()].filter((r) => r.outcome !== "fetched");
    if (missed.length) {
      throw new Error(`not fetched: ${missed.map((r) => `${r.name} ${r.outcome}`)}`);
    }
    const id = `${boardName}_${target}`;
    console.log(`bench: cache_cold_build_${id} ${cold.secs.toFixed(1)} s`);
    console.log(`bench: cache_all_hits_${id} ${hits.secs.toFixed(2)} s`);
    console.log(`bench: cache_speedup_${id} ${(cold.secs / hits.secs).toFixed(1)} x`);
    console.log(`bench: cache_bytes_${id} ${pull!.stats.bytesDown} B`);
    console.log(`bench: cache_stages_${id} ${hits.results.size} stages`);
  } finally {
    await server.stop();
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
}

/** What a miss costs: 100 one-file stages with an empty cache vs without a cache. */
async function missOverhead(): Promise<void> {
  const n = 100;
  const server = await startNginx();
  const p = await testProject();
  try {
    const stages: Stage[] = Array.from({ length: n }, (_, i) =>
      defineStage({
        name: `s${i}`,
        needs: i ? [`s${i - 1}`] : [],
        params: { i },
        async run({ out }) {
          await Deno.writeTextFile(join(out, "o"), String(i));
        },
      }));
    const time = async (store: string, cache?: RemoteCache) => {
      const t0 = performance.now();
      const r = await build({
        root: p.root,
        board: p.board,
        stages,
        targets: [`s${n - 1}`],
        store: new Store(join(p.root, store)),
        progress: new SilentProgress(),
        cache,
      });
      if (!r.ok || cache && cache.stats.misses !== n) throw new Error("miss bench build failed");
      return performance.now() - t0;
    };
    const k = await keyFiles(p.root, "bench");
    const diffs: number[] = [];
    for (let round = 0; round < 5; round++) {
      const without = await time(`plain${round}`);
      const cache = await cacheWith({ ICENET_CACHE: server.url, ICENET_CACHE_KEYS: k.pub }, []);
      const withCache = await time(`cache${round}`, cache);
      diffs.push((withCache - without) / n);
    }
    diffs.sort((a, b) => a - b);
    console.log(`bench: cache_miss_overhead_per_stage ${diffs[2].toFixed(2)} ms`);
  } finally {
    await server.stop();
    await p.cleanup();
  }
}

if (import.meta.main) await bench();
