/**
 * Assemble a disk image: the partition table, then each partition's filesystem image
 * copied to its offset. Only the data extents of each filesystem image are copied, and
 * all of their bytes, zeros included: the disk image's holes are exactly the ranges no
 * tool wrote (mkfs.fat's free clusters, mke2fs's free blocks, partition gaps and
 * tails). That is what a block map (lib/image/bmap.ts, bmaptool) may skip when
 * flashing, so a zero a tool wrote on purpose (a FAT's free entries, a GPT's empty
 * slots) is never turned into a hole that a card's old contents would fill.
 *
 * ```ts
 * const plan = planDisk(board.partitions, board.name);
 * await writeDisk("icenet-zima.img", plan, { boot: "boot.vfat", root: "root.squashfs" });
 * ```
 */
import { dataExtents } from "./extents.ts";
import type { DiskPlan } from "./layout.ts";
import { writePartitionTable } from "./partition_table.ts";

const CHUNK = 1 << 20;

/** Write `plan` to `file` with the filesystem image of each named partition. */
export async function writeDisk(
  file: string,
  plan: DiskPlan,
  images: Record<string, string>,
): Promise<void> {
  for (const name of Object.keys(images)) {
    if (!plan.partitions.some((p) => p.name === name)) {
      throw new Error(`image for partition "${name}", which the layout does not have`);
    }
  }
  await writePartitionTable(file, plan);
  using disk = await Deno.open(file, { write: true });
  for (const p of plan.partitions) {
    const src = images[p.name];
    if (!src) continue;
    const size = (await Deno.stat(src)).size;
    if (size > p.bytes) {
      throw new Error(
        `${src}: ${size} bytes do not fit partition "${p.name}" (${p.size} = ${p.bytes} bytes); ` +
          `raise its size in the board's partitions`,
      );
    }
    await copyAt(src, disk, p.start);
  }
}

/** Copy the data extents of `src` into `disk` at `offset`; its holes stay holes. */
async function copyAt(src: string, disk: Deno.FsFile, offset: number): Promise<void> {
  using f = await Deno.open(src);
  const buf = new Uint8Array(CHUNK);
  for (const { start, end } of dataExtents(src)) {
    for (let pos = start; pos < end;) {
      const chunk = buf.subarray(0, Math.min(CHUNK, end - pos));
      await f.seek(pos, Deno.SeekMode.Start);
      for (let n = 0; n < chunk.length;) {
        const r = await f.read(chunk.subarray(n));
        if (r === null) throw new Error(`${src}: ended at ${pos + n} while copying it`);
        n += r;
      }
      await disk.seek(offset + pos, Deno.SeekMode.Start);
      for (let w = 0; w < chunk.length;) w += await disk.write(chunk.subarray(w));
      pos += chunk.length;
    }
  }
}

/** Copy a disk image, keeping its holes (the copy has its size). */
export async function copySparse(src: string, dest: string): Promise<void> {
  const size = (await Deno.stat(src)).size;
  using out = await Deno.open(dest, { write: true, create: true, truncate: true });
  await out.truncate(size);
  await copyAt(src, out, 0);
}
