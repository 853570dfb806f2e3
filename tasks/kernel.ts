/**
 * Stage "kernel": the board's Linux kernel (its `kernel.source`, default the 6.1 LTS of
 * lib/kernel_source.ts) and device trees, configured from
 * kernel/base.config + the board's fragment (+ opt-in LSM fragments) on top of
 * tinyconfig, with every requested option checked after olddefconfig. No modules.
 *
 * Output:
 *   <board.boot.kernelName>   vmlinuz (bzImage), kernel8.img (Image), kernel7.img (zImage)
 *   dtbs/<name>.dtb           the board's device trees (flat, by file name)
 *   config                    the final .config
 *   kernel.json               version, release, sizes (image, compressed image, dtbs)
 *   bin/gen_init_cpio         the tree's initramfs packer, built for the build host
 *                             (`gen_init_cpio -t 0 list` packs a reproducible newc cpio)
 *
 *   deno run -A tasks/kernel.ts --board rpi
 *   ICENET_KERNEL_LSM=apparmor deno run -A tasks/kernel.ts --board zima
 */
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import type { Board } from "../lib/board.ts";
import { runStandalone } from "../lib/cli.ts";
import { configureKernel } from "../lib/kernel_config.ts";
import { type KernelSource, kernelSource } from "../lib/kernel_source.ts";
import { applyPatches, listPatches } from "../lib/patches.ts";
import { defineStage, type Stage, type StageContext } from "../lib/stage.ts";

/** Linux security modules with an opt-in fragment `kernel/lsm-<name>.config`. */
export const LSMS = ["apparmor", "selinux"] as const;
export type Lsm = typeof LSMS[number];

/** Patches applied in name order (`kernel/patches/0001-subject.patch`), if any. */
const PATCH_DIR = "kernel/patches";

/**
 * The kernel stage of one board, with the given LSMs built in. `test` adds fragments
 * that no image uses (kernel/test-*.config, e.g. simulated Wi-Fi radios) under another
 * stage name, so a test kernel never stands in for the board's own.
 */
export function kernelStage(
  board: Board,
  lsm: Lsm[] = [],
  root = ROOT,
  test: { name: string; fragments: string[] } = { name: "kernel", fragments: [] },
): Stage {
  const fragments = [
    "kernel/base.config",
    board.kernel.fragment,
    ...lsm.map((l) => `kernel/lsm-${l}.config`),
    ...test.fragments,
  ];
  const patches = listPatches(root, PATCH_DIR);
  const pin = kernelSource(board);
  return defineStage({
    name: test.name,
    description: `Linux ${pin.version} ${board.kernel.target} + device trees`,
    inputs: [...fragments, ...patches],
    // gcc builds the host helpers (kconfig, dtc, objtool); xz packs bzImage/zImage.
    tools: [
      ...new Set(["make", "gcc", `${board.cross}gcc`, "bc", "bison", "flex", "tar", "xz"]),
      ...(patches.length ? ["patch"] : []),
    ],
    sources: { linux: pin.source },
    // The kernel's file name on the boot partition names the output file.
    params: { lsm: [...lsm], kernelName: board.boot.kernelName },
    // Not the partitions, the boot files, the QEMU section or the userland flags:
    // changing those must not rebuild a kernel.
    boardFields: ["arch", "cross", "kernel"],
    run: (ctx) => buildKernel(ctx, pin, fragments, patches),
  });
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));

async function buildKernel(
  ctx: StageContext,
  pin: KernelSource,
  fragments: string[],
  patches: string[],
) {
  const { board, $, out } = ctx;
  const k = board.kernel;
  await $`tar -xJf ${ctx.sources.linux}`;
  const tree = join(ctx.tmp, pin.tree);
  await applyPatches(ctx, tree, patches);
  // The build number (#1 in `uname -v`) would count up in a reused tree: pin it.
  const vars = [`ARCH=${k.arch}`, `KBUILD_BUILD_VERSION=1`];
  if (board.cross) vars.push(`CROSS_COMPILE=${board.cross}`);
  const make = async (targets: string[]) => {
    await $`make ${vars} ${targets}`.cwd(tree);
  };

  const config = await configureKernel({
    tree,
    fragments: fragments.map((f) => [f, ctx.inputs[f]]),
    make,
  });
  const t0 = performance.now();
  await make([`-j${ctx.jobs}`, k.target, ...k.dtbs]);
  ctx.record("build_seconds", Math.round((performance.now() - t0) / 100) / 10);

  const image = await Deno.readFile(join(tree, k.image));
  const kernelName = String(ctx.params.kernelName);
  await Deno.writeFile(join(out, kernelName), image);
  await Deno.writeTextFile(join(out, "config"), config);
  // Names for the addresses a kernel without kallsyms logs (the boot chart's initcalls).
  await Deno.copyFile(join(tree, "System.map"), join(out, "System.map"));
  await Deno.mkdir(join(out, "bin"));
  await Deno.copyFile(join(tree, "usr/gen_init_cpio"), join(out, "bin/gen_init_cpio"));
  await Deno.mkdir(join(out, "dtbs"));
  const dtbs: Record<string, number> = {};
  for (const d of k.dtbs) {
    const name = basename(d);
    await Deno.copyFile(join(tree, "arch", k.arch, "boot", "dts", d), join(out, "dtbs", name));
    dtbs[name] = (await Deno.stat(join(out, "dtbs", name))).size;
  }
  // bzImage and zImage carry their own compression; arm64's Image is raw, so the
  // compressed figure is what gzip -9 makes of it (Image.gz).
  const selfCompressed = k.target !== "Image";
  const compressed = selfCompressed ? image.length : gzipSync(image, { level: 9 }).length;
  const release = (await Deno.readTextFile(join(tree, "include/config/kernel.release"))).trim();
  const facts = {
    version: pin.version,
    debianVersion: pin.source.debian?.version,
    release,
    arch: k.arch,
    image: kernelName,
    imageBytes: image.length,
    compressedBytes: compressed,
    dtbs,
    lsm: ctx.params.lsm,
  };
  await Deno.writeTextFile(join(out, "kernel.json"), JSON.stringify(facts, null, 2) + "\n");
  ctx.record("kernel_bytes", image.length);
  ctx.record("kernel_compressed_bytes", compressed);
  ctx.record("release", release);
}

/**
 * The LSMs to build in: ICENET_KERNEL_LSM (comma-separated, e.g. "apparmor"). They
 * enter the stage's key as its `lsm` parameter.
 */
export function lsmFromEnv(value = Deno.env.get("ICENET_KERNEL_LSM") ?? ""): Lsm[] {
  const names = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const n of names) {
    if (!(LSMS as readonly string[]).includes(n)) {
      throw new Error(`ICENET_KERNEL_LSM: unknown LSM "${n}" (have: ${LSMS.join(", ")})`);
    }
  }
  return [...new Set(names as Lsm[])].sort();
}

/** One kernel stage per board: the registry calls this with the board being built. */
export default function kernel(root: string, board: Board): Stage[] {
  return [kernelStage(board, lsmFromEnv(), root)];
}

if (import.meta.main) await runStandalone({ name: "kernel" } as Stage);
