// The holes of our images are exactly what a block-map flasher may skip: ranges no tool
// wrote. dataExtents() reads them; writeDisk() keeps a partition image's holes and
// copies its zeros; mke2fs writes the tables it zeroes; a FAT's holes are free clusters.
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { writeDisk } from "../../lib/image/disk.ts";
import { dataExtents, type Extent } from "../../lib/image/extents.ts";
import { makeExt4 } from "../../lib/image/ext4.ts";
import { makeFat } from "../../lib/image/fat.ts";
import { planDisk } from "../../lib/image/layout.ts";
import { noise } from "../flash/_image.ts";

const KiB = 1024, MiB = 1024 * KiB;

/** Write `parts` ([offset, bytes | "hole"]) into a new file of `size`. */
async function sparseFile(path: string, size: number, parts: [number, Uint8Array][]) {
  using f = await Deno.open(path, { write: true, create: true, truncate: true });
  await f.truncate(size);
  for (const [at, data] of parts) {
    await f.seek(at, Deno.SeekMode.Start);
    for (let w = 0; w < data.length;) w += await f.write(data.subarray(w));
  }
}

/** The holes of `file` (the complement of its data extents). */
function holes(file: string): Extent[] {
  const size = Deno.statSync(file).size;
  const out: Extent[] = [];
  let pos = 0;
  for (const e of dataExtents(file)) {
    if (e.start > pos) out.push({ start: pos, end: e.start });
    pos = e.end;
  }
  if (pos < size) out.push({ start: pos, end: size });
  return out;
}

