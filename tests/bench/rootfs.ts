/**
 * `deno task bench rootfs`: size of each board's root squashfs, with the default
 * image and with the same image without ice-pkg's runtime (the Deno runtime is most
 * of it). Builds through the store, so a warm run only packs squashfs images.
 *
 *   bench: rootfs_size_zima <bytes> B
 *   bench: rootfs_size_zima_no_icepkg <bytes> B
 *
 * and the size of each optional package (a recipe the default image leaves out; the
 * root's repository holds it):
 *
 *   bench: pkg_size_zima_curl <bytes> B
 */
import { join } from "node:path";
import { loadBoard } from "../../lib/board.ts";
import { loadImageDef } from "../../lib/image_def.ts";
import { makeProgress } from "../../lib/progress.ts";
import { build } from "../../lib/runner.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { loadStages, ROOT } from "../../lib/registry.ts";
import { notBuiltFor, rootfsStage } from "../../lib/rootfs/stage.ts";

/** Print the rootfs sizes of every board (a board that fails to build is reported). */
export default async function bench(): Promise<void> {
  const file = join(ROOT, "images", "default.yaml");
  const def = await loadImageDef(file);
  const bare = { ...def, packages: def.packages.filter((p) => p !== "ice-pkg") };
  const store = new Store(defaultStoreDir());
  // ICENET_BENCH_BOARDS=zima limits the boards (a cold board builds its toolchain first).
  const boards = (Deno.env.get("ICENET_BENCH_BOARDS") ?? "zima,rpi,rpi32").split(",");
  for (const name of boards) {
    const board = await loadBoard(ROOT, name);
    const stages = [
      ...(await loadStages(board, ROOT)),
      rootfsStage(
        bare,
        "images/default.yaml without ice-pkg",
        await notBuiltFor(ROOT, board),
        "rootfs-no-icepkg",
      ),
    ];
    const r = await build({
      root: ROOT,
      board,
      stages,
      targets: ["rootfs", "rootfs-no-icepkg"],
      store,
      progress: makeProgress(true),
    });
    for (const [stage, suffix] of [["rootfs", ""], ["rootfs-no-icepkg", "_no_icepkg"]]) {
      const res = r.results.get(stage);
      if (!res?.out) {
        const failed = [...r.results.values()].find((x) => x.outcome === "failed");
        console.error(`rootfs ${name}: not built (${failed?.name}: ${failed?.error})`);
        continue;
      }
      const size = (await Deno.stat(join(res.out, "root.squashfs"))).size;
      console.log(`bench: rootfs_size_${name}${suffix} ${size} B`);
    }
    for (const [stage, res] of [...r.results].sort(([a], [b]) => a < b ? -1 : 1)) {
      const pkg = stage.replace(/^pkg:/, "");
      if (pkg === stage || def.packages.includes(pkg) || !res.out) continue;
      for (const e of Deno.readDirSync(res.out)) {
        if (!e.name.endsWith(".ice")) continue;
        const size = (await Deno.stat(join(res.out, e.name))).size;
        console.log(`bench: pkg_size_${name}_${pkg} ${size} B`);
      }
    }
  }
}

if (import.meta.main) await bench();
