/**
 * `deno task bench rootfs`: size of each board's root squashfs, with the default
 * image and with the same image without ice-pkg's runtime (the Deno runtime is most
 * of it), and the same tree packed with other squashfs options. Builds through the
 * store, so a warm run only packs squashfs images.
 *
 *   bench: rootfs_size_zima <bytes> B
 *   bench: rootfs_size_zima_no_icepkg <bytes> B
 *   bench: rootfs_squashfs_zima_<variant> <bytes> B   the default root's tree repacked:
 *     zstd19_256k (what the rootfs stage uses), zstd22_1m, xz_256k, xz_1m, xz_1m_bcj (xz
 *     with the board's branch filter: x86, arm; none for aarch64 in squashfs-tools 4.5),
 *     stripped_zstd19_256k (every ELF file stripped with the board's strip first)
 *   bench: rootfs_unpack_zima_<variant> <s> s        unsquashfs of the whole tree on one
 *     processor: the cost of reading it (a boot reads only a part), not a boot figure
 *
 * and the size of each optional package (a recipe the default image leaves out; the
 * root's repository holds it):
 *
 *   bench: pkg_size_zima_curl <bytes> B
 */
import { join } from "node:path";
import $ from "dax";
import { type Board, loadBoard } from "../../lib/board.ts";
import { loadImageDef } from "../../lib/image_def.ts";
import { makeProgress } from "../../lib/progress.ts";
import { build } from "../../lib/runner.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { loadStages, ROOT } from "../../lib/registry.ts";
import { SOURCE_DATE_EPOCH } from "../../lib/stage_env.ts";
import {
  notBuiltFor,
  rootfsStage,
  squashfsArgs,
  withBoardPackages,
} from "../../lib/rootfs/stage.ts";

/** squashfs options to compare, by variant name (the first is the rootfs stage's). */
function variants(board: Board): [string, string[]][] {
  const bcj = { x86_64: "x86", armv7: "arm" }[board.arch as string];
  return [
    ["zstd19_256k", ["-comp", "zstd", "-Xcompression-level", "19", "-b", "256K"]],
    ["zstd22_1m", ["-comp", "zstd", "-Xcompression-level", "22", "-b", "1M"]],
    ["xz_256k", ["-comp", "xz", "-b", "256K"]],
    ["xz_1m", ["-comp", "xz", "-b", "1M"]],
    ...(bcj
      ? [["xz_1m_bcj", ["-comp", "xz", "-b", "1M", "-Xbcj", bcj]] as [string, string[]]]
      : []),
  ];
}

/** Pack `tree` with `opts` in place of the stage's compression; the image's size. */
async function pack(tree: string, out: string, opts: string[]): Promise<number> {
  const base = squashfsArgs(tree, out);
  const at = base.indexOf("-comp");
  const args = [...base.slice(0, at), ...opts, "-quiet", "-no-progress"];
  await $`mksquashfs ${args}`.env({ SOURCE_DATE_EPOCH }).quiet();
  return (await Deno.stat(out)).size;
}

/** Seconds to unpack `img` on one processor (its read cost). */
async function unpackSeconds(img: string, dir: string): Promise<number> {
  const t0 = performance.now();
  await $`unsquashfs -q -no-progress -p 1 -d ${dir} ${img}`.quiet();
  const s = (performance.now() - t0) / 1000;
  await Deno.remove(dir, { recursive: true });
  return s;
}

/** The root's tree packed with each variant's options: sizes and unpack times. */
async function compareOptions(board: Board, squashfs: string): Promise<void> {
  const tmp = await Deno.makeTempDir({ prefix: "icenet-bench-squashfs-" });
  try {
    const tree = join(tmp, "tree");
    await $`unsquashfs -q -no-progress -d ${tree} ${squashfs}`.quiet();
    for (const [name, opts] of variants(board)) {
      const img = join(tmp, `${name}.squashfs`);
      console.log(`bench: rootfs_squashfs_${board.name}_${name} ${await pack(tree, img, opts)} B`);
      const s = await unpackSeconds(img, join(tmp, "unpacked"));
      console.log(`bench: rootfs_unpack_${board.name}_${name} ${s.toFixed(2)} s`);
      await Deno.remove(img);
    }
    // Stripping: every ELF file, with the board's strip (Deno's binary comes stripped).
    const strip = `${board.cross}strip`;
    for (const f of (await $`find ${tree} -type f -perm -u+x`.text()).split("\n").filter(Boolean)) {
      const head = new Uint8Array(4);
      using file = await Deno.open(f);
      await file.read(head);
      if (new TextDecoder().decode(head) !== "\x7fELF") continue;
      await $`${strip} --strip-all ${f}`.quiet().noThrow();
    }
    const [name, opts] = variants(board)[0];
    const img = join(tmp, "stripped.squashfs");
    console.log(
      `bench: rootfs_squashfs_${board.name}_stripped_${name} ${await pack(tree, img, opts)} B`,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

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
        withBoardPackages(bare, "", board).def,
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
    const res = r.results.get("rootfs");
    if (res?.out) await compareOptions(board, join(res.out, "root.squashfs"));
  }
}

if (import.meta.main) await bench();
