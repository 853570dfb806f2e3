/**
 * Stage "kernel-headers": the board's kernel tree's UAPI headers (`make headers_install`)
 * for the board's architecture, which musl's sysroot and busybox compile against.
 * Boards of one architecture share the output.
 *
 * Output:
 *   include/   linux/, asm/, asm-generic/, ... (no .install or ..install.cmd files)
 *
 *   deno run -A tasks/kernel-headers.ts --board rpi
 */
import { join } from "node:path";
import type { Board } from "../lib/board.ts";
import { runStandalone } from "../lib/cli.ts";
import { type KernelSource, kernelSource } from "../lib/kernel_source.ts";
import { defineStage, type Stage, type StageContext } from "../lib/stage.ts";

/** Kernel ARCH= for each of our architectures. */
export const KERNEL_ARCH: Record<Board["arch"], Board["kernel"]["arch"]> = {
  x86_64: "x86",
  aarch64: "arm64",
  armv7: "arm",
};

/**
 * The headers stage of one board. Only the architecture and the tree's sha256 enter
 * the key, so boards of one architecture and kernel share the output.
 */
export function headersStage(board: Board): Stage {
  const pin = kernelSource(board);
  return defineStage({
    name: "kernel-headers",
    description: `Linux ${pin.version} UAPI headers (make headers_install)`,
    // gcc builds the kernel's host helper (scripts/unifdef); the output is plain text.
    tools: ["make", "gcc", "tar", "xz"],
    sources: { linux: pin.source },
    boardFields: ["arch"],
    run: (ctx) => installHeaders(ctx, pin),
  });
}

async function installHeaders(ctx: StageContext, pin: KernelSource): Promise<void> {
  const { $, out } = ctx;
  // headers_install reads include/, arch/, scripts/, tools/include and the Makefiles: skip the
  // rest of the 1.3 GB tree.
  const skip = ["Documentation", "drivers", "sound", "fs", "net", "samples"]
    .map((d) => `--exclude=${pin.tree}/${d}`);
  await $`tar -xJf ${ctx.sources.linux} ${skip}`;
  const src = join(ctx.tmp, pin.tree);
  const arch = KERNEL_ARCH[ctx.board.arch];
  await $`make -s ARCH=${arch} INSTALL_HDR_PATH=${out} headers_install`.cwd(src);
  // Older trees leave install markers beside the headers; they are not headers.
  for await (const f of walk(join(out, "include"))) {
    if (/(^|\/)\.\.?install(\.cmd)?$/.test(f)) await Deno.remove(f);
  }
  ctx.record("kernel_version", pin.version);
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) yield* walk(p);
    else yield p;
  }
}

/** One headers stage per board: the registry calls this with the board being built. */
export default function kernelHeaders(_root: string, board: Board): Stage[] {
  return [headersStage(board)];
}

if (import.meta.main) await runStandalone({ name: "kernel-headers" } as Stage);
