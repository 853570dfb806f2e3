/**
 * e2fsprogs, per architecture, in a root of its packages (tests/pkgs/_root.ts): what a
 * device does to its data partition, on an image file. mke2fs makes an ext4 file
 * system holding a file, e2fsck -fn finds it clean, the image grows and resize2fs
 * grows the file system to fill it, e2fsck finds it clean again. The host's Debian
 * e2fsprogs checks the results (block counts, the file's content, its own e2fsck),
 * and a corrupted copy must make our e2fsck fail.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readPackageMeta } from "../../lib/ice-pkg/package.ts";
import { elfInfo } from "../userland/_build.ts";
import { buildReal, packageIn } from "../rootfs/_real.ts";
import { BOARDS, makeRoot, run, SCRATCH } from "./_root.ts";

const PACKAGES = ["musl", "e2fsprogs"];
const MIB = 1024 * 1024;
const NOTE = "IceNet-OS data partition\n";

/** A superblock field as the host's dumpe2fs -h prints it. */
async function hostField(image: string, field: string): Promise<string> {
  const r = await run(["dumpe2fs", "-h", image]);
  assert.equal(r.code, 0, r.err);
  const m = r.out.match(new RegExp(`^${field}:\\s+(.*)$`, "m"));
  assert.ok(m, `host dumpe2fs: no ${field}: ${r.out}`);
  return m[1].trim();
}

for (const b of BOARDS) {
  Deno.test(`${b.arch}: e2fsprogs makes, checks and grows an ext4 image`, async (t) => {
    const res = await buildReal(PACKAGES.map((p) => `pkg:${p}`), b.board);
    const files = PACKAGES.map((p) => packageIn(res.get(`pkg:${p}`)!.out!));
    const dir = await Deno.makeTempDir({ prefix: `icenet-e2fsprogs-${b.arch}-` });
    try {
      const root = await makeRoot(b, files, dir);
      const image = join(root.work, "data.img");
      const img = `${SCRATCH}/data.img`;
      await Deno.mkdir(join(root.work, "content"));
      await Deno.writeTextFile(join(root.work, "content", "note.txt"), NOTE);
      await Deno.writeFile(image, new Uint8Array(0));
      await Deno.truncate(image, 16 * MIB);
      await t.step("the package holds the programs, linked against musl", async () => {
        const meta = await readPackageMeta(files[1], { where: "e2fsprogs" });
        assert.deepEqual(meta.depends, ["musl"]);
        for (const p of ["e2fsck", "resize2fs", "mke2fs", "tune2fs", "dumpe2fs"]) {
          const elf = await elfInfo(join(root.tree, "usr/sbin", p));
          assert.equal(elf.interp, b.loader, p);
        }
        assert.equal(await Deno.readLink(join(root.tree, "usr/sbin/fsck.ext4")), "e2fsck");
        assert.equal(await Deno.readLink(join(root.tree, "usr/sbin/mkfs.ext4")), "mke2fs");
      });
      await t.step("mke2fs makes ext4 with a file in it", async () => {
        const r = await run(root.argv([
          "/usr/sbin/mke2fs",
          "-F",
          "-q",
          "-t",
          "ext4",
          "-b",
          "4096",
          "-L",
          "data",
          "-d",
          `${SCRATCH}/content`,
          img,
        ]));
        assert.equal(r.code, 0, r.err);
        assert.equal(await hostField(image, "Block count"), "4096");
        assert.equal(await hostField(image, "Filesystem volume name"), "data");
        // mke2fs read the package's /etc/mke2fs.conf: ext4's features.
        assert.match(
          await hostField(image, "Filesystem features"),
          /\bextent\b.*\bmetadata_csum\b/,
        );
      });
      await t.step("e2fsck -fn finds it clean", async () => {
        const r = await run(root.argv(["/usr/sbin/e2fsck", "-fn", img]));
        assert.equal(r.code, 0, `${r.out}${r.err}`);
        assert.match(r.out, /Pass 5: Checking group summary information/);
        assert.match(r.out, /^data: \d+\/\d+ files .*, \d+\/4096 blocks$/m);
      });
      await t.step("resize2fs grows it to fill the larger image", async () => {
        await Deno.truncate(image, 64 * MIB);
        const r = await run(root.argv(["/usr/sbin/resize2fs", img]));
        assert.equal(r.code, 0, `${r.out}${r.err}`);
        assert.match(r.out, /is now 16384 \(4k\) blocks long/);
        assert.equal(await hostField(image, "Block count"), "16384");
      });
      await t.step("e2fsck -fn finds the grown file system clean", async () => {
        const r = await run(root.argv(["/usr/sbin/e2fsck", "-fn", img]));
        assert.equal(r.code, 0, `${r.out}${r.err}`);
        assert.match(r.out, /^data: \d+\/\d+ files .*, \d+\/16384 blocks$/m);
        const d = await run(root.argv(["/usr/sbin/dumpe2fs", "-h", img]));
        assert.match(d.out, /^Block count:\s+16384$/m, d.err);
      });
      await t.step("the host's e2fsprogs agrees, and the file survived", async () => {
        const fsck = await run(["e2fsck", "-fn", image]);
        assert.equal(fsck.code, 0, `${fsck.out}${fsck.err}`);
        const cat = await run(["debugfs", "-R", "cat /note.txt", image]);
        assert.equal(cat.out, NOTE, cat.err);
      });
      await t.step("e2fsck fails on a file system with a cleared inode", async () => {
        const bad = join(root.work, "bad.img");
        await Deno.copyFile(image, bad);
        const clri = await run(["debugfs", "-w", "-R", "clri /note.txt", bad]);
        assert.equal(clri.code, 0, clri.err);
        const r = await run(root.argv(["/usr/sbin/e2fsck", "-fn", `${SCRATCH}/bad.img`]));
        assert.equal(r.code, 4, `${r.out}${r.err}`); // errors left uncorrected
        assert.match(r.out, /note\.txt/);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
