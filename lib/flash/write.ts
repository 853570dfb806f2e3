/**
 * Writing an image's mapped ranges to a device, and reading them back. The image is
 * read ahead one chunk while the previous one is written; each range's sha256 is taken
 * from the bytes written (and checked against the block map's, when it has them), so
 * the read-back compares the device with exactly what was sent to it. The device is
 * synced every `syncEvery` bytes, as bmaptool does, so the progress shown is what
 * reached the card and a Ctrl-C does not wait minutes for the page cache to drain.
 *
 * ```ts
 * const map = blockMapOf("icenet-rpi.img");
 * const w = await writeImage("icenet-rpi.img", dev, map, (done) => bar.update(done));
 * const bad = await verifyImage(dev, map, w.sha256);
 * ```
 */
import { createHash, type Hash } from "node:crypto";
import { type BlockMap, type BmapRange, rangeBytes } from "../image/bmap.ts";
import type { FlashDevice } from "./device.ts";

const CHUNK = 4 << 20;

/** What was written. */
export interface WriteResult {
  bytes: number;
  seconds: number;
  /** sha256 of each range's bytes as written, in the map's order. */
  sha256: string[];
}

/** A range that read back different from what was written. */
export interface Mismatch {
  range: BmapRange;
  offset: number;
  bytes: number;
  wrote: string;
  readBack: string;
}

interface Chunk {
  range: number;
  pos: number;
  len: number;
}

function chunksOf(map: BlockMap): Chunk[] {
  const out: Chunk[] = [];
  map.ranges.forEach((r, i) => {
    const { start, end } = rangeBytes(map, r);
    for (let pos = start; pos < end; pos += CHUNK) {
      out.push({ range: i, pos, len: Math.min(CHUNK, end - pos) });
    }
  });
  return out;
}

/**
 * Call `use` on every chunk of `map` read by `read`, reading the next chunk while
 * `use` works on the current one.
 */
async function eachChunk(
  map: BlockMap,
  read: (buf: Uint8Array, pos: number) => Promise<void>,
  use: (c: Chunk, data: Uint8Array) => Promise<void>,
): Promise<void> {
  const chunks = chunksOf(map);
  const bufs = [new Uint8Array(CHUNK), new Uint8Array(CHUNK)];
  const load = (i: number) => {
    const data = bufs[i % 2].subarray(0, chunks[i].len);
    return read(data, chunks[i].pos).then(() => data);
  };
  let next = chunks.length ? load(0) : undefined;
  for (let i = 0; i < chunks.length; i++) {
    const data = await next!;
    next = i + 1 < chunks.length ? load(i + 1) : undefined;
    await use(chunks[i], data);
  }
}

/** Write the mapped ranges of `image` to `dev`; `onBytes` gets the running total. */
export async function writeImage(
  image: string,
  dev: FlashDevice,
  map: BlockMap,
  onBytes: (done: number) => void = () => {},
  syncEvery = 32 << 20,
): Promise<WriteResult> {
  const size = (await Deno.stat(image)).size;
  if (size !== map.imageSize) {
    throw new Error(
      `${image}: ${size} bytes, but its block map describes an image of ${map.imageSize}`,
    );
  }
  using src = await Deno.open(image);
  const readSrc = async (buf: Uint8Array, pos: number) => {
    await src.seek(pos, Deno.SeekMode.Start);
    for (let n = 0; n < buf.length;) {
      const r = await src.read(buf.subarray(n));
      if (r === null) throw new Error(`${image}: ended at byte ${pos + n}`);
      n += r;
    }
  };
  const t0 = performance.now();
  const sums: string[] = [];
  let hash: Hash | undefined;
  let done = 0, unsynced = 0;
  await eachChunk(map, readSrc, async (c, data) => {
    hash ??= createHash("sha256");
    hash.update(data);
    await dev.writeAt(data, c.pos);
    done += data.length;
    unsynced += data.length;
    if (unsynced >= syncEvery) {
      await dev.flush();
      unsynced = 0;
    }
    onBytes(done);
    const r = map.ranges[c.range];
    if (c.pos + c.len === rangeBytes(map, r).end) {
      const sum = hash.digest("hex");
      hash = undefined;
      if (r.sha256 && r.sha256 !== sum) {
        throw new Error(
          `${image}: blocks ${r.first}-${r.last} hash to ${sum}, but the block map says ` +
            `${r.sha256}: the image is not the one the map was made for ` +
            `(${dev.path} now holds part of it)`,
        );
      }
      sums.push(sum);
    }
  });
  await dev.flush();
  return { bytes: done, seconds: (performance.now() - t0) / 1000, sha256: sums };
}

/**
 * Read the mapped ranges back from `dev` (after dropping its cache: flush()) and
 * compare each with `sha256`; returns the ranges that differ.
 */
export async function verifyImage(
  dev: FlashDevice,
  map: BlockMap,
  sha256: string[],
  onBytes: (done: number) => void = () => {},
): Promise<Mismatch[]> {
  await dev.flush();
  const bad: Mismatch[] = [];
  let hash: Hash | undefined;
  let done = 0;
  await eachChunk(map, (buf, pos) => dev.readAt(buf, pos), (c, data) => {
    hash ??= createHash("sha256");
    hash.update(data);
    done += data.length;
    onBytes(done);
    const r = map.ranges[c.range];
    const { start, end } = rangeBytes(map, r);
    if (c.pos + c.len === end) {
      const got = hash.digest("hex");
      hash = undefined;
      if (got !== sha256[c.range]) {
        bad.push({
          range: r,
          offset: start,
          bytes: end - start,
          wrote: sha256[c.range],
          readBack: got,
        });
      }
    }
    return Promise.resolve();
  });
  return bad;
}
