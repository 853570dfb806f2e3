// Image writers against the real tools (sfdisk, mkfs.fat, mtools, mke2fs, debugfs,
// e2fsck, dpkg-deb): layouts are as declared and two runs give the same bytes.
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { sha256File } from "../../lib/hash.ts";
import { parseSize, planDisk, stableUuid } from "../../lib/image/layout.ts";
import { sfdiskType, writePartitionTable } from "../../lib/image/partition_table.ts";
import { fatCopyOut, fatList, makeFat } from "../../lib/image/fat.ts";
import { makeExt4 } from "../../lib/image/ext4.ts";
import { writeDisk } from "../../lib/image/disk.ts";
import { extractDeb } from "../../lib/image/deb.ts";

const EPOCH = 1700000000;
const GPT = {
  table: "gpt" as const,
  list: [
    { name: "boot", size: "16M", fs: "vfat" as const, type: "esp" },
    { name: "root", size: "8M", fs: "squashfs" as const, type: "linux" },
    { name: "data", size: "8M", fs: "ext4" as const, type: "linux" },
  ],
};
const MBR = {
  ...GPT,
  table: "mbr" as const,
  list: GPT.list.map((p, i) => ({ ...p, type: ["0c", "83", "83"][i] })),
};

async function tree(dir: string, files: Record<string, string>) {
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), text);
  }
}

