/**
 * Stage "init": icenet-init (PID 1 and service supervisor, C sources in init/) linked
 * statically against the musl stage, for every board.
 *
 * Output:
 *   sbin/icenet-init   the static binary
 *   sbin/icenetctl     symlink to icenet-init (it acts by the name it is run as)
 *   sbin/icenet-growfs grows the data partition to fill the disk
 *   sbin/icenet-preinit early boot (/sbin/init): the overlay root, then icenet-init
 *   sbin/init          symlink to icenet-preinit
 *
 *   deno run -A tasks/init.ts --board rpi
 */
import { dirname, join } from "node:path";
import type { Board } from "../lib/board.ts";
import { runStandalone } from "../lib/cli.ts";
import { defineStage, type Stage, type StageContext } from "../lib/stage.ts";
import { toolchainEnv } from "../lib/toolchain.ts";

/** The sources of icenet-init, relative to the project root (the C tests stay out). */
export const INIT_INPUTS = ["init/Makefile", "init/src"];

/** The init stage for one board (host tools differ per architecture). */
export function initStage(board: Pick<Board, "cross">): Stage {
  return defineStage({
    name: "init",
    description: "static icenet-init, icenetctl and early boot",
    needs: ["musl"],
    inputs: INIT_INPUTS,
    // The musl wrapper runs Debian's gcc and binutils: their identity is part of the key.
    tools: ["make", `${board.cross}gcc`],
    boardFields: ["arch", "triple", "cross", "cflags"],
    run: buildInit,
  });
}

async function buildInit(ctx: StageContext): Promise<void> {
  const { board, $, out } = ctx;
  // Build a copy in the scratch dir: the source tree stays clean (and may be read-only).
  const src = join(ctx.tmp, "init");
  for (const [rel, abs] of Object.entries(ctx.inputs)) {
    const dst = join(ctx.tmp, rel);
    await Deno.mkdir(dirname(dst), { recursive: true });
    await Deno.copyFile(abs, dst);
  }
  const { CC } = toolchainEnv(ctx.deps.musl, board);
  // aarch64's linker pads segments to 64 KiB pages (132 KB instead of 100 KB); 16 KiB
  // still loads under 4K- and 16K-page kernels.
  const ldflags = board.arch === "aarch64" ? "-static -Wl,-z,max-page-size=16384" : "-static";
  // The Makefile maps its own directory to "." (-ffile-prefix-map) and strips (-s).
  await $`make -C ${src} ${`-j${ctx.jobs}`} ${`CC=${CC}`} ${`LDFLAGS=${ldflags}`} BUILD=build`
    .env(ctx.env);
  const binary = join(src, "build", "icenet-init");
  await Deno.mkdir(join(out, "sbin"));
  await Deno.copyFile(binary, join(out, "sbin", "icenet-init"));
  await Deno.chmod(join(out, "sbin", "icenet-init"), 0o755);
  await Deno.symlink("icenet-init", join(out, "sbin", "icenetctl"));
  for (const program of ["icenet-growfs", "icenet-preinit"]) {
    await Deno.copyFile(join(src, "build", program), join(out, "sbin", program));
    await Deno.chmod(join(out, "sbin", program), 0o755);
  }
  await Deno.symlink("icenet-preinit", join(out, "sbin", "init"));
  ctx.record("init_bytes", (await Deno.stat(binary)).size);
  ctx.record("growfs_bytes", (await Deno.stat(join(out, "sbin", "icenet-growfs"))).size);
  ctx.record("preinit_bytes", (await Deno.stat(join(out, "sbin", "icenet-preinit"))).size);
}

/** One init stage per board: the registry calls this with the board being built. */
export default function init(_root: string, board: Board): Stage[] {
  return [initStage(board)];
}

if (import.meta.main) await runStandalone({ name: "init" } as Stage);
