/**
 * icenet-growfs: the partition-table rewrite on image files (MBR and GPT, checked by
 * sfdisk's own verifier). The online path (BLKPG and EXT4_IOC_RESIZE_FS on a mounted
 * data partition) needs a kernel with a partitioned disk: tests/e2e/boot_test.ts shows
 * it on a booted image (loop devices here do not scan partitions).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { buildInit, ROOT } from "./_harness.ts";

const GROWFS = join(ROOT, "init/build/icenet-growfs");
const MiB = 1024 * 1024;

async function withTmp(f: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "icenet-growfs-" });
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A disk image of `size` MiB with an 8 MiB and a 16 MiB partition. */
async function disk(file: string, label: "dos" | "gpt", sizeMiB: number) {
  await Deno.writeFile(file, new Uint8Array());
  await Deno.truncate(file, sizeMiB * MiB);
  await $`sfdisk -q ${file}`.stdinText(`label: ${label}\n,8M\n,16M\n`);
}

async function partitions(file: string): Promise<{ start: number; size: number }[]> {
  return JSON.parse(await $`sfdisk -J ${file}`.text()).partitiontable.partitions;
}

for (const label of ["dos", "gpt"] as const) {
  Deno.test(`growfs --table: the last ${label} partition grows to the end of the disk`, async () => {
    await buildInit();
    await withTmp(async (dir) => {
      const img = join(dir, "disk.img");
      await disk(img, label, 64);
      await Deno.truncate(img, 200 * MiB);
      const out = await $`${GROWFS} --table ${img} 2`.text();
      const [p1, p2] = await partitions(img);
      assert.equal(p1.size * 512, 8 * MiB, "the first partition is untouched");
      // MBR: to the last whole MiB; GPT: minus the backup table (33 sectors), aligned.
      const end = (p2.start + p2.size) * 512;
      assert.equal(end, label === "dos" ? 200 * MiB : 199 * MiB);
      assert.equal(out.trim(), `${p2.start * 512} ${p2.size * 512}`);
      // sfdisk's verifier: headers, CRCs, backup table, protective MBR.
      const v = await $`sfdisk -V ${img}`.stdout("piped").stderr("piped").noThrow();
      assert.equal(v.code, 0, v.stdout + v.stderr);
      assert.doesNotMatch(v.stderr, /mismatch|corrupt/i);
      // A second run finds nothing to do and writes nothing.
      const before = await Deno.readFile(img);
      await $`${GROWFS} --table ${img} 2`.quiet();
      assert.deepEqual(await Deno.readFile(img), before);
    });
  });
}

Deno.test("growfs --table refuses a partition that is not the last", async () => {
  await buildInit();
  await withTmp(async (dir) => {
    const img = join(dir, "disk.img");
    await disk(img, "dos", 64);
    await Deno.truncate(img, 128 * MiB);
    const before = await Deno.readFile(img);
    const r = await $`${GROWFS} --table ${img} 1`.stderr("piped").noThrow();
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not the last partition/);
    assert.deepEqual(await Deno.readFile(img), before, "nothing written");
  });
});
