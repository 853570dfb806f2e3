/**
 * Block maps (bmap): which blocks of a sparse disk image hold data, with the sha256
 * of each mapped range, in the XML format 2.0 of Debian's bmap-tools (`bmaptool
 * copy` reads it; `bmaptool create` writes the same bytes for the same image). A
 * flasher writes only the mapped ranges; the rest of the card may keep whatever it
 * held, because no tool wrote there (lib/image/disk.ts keeps it so).
 *
 * ```ts
 * const map = await blockMap("icenet-rpi.img");
 * await Deno.writeTextFile("icenet-rpi.img.bmap", bmapXml(map));
 * parseBmap(await Deno.readTextFile("icenet-rpi.img.bmap"), "icenet-rpi.img.bmap");
 * ```
 */
import { createHash } from "node:crypto";
import { dataExtents, type Extent } from "./extents.ts";

/** The block size of our maps (bmaptool takes the image file system's, 4 KiB here). */
export const BMAP_BLOCK = 4096;

/** Mapped blocks first..last (inclusive), with the sha256 of their bytes. */
export interface BmapRange {
  first: number;
  last: number;
  /** sha256 (hex) of the range's bytes; empty while not yet computed. */
  sha256: string;
}

/** A block map of one image. */
export interface BlockMap {
  /** Image size in bytes (the last block may be partial). */
  imageSize: number;
  blockSize: number;
  ranges: BmapRange[];
}

/** Blocks in the image: ceil(imageSize / blockSize). */
export function blocksCount(map: BlockMap): number {
  return Math.ceil(map.imageSize / map.blockSize);
}

/** Mapped blocks. */
export function mappedBlocks(map: BlockMap): number {
  return map.ranges.reduce((n, r) => n + r.last - r.first + 1, 0);
}

/** The bytes [start, end) a range covers (the image's end cuts the last block). */
export function rangeBytes(map: BlockMap, r: BmapRange): Extent {
  return {
    start: r.first * map.blockSize,
    end: Math.min((r.last + 1) * map.blockSize, map.imageSize),
  };
}

/** Mapped bytes (what a flasher writes). */
export function mappedBytes(map: BlockMap): number {
  return map.ranges.reduce((n, r) => {
    const b = rangeBytes(map, r);
    return n + b.end - b.start;
  }, 0);
}

/** Block ranges covering `extents` (widened to whole blocks, touching ones merged). */
export function blockRanges(extents: Extent[], blockSize: number): BmapRange[] {
  const out: BmapRange[] = [];
  for (const e of extents) {
    if (e.end <= e.start) continue;
    const first = Math.floor(e.start / blockSize);
    const last = Math.ceil(e.end / blockSize) - 1;
    const prev = out[out.length - 1];
    if (prev && first <= prev.last + 1) prev.last = Math.max(prev.last, last);
    else out.push({ first, last, sha256: "" });
  }
  return out;
}

/** The block map of `image` from its holes, without checksums (cheap: no data read). */
export function blockMapOf(image: string, blockSize = BMAP_BLOCK): BlockMap {
  const imageSize = Deno.statSync(image).size;
  if (imageSize === 0) throw new Error(`${image}: empty image, nothing to map`);
  return { imageSize, blockSize, ranges: blockRanges(dataExtents(image), blockSize) };
}

/** The block map of `image` with the sha256 of every range (reads the mapped data). */
export async function blockMap(image: string, blockSize = BMAP_BLOCK): Promise<BlockMap> {
  const map = blockMapOf(image, blockSize);
  using f = await Deno.open(image);
  const buf = new Uint8Array(4 << 20);
  for (const r of map.ranges) {
    const h = createHash("sha256");
    const { start, end } = rangeBytes(map, r);
    await f.seek(start, Deno.SeekMode.Start);
    for (let pos = start; pos < end;) {
      const n = await f.read(buf.subarray(0, Math.min(buf.length, end - pos)));
      if (n === null) throw new Error(`${image}: ended at ${pos} while hashing it`);
      h.update(buf.subarray(0, n));
      pos += n;
    }
    r.sha256 = h.digest("hex");
  }
  return map;
}

