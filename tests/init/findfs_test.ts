/**
 * Early boot's device lookup (`icenet-preinit --find`, init/src/findfs.c) on real disks:
 * an image file partitioned by sfdisk (MBR and GPT) on a loop device whose partitions
 * are added with partx (this host's kernel scans no tables itself), an ext4 file
 * system made by mkfs.ext4. The expected names come from blkid, util-linux's own.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { buildInit, ROOT } from "./_harness.ts";

const PREINIT = join(ROOT, "init/build/icenet-preinit");

async function find(spec: string): Promise<{ code: number; out: string }> {
  const r = await new Deno.Command(PREINIT, {
    args: ["--find", spec],
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: r.code, out: (dec.decode(r.stdout) + dec.decode(r.stderr)).trim() };
}

for (const label of ["dos", "gpt"] as const) {
  Deno.test(`findfs: a ${label} disk's data partition by LABEL=, UUID=, PARTUUID= and path`, async () => {
    await buildInit();
    const dir = await Deno.makeTempDir({ prefix: "icenet-findfs-" });
    const img = join(dir, "disk.img");
    let loop = "";
    try {
      await Deno.writeFile(img, new Uint8Array());
      await Deno.truncate(img, 48 * 1024 * 1024);
      await $`sfdisk -q ${img}`.stdinText(`label: ${label}\n,8M\n,16M\n`);
      loop = (await $`losetup -f --show ${img}`.text()).trim();
      // Added by partx unless the kernel did already (a kernel with partition parsers).
      await $`partx -a ${loop}`.noThrow().quiet();
      const part = `${loop}p2`;
      const label_ = `icenet-${label}`;
      await $`mkfs.ext4 -q -F -L ${label_} ${part}`;
      const blkid = async (tag: string) =>
        (await $`blkid -s ${tag} -o value ${part}`.text()).trim();
      const uuid = await blkid("UUID"), partuuid = await blkid("PARTUUID");
      assert.ok(uuid && partuuid, "blkid found no UUID/PARTUUID");

      assert.deepEqual(await find(`LABEL=${label_}`), { code: 0, out: part });
      assert.deepEqual(await find(`UUID=${uuid.toUpperCase()}`), { code: 0, out: part });
      assert.deepEqual(await find(`PARTUUID=${partuuid}`), { code: 0, out: part });
      // Partition 1 carries no file system: found by its PARTUUID only.
      const first = (await $`blkid -p -s PART_ENTRY_UUID -o value ${loop}p1`.text()).trim();
      assert.deepEqual(await find(`PARTUUID=${first}`), { code: 0, out: `${loop}p1` });
      assert.deepEqual(await find("/dev/whatever"), { code: 0, out: "/dev/whatever" });
      const none = await find(`LABEL=${label_}-not`);
      assert.equal(none.code, 1);
      assert.match(none.out, /no device is LABEL=icenet-\w+-not/);
      assert.equal((await find("PATH=/x")).code, 1);
    } finally {
      if (loop) {
        await $`partx -d ${loop}`.noThrow().quiet();
        await $`losetup -d ${loop}`.noThrow();
      }
      await Deno.remove(dir, { recursive: true });
    }
  });
}
