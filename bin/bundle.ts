/**
 * `deno task bundle <board> [--version V] [--serial N] [--out DIR]`
 *
 * Writes the signed update bundle of a board's current build,
 * `DIR/icenet-<board>-<version>.icenet-bundle` (default DIR out/bundle/<board>), from
 * the kernel, rootfs and image stages (built through the store; the image stage makes
 * the signed UKIs of systemd-boot boards), signed with
 * the update key (ICENET_UPDATE_KEY, else a development key: lib/update/key.ts).
 * Format: lib/update/bundle.ts. The version defaults to the root's VERSION_ID
 * (/etc/os-release, what `icenetctl boot` shows); the serial is what the device's
 * not-older check compares: give each release a larger one (default $ICENET_SERIAL,
 * else 0).
 */
import { join } from "node:path";
import { loadBoard } from "../lib/board.ts";
import { EXIT } from "../lib/cli.ts";
import { parseBoardArgs } from "./_args.ts";
import { planImage } from "../lib/image/plan.ts";
import { buildStage } from "../lib/qemu/build_image.ts";
import { ROOT } from "../lib/registry.ts";
import { rootVersion, writeBundle } from "../lib/update/bundle.ts";
import { updateKey } from "../lib/update/key.ts";
import { slotPayloads } from "../lib/update/slot.ts";

const USAGE = "usage: deno task bundle <board> [--version V] [--serial N] [--out DIR]";

/** Run `bundle`; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function main(args: string[]): Promise<number> {
  const parsed = parseBoardArgs("bundle", USAGE, args, ["version", "serial", "out"]);
  if (!parsed) return EXIT.usage;
  const { values: v, board: boardName } = parsed;
  const serialText = v.serial ?? Deno.env.get("ICENET_SERIAL") ?? "0";
  if (!/^\d+$/.test(serialText)) {
    console.error(`bundle: --serial ${serialText}: not a whole number`);
    return 2;
  }
  const board = await loadBoard(ROOT, boardName);
  const kernel = await buildStage(ROOT, board, "kernel");
  const rootfs = await buildStage(ROOT, board, "rootfs");
  // Signed UKIs (systemd-boot) are made by the image stage: a bundle carries its copies.
  const image = await buildStage(ROOT, board, "image");
  const version = v.version ?? await rootVersion(join(rootfs, "root.squashfs")) ?? "dev";
  const key = await updateKey();
  const tmp = await Deno.makeTempDir({ prefix: "icenet-bundle-" });
  try {
    const payloads = await slotPayloads(
      board,
      planImage(board).disk,
      { kernel, rootfs, image },
      tmp,
    );
    const out = v.out ?? join(ROOT, "out", "bundle", board.name);
    await Deno.mkdir(out, { recursive: true });
    const b = await writeBundle(
      join(out, `icenet-${board.name}-${version}.icenet-bundle`),
      {
        board: board.name,
        version,
        serial: Number(serialText),
        kernel: board.boot.kernelName,
        payloads,
      },
      key.privateFile,
    );
    console.log(`${b.path}  ${b.bytes} B  sha256 ${b.sha256}`);
    console.log(
      `signed with update key ${key.keyId}; the device trusts it in /etc/icenet/update.pub:`,
    );
    console.log(`  ${key.publicLine.trim()}`);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`bundle: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
