/**
 * `deno task flash <board> <device> [--image FILE] [--bmap FILE] [--yes] [--force]
 *                  [--file] [--dry-run] [--no-verify]`
 *
 * Writes the board's image (built through the store, or --image) to a card or disk:
 * only the blocks that hold data (the image's block map: its holes, or --bmap), with a
 * progress bar, then reads them back and compares their sha256. Refuses, naming the
 * reason and the flag that overrides it: a target that is not a block device (--file
 * writes into a regular file), a partition, the disk the running system is on, a
 * device in use (mounted, swap, device mapper; the kernel's exclusive open must
 * succeed) — these yield to --force — and a read-only device or one smaller than the
 * image, which nothing overrides. Asks on the terminal before writing unless --yes;
 * without a terminal and without --yes it refuses instead of waiting.
 *
 * Exit codes: 0 written and verified, 1 failed (I/O error, read-back differs),
 * 2 usage, 3 refused or cancelled (nothing written).
 */
import { parseArgs } from "node:util";
import { loadBoard } from "../lib/board.ts";
import { type BlockMap, blockMapOf, mappedBytes, parseBmap } from "../lib/image/bmap.ts";
import { confirm } from "../lib/flash/confirm.ts";
import { DeviceBusyError, openDevice } from "../lib/flash/device.ts";
import { readHost } from "../lib/flash/host.ts";
import { byteProgress } from "../lib/flash/progress.ts";
import { inspectTarget, refusals, type Target } from "../lib/flash/target.ts";
import { verifyImage, writeImage } from "../lib/flash/write.ts";
import { buildImage } from "../lib/qemu/build_image.ts";
import { ROOT } from "../lib/registry.ts";

/** Exit codes of `deno task flash`. */
export const FLASH_EXIT = { ok: 0, failed: 1, usage: 2, refused: 3 } as const;

const USAGE = `usage: deno task flash <board> <device> [--yes] [--force] [--dry-run] [--no-verify]
       deno task flash [<board>] <device> --image FILE [--bmap FILE] [--file] ...`;

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

function describe(t: Target): string {
  if (t.kind !== "block" || !t.device) return `${t.path} (a regular file)`;
  const d = t.device;
  return `${t.path} (${[d.model, mib(d.bytes)].filter(Boolean).join(", ")})`;
}

/** Magic numbers of compressed files, which must not be written raw to a card. */
const COMPRESSED: [string, number[]][] = [
  ["xz", [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ["gzip", [0x1f, 0x8b]],
  ["zstd", [0x28, 0xb5, 0x2f, 0xfd]],
];

async function readMap(image: string, bmap?: string): Promise<BlockMap> {
  const size = (await Deno.stat(image)).size;
  const head = new Uint8Array(6);
  {
    using f = await Deno.open(image);
    await f.read(head);
  }
  const packed = COMPRESSED.find(([, magic]) => magic.every((b, i) => head[i] === b));
  if (packed) {
    throw new Error(
      `${image}: is ${packed[0]}-compressed; unpack it first (the release's .bmap fits the ` +
        `unpacked image), or use bmaptool copy, which unpacks as it writes`,
    );
  }
  const map = bmap ? parseBmap(await Deno.readTextFile(bmap), bmap) : blockMapOf(image);
  if (map.imageSize !== size) {
    throw new Error(`${bmap}: <ImageSize> ${map.imageSize}, but ${image} has ${size} bytes`);
  }
  return map;
}

/** Run `flash`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        image: { type: "string" },
        bmap: { type: "string" },
        yes: { type: "boolean", short: "y" },
        force: { type: "boolean" },
        file: { type: "boolean" },
        "dry-run": { type: "boolean", short: "n" },
        "no-verify": { type: "boolean" },
      },
    });
  } catch (e) {
    console.error(`flash: ${(e as Error).message}\n${USAGE}`);
    return FLASH_EXIT.usage;
  }
  const { values: v, positionals: pos } = parsed;
  if (!(pos.length === 2 || (pos.length === 1 && v.image))) {
    console.error(USAGE);
    return FLASH_EXIT.usage;
  }
  const device = pos[pos.length - 1];
  const image = v.image ?? await buildImage(ROOT, await loadBoard(ROOT, pos[0]));
  const map = await readMap(image, v.bmap);
  const mapped = mappedBytes(map);
  const target = inspectTarget(device, readHost());
  const refused = refusals(target, map.imageSize, {
    force: Boolean(v.force),
    file: Boolean(v.file),
  });
  for (const r of refused) console.error(`flash: refused: ${r.message}`);
  if (refused.length) return FLASH_EXIT.refused;

  console.error(
    `flash: ${image}: ${mib(map.imageSize)} image, ${mib(mapped)} of data in ` +
      `${map.ranges.length} ranges\nflash: to ${describe(target)}`,
  );
  if (v["dry-run"]) {
    console.log(`flash: dry run: would write ${mapped} bytes to ${device}; nothing written`);
    return FLASH_EXIT.ok;
  }
  if (!v.yes) {
    if (!Deno.stdin.isTerminal()) {
      console.error(
        `flash: refused: ${device}: no terminal to ask on; pass --yes to write without asking`,
      );
      return FLASH_EXIT.refused;
    }
    if (!(await confirm(`flash: everything on ${device} will be lost. Write the image?`))) {
      console.error(`flash: cancelled; nothing written to ${device}`);
      return FLASH_EXIT.refused;
    }
  }

  let dev;
  try {
    dev = openDevice(target, { exclusive: !v.force, imageBytes: map.imageSize });
  } catch (e) {
    if (!(e instanceof DeviceBusyError)) throw e;
    console.error(`flash: refused: ${e.message}`);
    return FLASH_EXIT.refused;
  }
  using _ = dev;
  const wbar = byteProgress("write", mapped);
  const w = await writeImage(image, dev, map, (n) => wbar.update(n));
  wbar.end();
  let verified = "not verified (--no-verify)";
  if (!v["no-verify"]) {
    const vbar = byteProgress("verify", mapped);
    const bad = await verifyImage(dev, map, w.sha256, (n) => vbar.update(n));
    vbar.end();
    for (const b of bad) {
      console.error(
        `flash: ${device}: blocks ${b.range.first}-${b.range.last} (${b.bytes} bytes at ` +
          `${b.offset}) read back as ${b.readBack}, written as ${b.wrote}`,
      );
    }
    if (bad.length) {
      console.error(
        `flash: ${device}: ${bad.length} range(s) read back wrong: a failing or fake card?`,
      );
      return FLASH_EXIT.failed;
    }
    verified = "read back and verified";
  }
  console.log(
    `flash: wrote ${w.bytes} bytes to ${device} in ${w.seconds.toFixed(2)} s ` +
      `(${(w.bytes / 1e6 / w.seconds).toFixed(1)} MB/s), ${verified}`,
  );
  return FLASH_EXIT.ok;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`flash: ${(e as Error).message}`);
    Deno.exit(FLASH_EXIT.failed);
  }
}
