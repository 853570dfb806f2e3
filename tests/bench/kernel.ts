/**
 * `deno task bench kernel`: per board, the compressed kernel size and the kernel's
 * build time (make of image + device trees, as recorded in the output's manifest
 * when it was built). Uses the store: a board whose kernel is not built yet is built
 * first (4-10 minutes on 2 cores).
 *   kernel_size_<board>   bzImage/zImage size, or gzip -9 of arm64's raw Image
 *   kernel_build_<board>  seconds of the build that produced the stored output
 */
import { boardNames, loadBoard } from "../../lib/board.ts";
import { defaultDownloadDir } from "../../lib/fetch/mod.ts";
import { SilentProgress } from "../../lib/progress.ts";
import { build } from "../../lib/runner.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { loadStages, ROOT } from "../../tasks/registry.ts";

export default async function bench(): Promise<void> {
  const store = new Store(defaultStoreDir());
  for (const name of boardNames(ROOT)) {
    const board = await loadBoard(ROOT, name);
    const r = await build({
      root: ROOT,
      board,
      stages: await loadStages(board, ROOT),
      targets: ["kernel"],
      store,
      downloadDir: defaultDownloadDir(store.dir),
      progress: new SilentProgress(),
      jobs: 2,
    });
    const k = r.results.get("kernel")!;
    const manifest = k.outputHash ? await store.manifest(k.outputHash) : undefined;
    if (!r.ok || !manifest) throw new Error(`kernel for ${name}: ${k.error} (log: ${k.log})`);
    const info = manifest.info as { kernel_compressed_bytes: number; build_seconds?: number };
    const seconds = info.build_seconds ?? manifest.timings.seconds;
    console.log(`bench: kernel_size_${name} ${info.kernel_compressed_bytes} B`);
    console.log(`bench: kernel_build_${name} ${seconds.toFixed(1)} s`);
  }
}

if (import.meta.main) await bench();
