/**
 * Where a file's data lies in a squashfs image (byte range), for tests that damage one
 * file on purpose. The inode comes from squashfs-tools-ng's `rdsquashfs -s` (its data
 * blocks, or the fragment it is packed in); a fragment's place is read from the
 * image's fragment table (squashfs 4.0 layout; zstd-compressed metadata as IceNet's
 * roots have, or xz as they had).
 */
import $ from "dax";

/** A byte range of the image. */
export interface Extent {
  start: number;
  bytes: number;
  /** Set when the file is packed with others in a fragment block. */
  fragment?: number;
}

/** The bytes of `path` (a file in the image) on disk: its data blocks or its fragment. */
export async function fileExtent(img: string, path: string): Promise<Extent> {
  const stat = await $`rdsquashfs -s ${path} ${img}`.text();
  const field = (name: string) => {
    const m = new RegExp(`^${name}:\\s*(\\S+)`, "m").exec(stat);
    if (!m) throw new Error(`rdsquashfs -s ${path}: no "${name}" in:\n${stat}`);
    return m[1];
  };
  const fragment = Number(field("Fragment index"));
  const count = Number(field("Block count"));
  if (count > 0) {
    const sizes = [...stat.matchAll(/Block #\d+ size: (\d+)/g)].map((m) => Number(m[1]));
    return { start: Number(field("Blocks start")), bytes: sizes.reduce((a, b) => a + b, 0) };
  }
  if (fragment === 0xffffffff) throw new Error(`${path}: no data in ${img}`);
  return { ...await fragmentExtent(img, fragment), fragment };
}

/** Read `n` bytes at `at`. */
async function readAt(f: Deno.FsFile, at: number, n: number): Promise<Uint8Array> {
  const buf = new Uint8Array(n);
  await f.seek(at, Deno.SeekMode.Start);
  let got = 0;
  while (got < n) {
    const r = await f.read(buf.subarray(got));
    if (r === null) throw new Error(`short read at ${at + got}`);
    got += r;
  }
  return buf;
}

/** Decompressors by squashfs compressor id (superblock offset 20). */
const DECOMPRESS: Record<number, string> = { 4: "xz", 6: "zstd" };

/** One metadata block at `at`: its content (decompressed with `tool`). */
async function metadataBlock(f: Deno.FsFile, at: number, tool: string): Promise<Uint8Array> {
  const head = new DataView((await readAt(f, at, 2)).buffer).getUint16(0, true);
  const data = await readAt(f, at + 2, head & 0x7fff);
  if (head & 0x8000) return data; // stored uncompressed
  return await $`${tool} -dc`.stdin(data).bytes();
}

/** The place of fragment block `index`, from the superblock's fragment table. */
async function fragmentExtent(img: string, index: number): Promise<Extent> {
  const f = await Deno.open(img);
  try {
    const sb = new DataView((await readAt(f, 0, 96)).buffer);
    if (sb.getUint32(0, true) !== 0x73717368) throw new Error(`${img}: not a squashfs`);
    const tool = DECOMPRESS[sb.getUint16(20, true)];
    if (!tool) throw new Error(`${img}: compressor ${sb.getUint16(20, true)}: not xz or zstd`);
    const count = sb.getUint32(16, true);
    if (index >= count) throw new Error(`${img}: fragment ${index} of ${count}`);
    const table = Number(sb.getBigUint64(80, true));
    // 512 entries of 16 bytes per 8 KiB metadata block; the table lists the blocks.
    const ptrs = new DataView((await readAt(f, table + Math.floor(index / 512) * 8, 8)).buffer);
    const block = await metadataBlock(f, Number(ptrs.getBigUint64(0, true)), tool);
    const e = new DataView(block.buffer, block.byteOffset + (index % 512) * 16, 16);
    return { start: Number(e.getBigUint64(0, true)), bytes: e.getUint32(8, true) & 0xffffff };
  } finally {
    f.close();
  }
}
