/**
 * `deno task bench kernel`: per board, the compressed kernel size and the kernel's
 * build time (make of image + device trees, as recorded in the output's manifest
 * when it was built). Uses the store: a board whose kernel is not built yet is built
 * first (4-10 minutes on 2 cores).
 *   kernel_size_<board>   bzImage/zImage size, or gzip -9 of arm64's raw Image
 *   kernel_build_<board>  seconds of the build that produced the stored output
 * With ICENET_BENCH_LSM=apparmor,selinux (one more kernel build per LSM and board):
 *   kernel_size_<board>_<lsm>  the size with that LSM's fragment, and the cost in bytes
 * ICENET_BENCH_BOARDS limits the boards (default: all).
 */
import { boardNames, loadBoard } from "../../lib/board.ts";
import { defaultDownloadDir } from "../../lib/fetch/mod.ts";
import { SilentProgress } from "../../lib/progress.ts";
import { build } from "../../lib/runner.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { loadStages, ROOT } from "../../lib/registry.ts";
import { lsmFromEnv } from "../../tasks/kernel.ts";
import { stagesWithLsm } from "../e2e/_build.ts";
import type { Board } from "../../lib/board.ts";
import type { Stage } from "../../lib/stage.ts";

/** The compressed size of `board`'s kernel built from `stages`, and its build time. */
async function kernelFigures(board: Board, stages: Stage[], store: Store) {
  const r = await build({
    root: ROOT,
    board,
    stages,
    targets: ["kernel"],
    store,
    downloadDir: defaultDownloadDir(store.dir),
    progress: new SilentProgress(),
    jobs: 2,
  });
  const k = r.results.get("kernel")!;
  const manifest = k.outputHash ? await store.manifest(k.outputHash) : undefined;
  if (!r.ok || !manifest) throw new Error(`kernel for ${board.name}: ${k.error} (log: ${k.log})`);
  const info = manifest.info as { kernel_compressed_bytes: number; build_seconds?: number };
  return {
    bytes: info.kernel_compressed_bytes,
    seconds: info.build_seconds ?? manifest.timings.seconds,
  };
}

export default async function bench(): Promise<void> {
  const store = new Store(defaultStoreDir());
  const only = Deno.env.get("ICENET_BENCH_BOARDS")?.split(",");
  const lsms = lsmFromEnv(Deno.env.get("ICENET_BENCH_LSM") ?? "");
  for (const name of boardNames(ROOT).filter((n) => !only || only.includes(n))) {
    const board = await loadBoard(ROOT, name);
    const stages = await loadStages(board, ROOT);
    const base = await kernelFigures(board, stages, store);
    console.log(`bench: kernel_size_${name} ${base.bytes} B`);
    console.log(`bench: kernel_build_${name} ${base.seconds.toFixed(1)} s`);
    for (const lsm of lsms) {
      const f = await kernelFigures(board, await stagesWithLsm(board, [lsm]), store);
      console.log(`bench: kernel_size_${name}_${lsm} ${f.bytes} B (+${f.bytes - base.bytes} B)`);
    }
  }
}

if (import.meta.main) await bench();
