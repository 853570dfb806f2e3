/**
 * i2c-tools, per architecture, in a root of its packages (tests/pkgs/_root.ts). The
 * root has no I2C bus (no sysfs, no /dev/i2c-*), so the tools show how they behave
 * without one: i2cdetect -l lists nothing, a missing bus is named in the error, a bus
 * that is not an I2C adapter fails its ioctl, and bad addresses are refused before
 * any bus is opened. The tools run through the shared libi2c.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readPackageMeta } from "../../lib/ice-pkg/package.ts";
import { elfInfo } from "../userland/_build.ts";
import { buildReal, packageIn } from "../rootfs/_real.ts";
import { BOARDS, makeRoot, run } from "./_root.ts";

const PACKAGES = ["musl", "i2c-tools"];
const TOOLS = ["i2cdetect", "i2cdump", "i2cget", "i2cset", "i2ctransfer"];

for (const b of BOARDS) {
  Deno.test(`${b.arch}: i2c-tools look for buses and refuse bad ones`, async (t) => {
    const res = await buildReal(PACKAGES.map((p) => `pkg:${p}`), b.board);
    const files = PACKAGES.map((p) => packageIn(res.get(`pkg:${p}`)!.out!));
    const dir = await Deno.makeTempDir({ prefix: `icenet-i2c-tools-${b.arch}-` });
    try {
      const root = await makeRoot(b, files, dir);
      await t.step("the package holds the tools, linked against musl", async () => {
        const meta = await readPackageMeta(files[1], { where: "i2c-tools" });
        assert.deepEqual(meta.depends, ["musl"]);
        for (const p of TOOLS) {
          assert.equal((await elfInfo(join(root.tree, "usr/sbin", p))).interp, b.loader, p);
        }
        // No Perl scripts: nothing on the device would run them.
        assert.equal(await Deno.stat(join(root.tree, "usr/bin")).catch(() => null), null);
      });
      await t.step("every tool prints its version", async () => {
        for (const p of TOOLS) {
          const r = await run(root.argv([`/usr/sbin/${p}`, "-V"]));
          assert.equal(r.code, 0, `${p}: ${r.err}`);
          assert.equal(r.err, `${p} version 4.3\n`);
        }
      });
      await t.step("i2cdetect -l on a root without buses prints nothing", async () => {
        const r = await run(root.argv(["/usr/sbin/i2cdetect", "-l"]));
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, "");
        assert.equal(r.err, "");
      });
      await t.step("i2cdetect names a missing bus", async () => {
        const r = await run(root.argv(["/usr/sbin/i2cdetect", "-y", "7"]));
        assert.equal(r.code, 1);
        assert.match(r.err, /Could not open file `\/dev\/i2c-7' or `\/dev\/i2c\/7': No such file/);
        const name = await run(root.argv(["/usr/sbin/i2cdetect", "-y", "sensors"]));
        assert.equal(name.code, 1);
        assert.match(name.err, /I2C bus name doesn't match any bus present/);
      });
      await t.step("a device file that is no I2C adapter fails its ioctl", async () => {
        // A plain file in the place of /dev/i2c-3: it opens, the I2C_FUNCS ioctl fails.
        const fake = join(root.work, "i2c-3");
        await Deno.writeFile(fake, new Uint8Array(0));
        const argv = root.argv(["/usr/sbin/i2cdetect", "-F", "3"]);
        argv.splice(argv.indexOf("--dev") + 2, 0, "--bind", fake, "/dev/i2c-3");
        const r = await run(argv);
        assert.equal(r.code, 1, r.out);
        assert.match(r.err, /Could not get the adapter functionality matrix/);
      });
      await t.step("bad addresses, modes and transfers to no bus are refused", async () => {
        const get = await run(root.argv(["/usr/sbin/i2cget", "-y", "3", "0x80"]));
        assert.equal(get.code, 1);
        assert.match(get.err, /Chip address out of range \(0x08-0x77\)/);
        const set = await run(root.argv(["/usr/sbin/i2cset", "-y", "3", "0x48", "0x01", "7", "q"]));
        assert.equal(set.code, 1);
        assert.match(set.err, /Error: Invalid mode 'q'!\nUsage: i2cset/);
        const x = await run(root.argv(["/usr/sbin/i2ctransfer", "-y", "4", "w1@0x50", "0x01"]));
        assert.equal(x.code, 1);
        assert.match(x.err, /Could not open file `\/dev\/i2c-4'/);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