/** bmaptool's human_size(): "128.0 MiB". */
export function humanSize(bytes: number): string {
  if (bytes === 1) return "1 byte";
  if (bytes < 512) return `${bytes} bytes`;
  let size = bytes;
  for (const unit of ["KiB", "MiB", "GiB", "TiB"]) {
    size /= 1024;
    if (size < 1024) return `${pyFixed1(size)} ${unit}`;
  }
  return `${pyFixed1(size)} EiB`;
}

/**
 * Python's "%.1f": the exact binary value correctly rounded, ties to even. toFixed
 * differs only on exact ties (x*4 odd: 12.25, 0.75), where it rounds up.
 */
function pyFixed1(x: number): string {
  const q = x * 4;
  if (!Number.isInteger(q) || q % 2 === 0) return x.toFixed(1);
  let tenths = Math.floor(x * 10);
  if (tenths % 2 === 1) tenths++;
  return `${Math.floor(tenths / 10)}.${tenths % 10}`;
}

/** Overwrite the start of `field` with `text`, as bmaptool patches its placeholders. */
function patch(field: string, text: string): string {
  return text + field.slice(text.length);
}

const HEADER_COMMENT = `<!-- This file contains the block map for an image file, which is basically
     a list of useful (mapped) block numbers in the image file. In other words,
     it lists only those blocks which contain data (boot sector, partition
     table, file-system metadata, files, directories, extents, etc). These
     blocks have to be copied to the target device. The other blocks do not
     contain any useful data and do not have to be copied to the target
     device.

     The block map an optimization which allows to copy or flash the image to
     the image quicker than copying of flashing the entire image. This is
     because with bmap less data is copied: <MappedBlocksCount> blocks instead
     of <BlocksCount> blocks.

     Besides the machine-readable data, this file contains useful commentaries
     which contain human-readable information like image size, percentage of
     mapped data, etc.

     The 'version' attribute is the block map file format version in the
     'major.minor' format. The version major number is increased whenever an
     incompatible block map format change is made. The minor number changes
     in case of minor backward-compatible changes. -->`;

/**
 * The bmap file of `map` (format 2.0, sha256), laid out as bmaptool 3.x writes it,
 * with its BmapFileChecksum: the sha256 of the file with that field all zeros.
 */
export function bmapXml(map: BlockMap): string {
  if (map.ranges.some((r) => !/^[0-9a-f]{64}$/.test(r.sha256))) {
    throw new Error("bmapXml: every range needs its sha256 (use blockMap())");
  }
  const blocks = blocksCount(map);
  const mapped = mappedBlocks(map);
  const imageHuman = humanSize(map.imageSize);
  const percent = pyFixed1((mapped * 100) / blocks);
  const countComment = patch(
    `${" ".repeat(imageHuman.length)} or ${" ".repeat("100.0%".length)}`,
    `${humanSize(mapped * map.blockSize)} or ${percent}%`,
  );
  const lines = [
    `<?xml version="1.0" ?>`,
    HEADER_COMMENT,
    ``,
    `<bmap version="2.0">`,
    `    <!-- Image size in bytes: ${imageHuman} -->`,
    `    <ImageSize> ${map.imageSize} </ImageSize>`,
    ``,
    `    <!-- Size of a block in bytes -->`,
    `    <BlockSize> ${map.blockSize} </BlockSize>`,
    ``,
    `    <!-- Count of blocks in the image file -->`,
    `    <BlocksCount> ${blocks} </BlocksCount>`,
    ``,
    `    <!-- Count of mapped blocks: ${countComment}   -->`,
    `    <MappedBlocksCount> ${
      patch(" ".repeat(String(blocks).length), String(mapped))
    } </MappedBlocksCount>`,
    ``,
    `    <!-- Type of checksum used in this file -->`,
    `    <ChecksumType> sha256 </ChecksumType>`,
    ``,
    `    <!-- The checksum of this bmap file. When it is calculated, the value of`,
    `         the checksum has be zero (all ASCII "0" symbols).  -->`,
    `    <BmapFileChecksum> ${"0".repeat(64)} </BmapFileChecksum>`,
    ``,
    `    <!-- The block map which consists of elements which may either be a`,
    `         range of blocks or a single block. The 'chksum' attribute`,
    `         (if present) is the checksum of this blocks range. -->`,
    `    <BlockMap>`,
    ...map.ranges.map((r) =>
      `        <Range chksum="${r.sha256}"> ${
        r.first === r.last ? r.first : `${r.first}-${r.last}`
      } </Range>`
    ),
    `    </BlockMap>`,
    `</bmap>`,
    ``,
  ];
  const text = lines.join("\n");
  const sum = createHash("sha256").update(text).digest("hex");
  return text.replace(`<BmapFileChecksum> ${"0".repeat(64)} `, `<BmapFileChecksum> ${sum} `);
}

