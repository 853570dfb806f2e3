/**
 * hostapd and hostapd_cli (wpa 2.10, internal crypto, nl80211 through libnl) per
 * architecture, in a root of their packages (tests/pkgs/_wifi.ts): hostapd reads a
 * WPA2-PSK access point's configuration and stops at the driver (no Wi-Fi in the
 * root), names bad lines and refuses inconsistent settings; hostapd_cli talks to it
 * over its global control socket, through which it is asked to add the access point.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readPackageMeta } from "../../lib/ice-pkg/package.ts";
import { BOARDS, run, SCRATCH, start, waitFor } from "./_root.ts";
import { DRIVER_FAILURE, nl80211, wifiRoot } from "./_wifi.ts";

const PACKAGES = ["musl", "libnl", "hostapd"];

/** A WPA2-PSK access point on 2.4 GHz channel 6 (line numbers matter below). */
const AP = [
  "interface=wlan0",
  "driver=nl80211",
  "ssid=IEEE",
  "hw_mode=g",
  "channel=6",
  "country_code=DE",
  "ieee80211d=1",
  "ieee80211n=1",
  "wpa=2",
  "wpa_key_mgmt=WPA-PSK",
  "rsn_pairwise=CCMP",
  "wpa_passphrase=password",
];

for (const b of BOARDS) {
  Deno.test(`${b.arch}: hostapd reads an access point's configuration, hostapd_cli talks to it`, async (t) => {
    const { root, dir, files } = await wifiRoot(b, PACKAGES);
    const nl = nl80211(b);
    const hostapd = (...args: string[]) => root.argv(["/usr/sbin/hostapd", ...args]);
    const conf = async (name: string, lines: string[]) => {
      await Deno.writeTextFile(join(root.work, name), lines.join("\n") + "\n");
      return `${SCRATCH}/${name}`;
    };
    try {
      await t.step("the package: two programs, linked against libnl", async () => {
        const meta = await readPackageMeta(files.hostapd, { where: "hostapd" });
        assert.deepEqual(meta.depends, ["musl", "libnl"]);
        assert.deepEqual(
          meta.files.filter((f) => f.type === "file").map((f) => f.path).sort(),
          ["usr/sbin/hostapd", "usr/sbin/hostapd_cli"],
        );
        // hostapd -v prints to stderr and exits 1 (upstream's way).
        const v = await run(hostapd("-v"));
        assert.match(v.err, /^hostapd v2\.10\n/, v.out);
        const c = await run(root.argv(["/usr/sbin/hostapd_cli", "-v"]));
        assert.match(c.out + c.err, /^hostapd_cli v2\.10\n/m);
      });
      await t.step("it reads a WPA2-PSK access point's file, then needs nl80211", async () => {
        const path = await conf("ap.conf", AP);
        const r = await run(hostapd("-dd", path));
        assert.equal(r.code, 1);
        assert.match(r.out, new RegExp(`^Configuration file: ${path}$`, "m"), r.err);
        assert.doesNotMatch(r.out, /errors found|^Line \d+:/m);
        assert.match(r.out, /^Failed to initialize driver 'nl80211'$/m);
        const why = DRIVER_FAILURE[nl];
        if (why) assert.match(r.out, why);
      });
      await t.step("bad lines are named, and the file refused", async () => {
        const lines = AP.map((l) =>
          l.replace("channel=", "chanel=").replace("=password", "=short")
        );
        const path = await conf("bad.conf", lines);
        const r = await run(hostapd(path));
        assert.equal(r.code, 1);
        assert.match(r.out, /^Line 5: unknown configuration item 'chanel'$/m, r.err);
        assert.match(r.out, /^Line 12: invalid WPA passphrase length 5 \(expected 8\.\.63\)$/m);
        assert.match(r.out, new RegExp(`^3 errors found in configuration file '${path}'$`, "m"));
        assert.doesNotMatch(r.out, /Failed to initialize driver/);
      });
      await t.step("inconsistent settings are refused", async () => {
        // 802.11d announces the country: none set.
        const noCountry = await conf("d.conf", AP.filter((l) => !l.startsWith("country_code=")));
        const d = await run(hostapd(noCountry));
        assert.equal(d.code, 1);
        assert.match(d.out, /^Cannot enable IEEE 802\.11d without setting the country_code$/m);
        // Not built (hostapd.config): SAE needs EC crypto (OpenSSL/wolfSSL only).
        const sae = await conf("sae.conf", AP.map((l) => l.replace("=WPA-PSK", "=SAE")));
        const s = await run(hostapd(sae));
        assert.equal(s.code, 1);
        assert.match(s.out, /^Line 10: invalid key_mgmt 'SAE'$/m);
      });
      await t.step("hostapd_cli talks to it over the global control socket", async () => {
        const path = await conf("ap.conf", AP);
        const daemon = start(hostapd("-g", `${SCRATCH}/hostapd-global`));
        let log = { code: 0, out: "", err: "" };
        try {
          assert.ok(await waitFor(join(root.work, "hostapd-global"), 30), "no control socket");
          const cli = (...args: string[]) =>
            run(
              root.argv(["/usr/sbin/hostapd_cli", "-p", SCRATCH, "-i", "hostapd-global", ...args]),
            );
          const ping = await cli("ping");
          assert.equal(ping.out, "PONG\n", ping.err);
          // Add the access point of ap.conf on wlan0: it reads the file, the driver fails.
          const add = await cli("raw", `ADD bss_config=wlan0:${path}`);
          assert.equal(add.out, "FAIL\n", add.err);
        } finally {
          log = await daemon.stop();
        }
        assert.match(log.out, new RegExp(`^Configuration file: ${path} \\(phy wlan0\\)`, "m"));
        assert.match(log.out, /^Failed to initialize driver 'nl80211'$/m, log.err);
        assert.match(log.out, /^Adding interface bss_config=wlan0 failed$/m);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
