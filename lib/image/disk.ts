/**
 * Assemble a disk image: the partition table, then each partition's filesystem image
 * copied to its offset. Runs of zeros are skipped, so the image stays sparse on disk
 * (its apparent size is the full card layout).
 *
 * ```ts
 * const plan = planDisk(board.partitions, board.name);
 * await writeDisk("icenet-zima.img", plan, { boot: "boot.vfat", root: "root.squashfs" });
 * ```
 */
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

/** Copy `src` into `disk` at `offset`, leaving all-zero chunks as holes. */
async function copyAt(src: string, disk: Deno.FsFile, offset: number): Promise<void> {
  using f = await Deno.open(src);
  const buf = new Uint8Array(CHUNK);
  let pos = 0;
  while (true) {
    let n = 0;
    while (n < CHUNK) {
      const r = await f.read(buf.subarray(n));
      if (r === null) break;
      n += r;
    }
    if (n === 0) break;
    const chunk = buf.subarray(0, n);
    if (!isZero(chunk)) {
      await disk.seek(offset + pos, Deno.SeekMode.Start);
      let w = 0;
      while (w < n) w += await disk.write(chunk.subarray(w));
    }
    pos += n;
    if (n < CHUNK) break;
  }
}

function isZero(b: Uint8Array): boolean {
  const words = new Uint32Array(b.buffer, b.byteOffset, b.length >> 2);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  for (let i = words.length * 4; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

/** Copy a disk image, keeping holes where the source is zero (the copy has its size). */
export async function copySparse(src: string, dest: string): Promise<void> {
  const size = (await Deno.stat(src)).size;
  using out = await Deno.open(dest, { write: true, create: true, truncate: true });
  await out.truncate(size);
  await copyAt(src, out, 0);
}
