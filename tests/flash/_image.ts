// Small disk images for the flash and release tests and the flash benchmark, made by the
// image stage's own writers (sfdisk, mkfs.fat + mtools, mksquashfs, mkfs.ext4): a FAT
// boot partition with files, a squashfs root, an empty ext4 data partition. File
// contents are pseudo-random (incompressible, as a kernel or a squashfs is), from a
// fixed seed, so two calls with the same options give the same image.
import { join } from "node:path";
import $ from "dax";
import { makeExt4 } from "../../lib/image/ext4.ts";
import { makeFat } from "../../lib/image/fat.ts";
import { writeDisk } from "../../lib/image/disk.ts";
import { type DiskPlan, type PartitionSpec, planDisk } from "../../lib/image/layout.ts";
import { squashfsArgs } from "../../lib/rootfs/stage.ts";

const EPOCH = 1735689600;

/** A partition layout as in boards/*.yaml. */
export interface Layout {
  table: "mbr" | "gpt";
  list: PartitionSpec[];
}

/** boot 16M (FAT), root 8M (squashfs), data 8M (ext4): a 33 MiB MBR disk. */
export const SMALL_MBR: Layout = {
  table: "mbr",
  list: [
    { name: "boot", size: "16M", fs: "vfat", type: "0c" },
    { name: "root", size: "8M", fs: "squashfs", type: "83" },
    { name: "data", size: "8M", fs: "ext4", type: "83" },
  ],
};

/** The same on GPT (34 MiB: the backup table takes the last MiB). */
export const SMALL_GPT: Layout = {
  table: "gpt",
  list: [
    { name: "boot", size: "16M", fs: "vfat", type: "esp" },
    { name: "root", size: "8M", fs: "squashfs", type: "linux" },
    { name: "data", size: "8M", fs: "ext4", type: "linux" },
  ],
};

/** Pseudo-random bytes (xorshift32) from `seed`. */
export function noise(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  const words = new Uint32Array(out.buffer, 0, bytes >> 2);
  let x = seed | 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return out;
}

/** What the test image holds: MiB of files on boot and on root. */
export interface TestImageOptions {
  layout?: Layout;
  bootMiB?: number;
  rootMiB?: number;
  seed?: string;
}

/** Write the image to `<dir>/test.img`; returns its path and layout. */
export async function makeTestImage(
  dir: string,
  opts: TestImageOptions = {},
): Promise<{ path: string; plan: DiskPlan }> {
  const layout = opts.layout ?? SMALL_MBR;
  const plan = planDisk(layout, opts.seed ?? "flash-test");
  const work = await Deno.makeTempDir({ dir, prefix: "parts-" });
  const images: Record<string, string> = {};
  for (const p of plan.partitions) {
    const file = join(work, `${p.name}.${p.fs}`);
    const tree = join(work, p.name);
    await Deno.mkdir(join(tree, "sub"), { recursive: true });
    if (p.fs === "vfat") {
      await Deno.writeTextFile(join(tree, "config.txt"), "enable_uart=1\n");
      await Deno.writeFile(join(tree, "kernel.img"), noise((opts.bootMiB ?? 3) << 20, 1));
      await Deno.writeFile(join(tree, "sub", "b.dtb"), noise(20000, 2));
      await makeFat(file, {
        bytes: p.bytes,
        label: "BOOT",
        volumeId: p.fsUuid.slice(0, 8),
        dir: tree,
        epoch: EPOCH,
      });
    } else if (p.fs === "squashfs") {
      await Deno.writeTextFile(join(tree, "hostname"), "icenet\n");
      await Deno.writeFile(join(tree, "sub", "lib.so"), noise((opts.rootMiB ?? 2) << 20, 3));
      await $`mksquashfs ${squashfsArgs(tree, file)}`.env({
        SOURCE_DATE_EPOCH: String(EPOCH),
      }).quiet();
    } else {
      await makeExt4(file, { bytes: p.bytes, label: p.name, uuid: p.fsUuid, epoch: EPOCH });
    }
    images[p.name] = file;
  }
  const path = join(dir, "test.img");
  await writeDisk(path, plan, images);
  await Deno.remove(work, { recursive: true });
  return { path, plan };
}