/** The text of element `tag`, or an error naming the file and the element. */
function element(text: string, tag: string, where: string): string {
  const m = new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(text);
  if (!m) throw new Error(`${where}: <${tag}> is missing`);
  return m[1].trim();
}

function count(text: string, tag: string, where: string): number {
  const v = element(text, tag, where);
  if (!/^\d+$/.test(v)) throw new Error(`${where}: <${tag}> "${v}" is not a whole number`);
  return Number(v);
}

/**
 * Read a bmap file (format 1.4 or 2.x with sha256 checksums, as bmaptool writes and
 * reads them): checks the file's own checksum, the ranges' order and bounds, and the
 * mapped block count. Errors name `where` and the element.
 */
export function parseBmap(text: string, where: string): BlockMap {
  const version = /<bmap\s+version="(\d+)\.(\d+)"\s*>/.exec(text);
  if (!version) throw new Error(`${where}: no <bmap version="..."> element`);
  const [major, minor] = [Number(version[1]), Number(version[2])];
  if (!(major === 2 || (major === 1 && minor === 4))) {
    throw new Error(`${where}: bmap version ${major}.${minor} is not supported (2.x or 1.4)`);
  }
  const type = element(text, "ChecksumType", where);
  if (type !== "sha256") {
    throw new Error(`${where}: <ChecksumType> ${type}: only sha256 is supported`);
  }
  const sum = element(text, "BmapFileChecksum", where);
  if (!/^[0-9a-f]{64}$/.test(sum)) {
    throw new Error(`${where}: <BmapFileChecksum> "${sum}" is not a sha256`);
  }
  const zeroed = text.replace(sum, "0".repeat(64));
  const actual = createHash("sha256").update(zeroed).digest("hex");
  if (actual !== sum) {
    throw new Error(
      `${where}: <BmapFileChecksum> says ${sum} but the file hashes to ${actual}: damaged or edited`,
    );
  }
  const map: BlockMap = {
    imageSize: count(text, "ImageSize", where),
    blockSize: count(text, "BlockSize", where),
    ranges: [],
  };
  if (map.blockSize === 0) throw new Error(`${where}: <BlockSize> is 0`);
  const blocks = count(text, "BlocksCount", where);
  if (blocks !== blocksCount(map)) {
    throw new Error(
      `${where}: <BlocksCount> ${blocks} does not match <ImageSize> ${map.imageSize} ` +
        `in blocks of ${map.blockSize} (${blocksCount(map)})`,
    );
  }
  const body = /<BlockMap>([\s\S]*)<\/BlockMap>/.exec(text);
  if (!body) throw new Error(`${where}: <BlockMap> is missing`);
  for (const m of body[1].matchAll(/<Range([^>]*)>([^<]*)<\/Range>/g)) {
    const span = /^\s*(\d+)(?:-(\d+))?\s*$/.exec(m[2]);
    const chk = /chksum="([0-9a-f]{64})"/.exec(m[1]);
    if (!span) throw new Error(`${where}: <Range> "${m[2].trim()}" is not N or N-M`);
    if (!chk) throw new Error(`${where}: <Range> ${m[2].trim()} has no sha256 chksum`);
    const r = { first: Number(span[1]), last: Number(span[2] ?? span[1]), sha256: chk[1] };
    const prev = map.ranges[map.ranges.length - 1];
    if (r.last < r.first || r.last >= blocks || (prev && r.first <= prev.last)) {
      throw new Error(
        `${where}: <Range> ${m[2].trim()} is out of order or beyond block ${blocks - 1}`,
      );
    }
    map.ranges.push(r);
  }
  const mapped = count(text, "MappedBlocksCount", where);
  if (mapped !== mappedBlocks(map)) {
    throw new Error(
      `${where}: <MappedBlocksCount> ${mapped} but the ranges map ${mappedBlocks(map)} blocks`,
    );
  }
  return map;
}
