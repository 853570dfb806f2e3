/**
 * `deno task bench flash` (root: loop devices): writing an image to a loop device, our
 * `deno task flash` beside Debian's `bmaptool copy` (same image, same bmap, same
 * device) and a plain `dd` of the whole image, each the median of 3 runs of the whole
 * command (process start included), every one synced to the backing disk.
 *   bench: flash_image_<img> <MiB> MiB          the image's size
 *   bench: flash_mapped_<img> <MiB> MiB         what a block map writes
 *   bench: flash_startup_<img> <s> s            flash --dry-run: start, map, checks, no write
 *   bench: flash_write_<img> <s> s              flash --no-verify
 *   bench: flash_write_rate_<img> <MB/s> MB/s   mapped bytes / that time
 *   bench: flash_verified_<img> <s> s           flash with its read-back
 *   bench: bmaptool_copy_<img> <s> s            bmaptool copy --bmap
 *   bench: bmaptool_copy_rate_<img> <MB/s> MB/s
 *   bench: dd_<img> <s> s                       dd bs=4M conv=fsync, every byte
 * <img> is `test` (an image the size of the rpi board's, made by the image writers:
 * 12 MiB of boot files, a 30 MiB squashfs, an empty data partition) and, for each
 * board whose image is already in the store, the board's name (none is built here).
 */
import { join } from "node:path";
import $ from "dax";
import { boardNames, loadBoard } from "../../lib/board.ts";
import { blockMap, bmapXml, mappedBytes } from "../../lib/image/bmap.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { makeTestImage } from "../flash/_image.ts";
import { attachLoop, backingFile } from "../flash/_loop.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const RUNS = 3;

async function timed(cmd: string[]): Promise<number> {
  const t0 = performance.now();
  const r = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "null", stderr: "piped" })
    .output();
  const s = (performance.now() - t0) / 1000;
  if (!r.success) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
  return s;
}

async function median(cmd: string[]): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < RUNS; i++) xs.push(await timed(cmd));
  return xs.sort((a, b) => a - b)[Math.floor(RUNS / 2)];
}

/** Benchmark one image; `tag` names it in the figures. */
async function benchImage(image: string, tag: string, tmp: string): Promise<void> {
  const size = (await Deno.stat(image)).size;
  const map = await blockMap(image);
  const mapped = mappedBytes(map);
  const bmap = join(tmp, `${tag}.bmap`);
  await Deno.writeTextFile(bmap, bmapXml(map));
  await using loop = await attachLoop(await backingFile(join(tmp, `${tag}.card`), size, "zero"));
  const flash = [Deno.execPath(), "run", "-A", join(ROOT, "bin/flash.ts"), "--image", image];
  const mib = (b: number) => (b / 1048576).toFixed(1);
  console.log(`bench: flash_image_${tag} ${mib(size)} MiB`);
  console.log(`bench: flash_mapped_${tag} ${mib(mapped)} MiB`);
  const startup = await median([...flash, "--dry-run", loop.dev]);
  console.log(`bench: flash_startup_${tag} ${startup.toFixed(2)} s`);
  const write = await median([...flash, "--yes", "--no-verify", loop.dev]);
  console.log(`bench: flash_write_${tag} ${write.toFixed(2)} s`);
  console.log(`bench: flash_write_rate_${tag} ${(mapped / 1e6 / write).toFixed(1)} MB/s`);
  const verified = await median([...flash, "--yes", loop.dev]);
  console.log(`bench: flash_verified_${tag} ${verified.toFixed(2)} s`);
  const bmaptool = await median(["bmaptool", "-q", "copy", "--bmap", bmap, image, loop.dev]);
  console.log(`bench: bmaptool_copy_${tag} ${bmaptool.toFixed(2)} s`);
  console.log(`bench: bmaptool_copy_rate_${tag} ${(mapped / 1e6 / bmaptool).toFixed(1)} MB/s`);
  const dd = await median(["dd", `if=${image}`, `of=${loop.dev}`, "bs=4M", "conv=fsync"]);
  console.log(`bench: dd_${tag} ${dd.toFixed(2)} s`);
}

/** The image of `board` if the store already has one (never built here). */
async function storedImage(board: string): Promise<string | undefined> {
  const store = new Store(defaultStoreDir());
  const rec = await store.latest("image", board);
  if (!rec) return undefined;
  const path = join(store.objectOut(rec.outputHash), `icenet-${board}.img`);
  try {
    await Deno.stat(path);
    return path;
  } catch {
    return undefined;
  }
}

export default async function bench(): Promise<void> {
  if (Deno.uid() !== 0) throw new Error("bench flash: needs root (loop devices)");
  const tmp = await Deno.makeTempDir({ prefix: "icenet-bench-flash-" });
  try {
    const rpi = await loadBoard(ROOT, "rpi");
    const { path } = await makeTestImage(tmp, {
      layout: rpi.partitions,
      bootMiB: 12,
      rootMiB: 30,
    });
    await benchImage(path, "test", tmp);
    for (const board of boardNames(ROOT)) {
      const image = await storedImage(board);
      if (image) await benchImage(image, board, tmp);
      else console.error(`bench flash: no ${board} image in the store; not building one`);
    }
  } finally {
    await $`rm -rf ${tmp}`;
  }
}

if (import.meta.main) await bench();
