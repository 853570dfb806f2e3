/**
 * Stage "update": icenet-update (C sources in update/), the device's A/B updater,
 * linked statically against the musl stage for every board, with the few files of
 * libsodium that verify Ed25519 signatures and hash SHA-256.
 *
 * Output:
 *   sbin/icenet-update   the static binary
 *
 *   deno run -A tasks/update.ts --board rpi32
 */
import { dirname, join } from "node:path";
import type { Board } from "../lib/board.ts";
import { runStandalone } from "../lib/cli.ts";
import type { Source } from "../lib/fetch/source.ts";
import { defineStage, type Stage, type StageContext } from "../lib/stage.ts";
import { toolchainEnv } from "../lib/toolchain.ts";

/**
 * libsodium 1.0.18 as Debian 12 ships it (the orig tarball: upstream's tagged tree;
 * Debian's deb12u1 patch touches crypto_core_ed25519_is_valid_point, which signature
 * verification does not call).
 */
export const LIBSODIUM_SOURCE: Source = {
  url: "debian:pool/main/libs/libsodium/libsodium_1.0.18.orig.tar.gz",
  filename: "libsodium_1.0.18.orig.tar.gz",
  sha256: "d59323c6b712a1519a5daf710b68f5e7fde57040845ffec53850911f10a5d4f4",
  debian: {
    source: "libsodium",
    version: "1.0.18-1+deb12u1",
    file: "libsodium_1.0.18.orig.tar.gz",
  },
};

/** The sources of icenet-update, relative to the project root (the C tests stay out). */
export const UPDATE_INPUTS = ["update/Makefile", "update/src"];

/** The update stage for one board (host tools differ per architecture). */
export function updateStage(board: Pick<Board, "cross">): Stage {
  return defineStage({
    name: "update",
    description: "static icenet-update (A/B updater)",
    needs: ["musl"],
    inputs: UPDATE_INPUTS,
    sources: { libsodium: LIBSODIUM_SOURCE },
    tools: ["make", "tar", "gzip", `${board.cross}gcc`],
    boardFields: ["arch", "triple", "cross", "cflags"],
    run: buildUpdate,
  });
}

async function buildUpdate(ctx: StageContext): Promise<void> {
  const { board, $, out } = ctx;
  for (const [rel, abs] of Object.entries(ctx.inputs)) {
    const dst = join(ctx.tmp, rel);
    await Deno.mkdir(dirname(dst), { recursive: true });
    await Deno.copyFile(abs, dst);
  }
  await $`tar -xzf ${ctx.sources.libsodium}`.cwd(ctx.tmp);
  const { CC } = toolchainEnv(ctx.deps.musl, board);
  // As for icenet-init: 16 KiB segment alignment on aarch64 (see tasks/init.ts).
  const ldflags = board.arch === "aarch64" ? "-static -Wl,-z,max-page-size=16384" : "-static";
  const src = join(ctx.tmp, "update");
  await $`make -C ${src} ${`-j${ctx.jobs}`} ${`CC=${CC}`} ${`LDFLAGS=${ldflags}`} ${`SODIUM=${
    join(ctx.tmp, "libsodium-1.0.18")
  }`} BUILD=build`.env(ctx.env);
  await Deno.mkdir(join(out, "sbin"));
  const binary = join(out, "sbin", "icenet-update");
  await Deno.copyFile(join(src, "build", "icenet-update"), binary);
  await Deno.chmod(binary, 0o755);
  ctx.record("update_bytes", (await Deno.stat(binary)).size);
}

/** One update stage per board: the registry calls this with the board being built. */
export default function update(_root: string, board: Board): Stage[] {
  return [updateStage(board)];
}

if (import.meta.main) await runStandalone({ name: "update" } as Stage);
