/**
 * iw against libnl (shared), per architecture, in a root of its packages
 * (tests/pkgs/_wifi.ts): it prints its version, and `iw list` asks the kernel for
 * nl80211 through libnl-genl and fails with iw's own message where there is none
 * (natively on a host without cfg80211; under qemu-user, which has no generic
 * netlink sockets, one step earlier).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { elfInfo } from "../userland/_build.ts";
import { BOARDS, run } from "./_root.ts";
import { dependsOf, nl80211, wifiRoot } from "./_wifi.ts";

const PACKAGES = ["musl", "libnl", "iw"];

for (const b of BOARDS) {
  Deno.test(`${b.arch}: iw prints its version and asks generic netlink for nl80211`, async (t) => {
    const { root, dir, files } = await wifiRoot(b, PACKAGES);
    try {
      await t.step("the package depends on libnl and links its libraries", async () => {
        assert.deepEqual(await dependsOf(files.iw), ["musl", "libnl"]);
        const elf = await elfInfo(join(root.tree, "usr/sbin/iw"));
        assert.equal(elf.interp, b.loader);
        const needed = await run(["readelf", "-d", join(root.tree, "usr/sbin/iw")]);
        assert.match(needed.out, /\[libnl-genl-3\.so\.200\]/);
        assert.match(needed.out, /\[libnl-3\.so\.200\]/);
      });
      await t.step("iw --version", async () => {
        const r = await run(root.argv(["/usr/sbin/iw", "--version"]));
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, "iw version 5.19\n");
      });
      await t.step("iw help lists its commands", async () => {
        const r = await run(root.argv(["/usr/sbin/iw", "help"]));
        assert.match(r.out, /dev <devname> scan trigger/, r.err);
        assert.match(r.out, /reg set <ISO\/IEC 3166-1 alpha2>/);
      });
      const nl = nl80211(b);
      await t.step(`iw list without Wi-Fi (nl80211 ${nl})`, async () => {
        const r = await run(root.argv(["/usr/sbin/iw", "list"]));
        if (nl === "present") {
          // The family answers; the root's network namespace has no wiphy to list.
          assert.equal(r.code, 0, r.err);
          assert.equal(r.out, "");
        } else {
          assert.equal(r.code, 1, r.out);
          assert.equal(
            r.err,
            nl === "absent" ? "nl80211 not found.\n" : "Failed to connect to generic netlink.\n",
          );
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
