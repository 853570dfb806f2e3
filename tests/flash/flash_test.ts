// `deno task flash` onto real loop devices (root): the read-back is the image byte for
// byte; on a device full of old random bytes only the mapped blocks change and every
// file system checks clean and keeps working (holes are safe to skip); the read-back
// reads the device, not the page cache.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import $ from "dax";
import { blockMap, blockMapOf, rangeBytes } from "../../lib/image/bmap.ts";
import { openDevice } from "../../lib/flash/device.ts";
import { readHost } from "../../lib/flash/host.ts";
import { inspectTarget } from "../../lib/flash/target.ts";
import { verifyImage, writeImage } from "../../lib/flash/write.ts";
import { sha256File } from "../../lib/hash.ts";
import { type Layout, makeTestImage, noise, SMALL_GPT, SMALL_MBR } from "./_image.ts";
import { attachLoop, backingFile, headSha256, runFlash } from "./_loop.ts";

const MiB = 1 << 20;

Deno.test("flash onto a zeroed loop device: the read-back is the image, byte for byte", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const { path } = await makeTestImage(tmp);
    const size = (await Deno.stat(path)).size;
    const backing = await backingFile(join(tmp, "card"), size + 4 * MiB, "zero");
    await using loop = await attachLoop(backing);
    const r = await runFlash(["--image", path, "--yes", loop.dev]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`wrote \\d+ bytes to ${loop.dev} .* read back and verified`));
    // Quiet lines without a terminal, no bar.
    assert.match(r.stderr, /^write: 100% \(/m);
    assert.match(r.stderr, /^verify: 100% \(/m);
    assert.doesNotMatch(r.stderr, /\r/);
    assert.equal(await headSha256(loop.dev, size), await sha256File(path));
    // Nothing past the image was touched.
    assert.equal(
      await headSha256(loop.dev, size + 4 * MiB),
      createHash("sha256").update(await Deno.readFile(path)).update(new Uint8Array(4 * MiB))
        .digest("hex"),
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

/** Check each file system of a flashed test image on `dev`, through loop windows. */
async function checkFileSystems(
  dev: string,
  plan: Awaited<ReturnType<typeof makeTestImage>>["plan"],
  tmp: string,
) {
  for (const p of plan.partitions) {
    await using part = await attachLoop(dev, { offset: p.start, bytes: p.bytes });
    if (p.fs === "vfat") {
      await $`fsck.fat -n ${part.dev}`.quiet();
      const env = { MTOOLS_SKIP_CHECK: "1" };
      // (mtools says it cannot get a loop device's geometry: harmless, kept quiet.)
      await $`mcopy -n -i ${part.dev} ::/kernel.img ${join(tmp, "kernel.img")}`.env(env)
        .quiet("stderr");
      assert.equal(
        await sha256File(join(tmp, "kernel.img")),
        createHash("sha256").update(noise(3 * MiB, 1)).digest("hex"),
      );
      // Fill the free clusters (old random bytes underneath) and check again.
      await Deno.writeFile(join(tmp, "new.bin"), noise(6 * MiB, 11));
      await $`mcopy -i ${part.dev} ${join(tmp, "new.bin")} ::/new.bin`.env(env).quiet("stderr");
      await $`mmd -i ${part.dev} ::/newdir`.env(env).quiet("stderr");
      await $`fsck.fat -n ${part.dev}`.quiet();
    } else if (p.fs === "squashfs") {
      const out = join(tmp, "sq");
      await $`unsquashfs -no-progress -d ${out} ${part.dev}`.quiet();
      assert.equal(
        await sha256File(join(out, "sub/lib.so")),
        createHash("sha256").update(noise(2 * MiB, 3)).digest("hex"),
      );
      await Deno.remove(out, { recursive: true });
    } else {
      await $`e2fsck -fn ${part.dev}`.quiet();
      // Use it: 310 of its 512 inodes, and blocks the image never wrote (old bytes).
      const mnt = join(tmp, "mnt");
      await Deno.mkdir(mnt, { recursive: true });
      await $`mount -t ext4 ${part.dev} ${mnt}`;
      try {
        for (let d = 0; d < 10; d++) {
          await Deno.mkdir(join(mnt, `d${d}`));
          for (let f = 0; f < 30; f++) {
            await Deno.writeFile(join(mnt, `d${d}`, `f${f}`), noise(1000 + f * 100, d * 100 + f));
          }
        }
        for (let f = 0; f < 25; f += 2) await Deno.remove(join(mnt, "d3", `f${f}`));
      } finally {
        await $`umount ${mnt}`;
      }
      await $`e2fsck -fn ${part.dev}`.quiet();
    }
  }
}

for (const [name, layout] of [["MBR", SMALL_MBR], ["GPT", SMALL_GPT]] as [string, Layout][]) {
  Deno.test(`flash onto a device of random bytes (${name}): holes are safe to skip`, async () => {
    const tmp = await Deno.makeTempDir();
    try {
      const { path, plan } = await makeTestImage(tmp, { layout });
      const size = (await Deno.stat(path)).size;
      // The device is the image's size, so a GPT's backup header is at the device's end.
      const backing = await backingFile(join(tmp, "card"), size, "random");
      await using loop = await attachLoop(backing);
      const r = await runFlash(["--image", path, "--yes", loop.dev]);
      assert.equal(r.code, 0, r.stderr);
      // The mapped ranges are the image's; the rest still holds the old bytes (not written).
      const map = await blockMap(path);
      const dev = await Deno.readFile(loop.dev);
      const img = await Deno.readFile(path);
      for (const range of map.ranges) {
        const { start, end } = rangeBytes(map, range);
        assert.equal(
          createHash("sha256").update(dev.subarray(start, end)).digest("hex"),
          range.sha256,
        );
      }
      assert.notDeepEqual(dev.subarray(0, size), img, "holes were skipped, not zeroed");
      if (layout.table === "gpt") {
        const v = await $`sfdisk --verify ${loop.dev}`.stdout("piped").stderr("piped").noThrow();
        assert.equal(v.code, 0, v.stderr);
        assert.match(v.stdout, /No errors detected/);
        assert.equal(v.stderr, "", "both GPT headers and tables read back intact");
      }
      const dump = JSON.parse(await $`sfdisk -J ${loop.dev}`.text()).partitiontable;
      assert.deepEqual(
        dump.partitions.map((p: { start: number }) => p.start * 512),
        plan.partitions.map((p) => p.start),
      );
      await checkFileSystems(loop.dev, plan, tmp);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  });
}

Deno.test("verifyImage() reads the device, not the page cache: a changed block is caught", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const { path } = await makeTestImage(tmp);
    const size = (await Deno.stat(path)).size;
    const backing = await backingFile(join(tmp, "card"), size, "zero");
    await using loop = await attachLoop(backing);
    const map = blockMapOf(path);
    using dev = openDevice(inspectTarget(loop.dev, readHost()), {
      exclusive: true,
      imageBytes: size,
    });
    const w = await writeImage(path, dev, map);
    assert.deepEqual(await verifyImage(dev, map, w.sha256), []);
    // Change one byte of the second range behind the device's back (in its backing file):
    // the device's own page cache still holds what was written.
    const victim = map.ranges[1];
    const at = rangeBytes(map, victim).start + 1000;
    {
      using f = await Deno.open(backing, { read: true, write: true });
      await f.seek(at, Deno.SeekMode.Start);
      const b = new Uint8Array(1);
      await f.read(b);
      await f.seek(at, Deno.SeekMode.Start);
      await f.write(new Uint8Array([b[0] ^ 0xff]));
    }
    const bad = await verifyImage(dev, map, w.sha256);
    assert.equal(bad.length, 1);
    assert.deepEqual([bad[0].range.first, bad[0].range.last], [victim.first, victim.last]);
    assert.equal(bad[0].wrote, w.sha256[1]);
    assert.notEqual(bad[0].readBack, bad[0].wrote);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("flash --bmap: writes what the bmap maps, and refuses an image it does not describe", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const { path } = await makeTestImage(tmp);
    const size = (await Deno.stat(path)).size;
    await $`bmaptool create -o ${join(tmp, "t.bmap")} ${path}`.quiet();
    // A copy that lost its holes still flashes only the mapped blocks, given the bmap.
    const dense = join(tmp, "dense.img");
    await Deno.writeFile(dense, await Deno.readFile(path)); // every byte written: no holes
    const backing = await backingFile(join(tmp, "card"), size, "zero");
    await using loop = await attachLoop(backing);
    assert.equal(blockMapOf(dense).ranges.length, 1, "the copy has no holes");
    const r = await runFlash(["--image", dense, "--bmap", join(tmp, "t.bmap"), "--yes", loop.dev]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await headSha256(loop.dev, size), await sha256File(path));
    const mapped = blockMapOf(path).ranges.reduce((n, x) => n + x.last - x.first + 1, 0) * 4096;
    assert.match(r.stdout, new RegExp(`wrote ${mapped} bytes`));
    // Another image of the same size: its data does not hash as the bmap says.
    const other = join(tmp, "other");
    await Deno.mkdir(other);
    const o = await makeTestImage(other, { seed: "other-board", bootMiB: 2 });
    const bad = await runFlash([
      "--image",
      o.path,
      "--bmap",
      join(tmp, "t.bmap"),
      "--yes",
      loop.dev,
    ]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /blocks \d+-\d+ hash to \w+, but the block map says \w+: the image is not the one the map was made for/,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
