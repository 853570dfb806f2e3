/**
 * ethtool, per architecture, in a root of its package (tests/pkgs/_root.ts): it prints
 * its version, refuses bad command lines, names a missing interface, and reads the
 * loopback interface's link state through the SIOCETHTOOL ioctl (the root shares the
 * host's network namespace; lo always exists and is up).
 *
 * qemu-user does not translate SIOCETHTOOL (it answers ENOSYS), so on aarch64 and armv7
 * the kernel's answers are checked natively only: there the test checks that ethtool
 * gets as far as the ioctl for each request and reports the failure.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readPackageMeta } from "../../lib/ice-pkg/package.ts";
import { elfInfo } from "../userland/_build.ts";
import { buildReal, packageIn } from "../rootfs/_real.ts";
import { BOARDS, makeRoot, run } from "./_root.ts";

const PACKAGES = ["musl", "ethtool"];
const ETHTOOL = "/usr/sbin/ethtool";

for (const b of BOARDS) {
  Deno.test(`${b.arch}: ethtool reads the loopback link and refuses bad requests`, async (t) => {
    const res = await buildReal(PACKAGES.map((p) => `pkg:${p}`), b.board);
    const files = PACKAGES.map((p) => packageIn(res.get(`pkg:${p}`)!.out!));
    const dir = await Deno.makeTempDir({ prefix: `icenet-ethtool-${b.arch}-` });
    try {
      const root = await makeRoot(b, files, dir);
      await t.step("the package depends on musl", async () => {
        const meta = await readPackageMeta(files[1], { where: "ethtool" });
        assert.deepEqual(meta.depends, ["musl"]);
        assert.equal((await elfInfo(join(root.tree, "usr/sbin/ethtool"))).interp, b.loader);
      });
      await t.step("ethtool --version", async () => {
        const r = await run(root.argv([ETHTOOL, "--version"]));
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, "ethtool version 6.1 (pretty dumps disabled)\n");
      });
      await t.step("bad command lines are refused", async () => {
        const speed = await run(root.argv([ETHTOOL, "-s", "lo", "speed", "fast"]));
        assert.equal(speed.code, 1, speed.out);
        assert.match(speed.err, /ethtool: bad command line argument\(s\)/);
        const long = await run(root.argv([ETHTOOL, "-i", "an-interface-name-too-long"]));
        assert.equal(long.code, 1, long.out);
        assert.match(long.err, /Device name longer than 15 characters/);
      });
      if (b.qemu) {
        await t.step("requests reach the ioctl (which qemu-user does not translate)", async () => {
          for (const dev of ["icenet-none0", "lo"]) {
            const r = await run(root.argv([ETHTOOL, dev]));
            assert.equal(r.code, 75, `${r.out}${r.err}`);
            assert.equal(r.out, `Settings for ${dev}:\nNo data available\n`);
            assert.match(r.err, /^Cannot get device settings: Function not implemented$/m);
            assert.match(r.err, /^Cannot get link status: Function not implemented$/m);
          }
        });
        return;
      }
      await t.step("a missing interface is named as such", async () => {
        const r = await run(root.argv([ETHTOOL, "icenet-none0"]));
        assert.equal(r.code, 75, `${r.out}${r.err}`);
        assert.equal(r.out, "Settings for icenet-none0:\nNo data available\n");
        assert.match(r.err, /Cannot get device settings: No such device/);
      });
      await t.step("the loopback link is detected", async () => {
        const r = await run(root.argv([ETHTOOL, "lo"]));
        assert.equal(r.code, 0, `${r.out}${r.err}`);
        assert.match(r.out, /^Settings for lo:\n/);
        assert.match(r.out, /^\tLink detected: yes$/m);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