Deno.test("writePartitionTable() writes the planned layout, the same bytes every run", async (t) => {
  const tmp = await Deno.makeTempDir();
  for (const spec of [GPT, MBR]) {
    await t.step(spec.table, async () => {
      const plan = planDisk(spec, "test-board");
      const a = join(tmp, `${spec.table}-a.img`), b = join(tmp, `${spec.table}-b.img`);
      await writePartitionTable(a, plan);
      await writePartitionTable(b, plan);
      assert.equal(await sha256File(a), await sha256File(b));
      const dump = JSON.parse(await $`sfdisk -J ${a}`.text()).partitiontable;
      assert.equal(dump.label, spec.table === "mbr" ? "dos" : "gpt");
      assert.deepEqual(
        dump.partitions.map((p: { start: number; size: number }) => [p.start, p.size]),
        [[2048, 32768], [34816, 16384], [51200, 16384]],
      );
      if (spec.table === "gpt") {
        assert.equal(dump.id, plan.labelId.toUpperCase());
        assert.equal(dump.partitions[1].uuid, plan.partitions[1].uuid.toUpperCase());
        assert.equal(dump.partitions[0].type, "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
        assert.equal(dump.partitions[2].name, "data");
        assert.equal((await Deno.stat(a)).size, (2048 + 32768 + 16384 * 2 + 2048) * 512);
      } else {
        assert.equal(dump.id, plan.labelId);
        assert.deepEqual(dump.partitions.map((p: { type: string }) => p.type), ["c", "83", "83"]);
      }
    });
  }
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("planDisk() gives stable, distinct identifiers and rejects bad layouts", async (t) => {
  await t.step("stable per seed", () => {
    assert.deepEqual(planDisk(GPT, "zima"), planDisk(GPT, "zima"));
    assert.notEqual(planDisk(GPT, "zima").labelId, planDisk(GPT, "rpi").labelId);
    assert.match(
      stableUuid("a", "b"),
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
  const bad: [string, () => unknown, RegExp][] = [
    ["size", () => parseSize("12X"), /size "12X": expected a number and K, M or G/],
    [
      "unaligned",
      () => planDisk({ table: "gpt", list: [{ ...GPT.list[0], size: "100K" }] }, "x"),
      /partition "boot": size 100K is not a whole number of MiB/,
    ],
    [
      "twice",
      () => planDisk({ table: "gpt", list: [GPT.list[0], GPT.list[0]] }, "x"),
      /partition "boot" is declared twice/,
    ],
    [
      "mbr type",
      () => sfdiskType("mbr", "boot", "esp"),
      /partition "boot": MBR type "esp" must be a hex byte/,
    ],
    [
      "gpt type",
      () => sfdiskType("gpt", "root", "rooot"),
      /partition "root": GPT type "rooot" is neither a GUID nor one of esp, linux/,
    ],
  ];
  for (const [name, f, msg] of bad) await t.step(name, () => assert.throws(f, msg));
});

Deno.test("makeFat() holds the tree, is clean and byte-identical across runs", async () => {
  const tmp = await Deno.makeTempDir();
  const src = join(tmp, "src");
  await tree(src, {
    "config.txt": "enable_uart=1\n",
    "overlays/a-long-name.dtbo": "x",
    "kernel8.img": "k".repeat(100000),
  });
  const opts = { bytes: 16 << 20, label: "BOOT", volumeId: "1a2b3c4d", dir: src, epoch: EPOCH };
  await makeFat(join(tmp, "a.vfat"), opts);
  await Deno.utime(join(src, "config.txt"), 1, 1); // host times must not matter
  await makeFat(join(tmp, "b.vfat"), opts);
  assert.equal(await sha256File(join(tmp, "a.vfat")), await sha256File(join(tmp, "b.vfat")));
  assert.deepEqual(await fatList(join(tmp, "a.vfat")), [
    "config.txt",
    "kernel8.img",
    "overlays/",
    "overlays/a-long-name.dtbo",
  ]);
  await $`fsck.fat -n ${join(tmp, "a.vfat")}`.quiet();
  await fatCopyOut(join(tmp, "a.vfat"), 0, "config.txt", join(tmp, "out.txt"));
  assert.equal(await Deno.readTextFile(join(tmp, "out.txt")), "enable_uart=1\n");
  await assert.rejects(
    () => makeFat(join(tmp, "c.vfat"), { ...opts, volumeId: "xyz" }),
    /FAT volume id "xyz" must be 8 hex digits/,
  );
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("makeExt4() copies the tree with normalised times, byte-identical and fsck-clean", async () => {
  const tmp = await Deno.makeTempDir();
  const src = join(tmp, "src");
  await tree(src, { "upper/etc/hostname": "ice\n", "work/.keep": "" });
  await Deno.symlink("hostname", join(src, "upper/etc/link"));
  const opts = {
    bytes: 8 << 20,
    label: "data",
    uuid: stableUuid("t", "data"),
    dir: src,
    epoch: EPOCH,
  };
  await makeExt4(join(tmp, "a.ext4"), opts);
  await new Promise((r) => setTimeout(r, 1100)); // a new ctime on the host copy
  await Deno.writeTextFile(join(src, "upper/etc/hostname"), "ice\n");
  await makeExt4(join(tmp, "b.ext4"), opts);
  assert.equal(await sha256File(join(tmp, "a.ext4")), await sha256File(join(tmp, "b.ext4")));
  await $`e2fsck -fn ${join(tmp, "a.ext4")}`.quiet();
  const stat = await $`debugfs -R ${"stat /upper/etc/hostname"} ${join(tmp, "a.ext4")}`.quiet(
    "stderr",
  ).text();
  assert.match(stat, /ctime: 0x6553f100:00000000/);
  assert.match(stat, /crtime: 0x6553f100:00000000/);
  const cat = await $`debugfs -R ${"cat /upper/etc/hostname"} ${join(tmp, "a.ext4")}`.quiet(
    "stderr",
  ).text();
  assert.equal(cat, "ice"); // dax trims the final newline
  const uuid = await $`tune2fs -l ${join(tmp, "a.ext4")}`.text();
  assert.match(uuid, new RegExp(`Filesystem UUID:\\s+${opts.uuid}`));
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("writeDisk() places each filesystem at its offset, sparse and reproducible", async () => {
  const tmp = await Deno.makeTempDir();
  await tree(join(tmp, "boot"), { "EFI/BOOT/BOOTX64.EFI": "efi" });
  const plan = planDisk(GPT, "disk-test");
  await makeFat(join(tmp, "boot.vfat"), {
    bytes: 16 << 20,
    label: "ESP",
    volumeId: "00c0ffee",
    dir: join(tmp, "boot"),
    epoch: EPOCH,
  });
  await makeExt4(join(tmp, "data.ext4"), {
    bytes: 8 << 20,
    label: "data",
    uuid: plan.partitions[2].fsUuid,
    epoch: EPOCH,
  });
  const images = { boot: join(tmp, "boot.vfat"), data: join(tmp, "data.ext4") };
  await writeDisk(join(tmp, "a.img"), plan, images);
  await writeDisk(join(tmp, "b.img"), plan, images);
  assert.equal(await sha256File(join(tmp, "a.img")), await sha256File(join(tmp, "b.img")));
  assert.deepEqual(await fatList(join(tmp, "a.img"), plan.partitions[0].start), [
    "EFI/",
    "EFI/BOOT/",
    "EFI/BOOT/BOOTX64.EFI",
  ]);
  const data = plan.partitions[2];
  await $`dd if=${join(tmp, "a.img")} of=${join(tmp, "p3.ext4")} bs=1M skip=${
    data.start >> 20
  } count=${data.bytes >> 20}`.quiet();
  assert.equal(await sha256File(join(tmp, "p3.ext4")), await sha256File(images.data));
  await $`e2fsck -fn ${join(tmp, "p3.ext4")}`.quiet();
  const blocks = Number((await $`du -k ${join(tmp, "a.img")}`.text()).split("\t")[0]);
  assert.ok(
    blocks < (await Deno.stat(join(tmp, "a.img"))).size / 1024 / 2,
    `image is sparse (${blocks} KiB used)`,
  );
  await assert.rejects(
    () => writeDisk(join(tmp, "c.img"), plan, { swap: images.boot }),
    /image for partition "swap", which the layout does not have/,
  );
  await assert.rejects(
    () => writeDisk(join(tmp, "c.img"), plan, { root: images.boot }),
    /boot\.vfat: 16777216 bytes do not fit partition "root" \(8M = 8388608 bytes\)/,
  );
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("extractDeb() unpacks the named members of a real .deb", async () => {
  const tmp = await Deno.makeTempDir();
  await tree(join(tmp, "pkg"), {
    "DEBIAN/control":
      "Package: t\nVersion: 1\nArchitecture: all\nMaintainer: x <x@x>\nDescription: t\n",
    "usr/lib/fw/bootcode.bin": "boot",
    "usr/share/doc/t/README": "doc",
  });
  await $`dpkg-deb --root-owner-group -Zgzip --build ${join(tmp, "pkg")} ${join(tmp, "t.deb")}`
    .quiet();
  await extractDeb(join(tmp, "t.deb"), join(tmp, "x"), ["./usr/lib/fw/"]);
  assert.equal(await Deno.readTextFile(join(tmp, "x/usr/lib/fw/bootcode.bin")), "boot");
  await assert.rejects(() => Deno.stat(join(tmp, "x/usr/share")));
  await assert.rejects(
    () => extractDeb(join(tmp, "t.deb"), join(tmp, "y"), ["./nope"]),
    /t\.deb: cannot extract \.\/nope: .*Not found in archive/,
  );
  await Deno.remove(tmp, { recursive: true });
});