Deno.test("dataExtents() finds where a sparse file has data", async (t) => {
  const tmp = await Deno.makeTempDir();
  const rows: [string, number, [number, Uint8Array][], Extent[]][] = [
    ["all hole", 1 * MiB, [], []],
    ["data at both ends", 1 * MiB, [[0, noise(4 * KiB, 1)], [MiB - 4 * KiB, noise(4 * KiB, 2)]], [
      { start: 0, end: 4 * KiB },
      { start: MiB - 4 * KiB, end: MiB },
    ]],
    ["written zeros are data", 2 * MiB, [[MiB, new Uint8Array(64 * KiB)]], [
      { start: MiB, end: MiB + 64 * KiB },
    ]],
    ["a partial last block", 10000, [[8192, noise(1808, 3)]], [{ start: 8192, end: 10000 }]],
  ];
  for (const [name, size, parts, want] of rows) {
    await t.step(name, async () => {
      const f = join(tmp, "f");
      await sparseFile(f, size, parts);
      assert.deepEqual(dataExtents(f), want);
    });
  }
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("writeDisk() keeps a partition image's holes and copies its zeros", async () => {
  const tmp = await Deno.makeTempDir();
  const plan = planDisk({
    table: "mbr",
    list: [{ name: "data", size: "8M", fs: "ext4", type: "83" }],
  }, "holes");
  // data 64K, zeros written on purpose up to 1M+64K, hole to 3M, data 4K, hole to the end.
  const src = join(tmp, "part.img");
  await sparseFile(src, 6 * MiB, [
    [0, noise(64 * KiB, 4)],
    [64 * KiB, new Uint8Array(MiB)],
    [3 * MiB, noise(4 * KiB, 5)],
  ]);
  const img = join(tmp, "disk.img");
  await writeDisk(img, plan, { data: src });
  const at = plan.partitions[0].start;
  const inPart = dataExtents(img).filter((e) => e.start >= at)
    .map((e) => ({ start: e.start - at, end: e.end - at }));
  // An all-zero 1 MiB run would have become a hole with a zero-skipping copy.
  assert.deepEqual(inPart, [
    { start: 0, end: MiB + 64 * KiB },
    { start: 3 * MiB, end: 3 * MiB + 4 * KiB },
  ]);
  await Deno.remove(tmp, { recursive: true });
});

/** Free block ranges of an ext4 file system, from dumpe2fs. */
async function ext4FreeBlocks(file: string): Promise<[number, number][]> {
  const out: [number, number][] = [];
  for (
    const m of (await $`dumpe2fs ${file}`.stderr("null").text()).matchAll(
      /^\s+Free blocks: (.*)$/gm,
    )
  ) {
    for (const r of m[1].split(",").map((s) => s.trim()).filter(Boolean)) {
      const [a, b] = r.split("-").map(Number);
      out.push([a, b ?? a]);
    }
  }
  return out;
}

Deno.test("makeExt4(): every hole is a free block (inode tables and journal are written)", async () => {
  const tmp = await Deno.makeTempDir();
  const file = join(tmp, "data.ext4");
  await makeExt4(file, {
    bytes: 32 * MiB,
    label: "data",
    uuid: "6a1e1a0e-0c1d-4b7e-9a51-5e1f0e6d1a2b",
    epoch: 1700000000,
  });
  const free = await ext4FreeBlocks(file);
  const hs = holes(file);
  assert.ok(hs.length > 0, "an empty file system is sparse");
  for (const h of hs) {
    const [first, last] = [h.start / 4096, Math.ceil(h.end / 4096) - 1];
    assert.ok(
      free.some(([a, b]) => a <= first && last <= b),
      `hole at blocks ${first}-${last} is not within the free blocks ${JSON.stringify(free)}`,
    );
  }
  // The journal (4 MiB here) and the inode tables are data.
  const mapped = dataExtents(file).reduce((n, e) => n + e.end - e.start, 0);
  assert.ok(mapped > 4 * MiB && mapped < 6 * MiB, `mapped ${mapped} bytes`);
  await $`e2fsck -fn ${file}`.quiet();
  await Deno.remove(tmp, { recursive: true });
});

/** Where a FAT's data area starts, its cluster size, and which clusters are free. */
function fatLayout(b: Uint8Array) {
  const v = new DataView(b.buffer, b.byteOffset);
  const bps = v.getUint16(11, true), spc = b[13], reserved = v.getUint16(14, true);
  const fats = b[16], rootEntries = v.getUint16(17, true);
  const fat16 = v.getUint16(22, true);
  const fatSectors = fat16 || v.getUint32(36, true);
  const fatStart = reserved * bps;
  const rootBytes = Math.ceil((rootEntries * 32) / bps) * bps;
  const dataStart = fatStart + fats * fatSectors * bps;
  const clusterBytes = spc * bps;
  const entry = (k: number) =>
    fat16 ? v.getUint16(fatStart + 2 * k, true) : v.getUint32(fatStart + 4 * k, true) & 0x0fffffff;
  return { dataStart: dataStart + rootBytes, clusterBytes, entry };
}

Deno.test("makeFat(): every hole is a free cluster of the data area", async () => {
  const tmp = await Deno.makeTempDir();
  await Deno.mkdir(join(tmp, "dir/sub"), { recursive: true });
  await Deno.writeFile(join(tmp, "dir/kernel.img"), noise(3 * MiB, 6));
  await Deno.writeTextFile(join(tmp, "dir/sub/cmdline.txt"), "console=ttyS0\n");
  const file = join(tmp, "boot.vfat");
  await makeFat(file, {
    bytes: 64 * MiB,
    label: "BOOT",
    volumeId: "1a2b3c4d",
    dir: join(tmp, "dir"),
    epoch: 1700000000,
  });
  const fat = fatLayout(await Deno.readFile(file));
  const hs = holes(file);
  assert.ok(hs.length > 0, "the free space is a hole");
  for (const h of hs) {
    assert.ok(
      h.start >= fat.dataStart,
      `hole at ${h.start} before the data area (${fat.dataStart})`,
    );
    const first = Math.floor((h.start - fat.dataStart) / fat.clusterBytes) + 2;
    const last = Math.ceil((h.end - fat.dataStart) / fat.clusterBytes) + 1;
    for (let k = first; k <= last; k++) {
      // A cluster only partly in the hole must be free too (it is not all written).
      if (fat.dataStart + (k - 2) * fat.clusterBytes >= Deno.statSync(file).size) break;
      assert.equal(fat.entry(k), 0, `cluster ${k} in a hole is in use`);
    }
  }
  await $`fsck.fat -n ${file}`.quiet();
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("writeDisk() of a FAT32 with 2.3 MiB FATs: the disk image's holes are free clusters", async () => {
  // 300 MiB in 512-byte clusters: each FAT is mostly free entries (zeros) over several MiB,
  // which a copy that skips all-zero MiBs turned into holes (a card's old bytes in the FAT).
  const tmp = await Deno.makeTempDir();
  const part = join(tmp, "boot.vfat");
  await $`mkfs.fat -C -F 32 -s 1 -i 1a2b3c4d ${part} ${300 * 1024}`.quiet();
  await Deno.writeFile(join(tmp, "kernel.img"), noise(2 * MiB, 7));
  await $`mcopy -i ${part} ${join(tmp, "kernel.img")} ::/kernel.img`.env({
    MTOOLS_SKIP_CHECK: "1",
  });
  const plan = planDisk({
    table: "mbr",
    list: [{ name: "boot", size: "300M", fs: "vfat", type: "0c" }],
  }, "fat32");
  const img = join(tmp, "disk.img");
  await writeDisk(img, plan, { boot: part });
  const at = plan.partitions[0].start;
  const bytes = new Uint8Array(plan.partitions[0].bytes);
  {
    using f = await Deno.open(img);
    await f.seek(at, Deno.SeekMode.Start);
    for (let n = 0; n < bytes.length;) n += (await f.read(bytes.subarray(n)))!;
  }
  const fat = fatLayout(bytes);
  assert.ok(fat.dataStart > 4 * MiB, `FATs end at ${fat.dataStart}`);
  for (const h of holes(img).filter((h) => h.end > at && h.start < at + bytes.length)) {
    const start = Math.max(h.start, at) - at;
    assert.ok(
      start >= fat.dataStart,
      `hole at ${start} inside the FATs (data at ${fat.dataStart})`,
    );
    const first = Math.ceil((start - fat.dataStart) / fat.clusterBytes) + 2;
    assert.equal(fat.entry(first), 0, `cluster ${first} in a hole is in use`);
  }
  await Deno.remove(tmp, { recursive: true });
});
