/**
 * wpa_supplicant, wpa_cli and wpa_passphrase (wpa 2.10, internal crypto, nl80211
 * through libnl) per architecture, in a root of their packages (tests/pkgs/_wifi.ts):
 * wpa_passphrase derives the IEEE 802.11i test vectors' PSKs; wpa_supplicant reads
 * the /etc/wpa_supplicant.conf an image gets (lib/rootfs/generate.ts), derives a PSK
 * from a passphrase itself, names bad lines, and stops at the driver (no Wi-Fi in the
 * root); wpa_cli talks to it over its control socket.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readPackageMeta } from "../../lib/ice-pkg/package.ts";
import { Generated, writeWifi } from "../../lib/rootfs/generate.ts";
import { BOARDS, run, SCRATCH, start, waitFor } from "./_root.ts";
import { DRIVER_FAILURE, nl80211, wifiRoot } from "./_wifi.ts";

const PACKAGES = ["musl", "libnl", "wpa-supplicant"];

/** IEEE 802.11i-2004 H.4.3: PBKDF2-SHA1(passphrase, SSID, 4096) for "password", "IEEE". */
const PSK_IEEE = "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e";
/** The same for "ThisIsAPassword", "ThisIsASSID". */
const PSK_THIS = "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af";

/** A PSK as wpa_supplicant's debug output shows it: hex bytes, space-separated. */
const spaced = (hex: string) => hex.match(/../g)!.join(" ");

for (const b of BOARDS) {
  Deno.test(`${b.arch}: wpa_supplicant reads its configuration, wpa_cli talks to it`, async (t) => {
    const { root, dir, files } = await wifiRoot(b, PACKAGES);
    const nl = nl80211(b);
    const supplicant = (...args: string[]) => root.argv(["/usr/sbin/wpa_supplicant", ...args]);
    try {
      await t.step(
        "the package: three programs, linked against libnl, and the wifi service",
        async () => {
          const meta = await readPackageMeta(files["wpa-supplicant"], { where: "wpa-supplicant" });
          assert.deepEqual(meta.depends, ["musl", "libnl"]);
          assert.deepEqual(
            meta.files.filter((f) => f.type === "file").map((f) => f.path).sort(),
            [
              "usr/lib/icenet/services/wifi",
              "usr/lib/icenet/wifi",
              "usr/sbin/wpa_cli",
              "usr/sbin/wpa_passphrase",
              "usr/sbin/wpa_supplicant",
            ],
          );
          const script = meta.files.find((f) => f.path === "usr/lib/icenet/wifi");
          assert.equal(script?.mode, 0o755);
          assert.match(
            await Deno.readTextFile(join(root.tree, "usr/lib/icenet/services/wifi")),
            /^command = \/usr\/lib\/icenet\/wifi wlan0$/m,
          );
          const v = await run(supplicant("-v"));
          assert.match(v.out, /^wpa_supplicant v2\.10\n/, v.err);
          const c = await run(root.argv(["/usr/sbin/wpa_cli", "-v"]));
          assert.match(c.out, /^wpa_cli v2\.10\n/, c.err);
        },
      );
      await t.step("wpa_passphrase derives the IEEE 802.11i test vectors", async () => {
        const r = await run(root.argv(["/usr/sbin/wpa_passphrase", "IEEE", "password"]));
        assert.equal(r.code, 0, r.err);
        assert.equal(
          r.out,
          `network={\n\tssid="IEEE"\n\t#psk="password"\n\tpsk=${PSK_IEEE}\n}\n`,
        );
        const r2 = await run(
          root.argv(["/usr/sbin/wpa_passphrase", "ThisIsASSID", "ThisIsAPassword"]),
        );
        assert.match(r2.out, new RegExp(`^\tpsk=${PSK_THIS}$`, "m"), r2.err);
        const short = await run(root.argv(["/usr/sbin/wpa_passphrase", "IEEE", "short"]));
        assert.equal(short.code, 1);
        assert.equal(short.err, "Passphrase must be 8..63 characters\n");
      });
      // What an image with --wifi-country DE --wifi-ssid IEEE --wifi-psk password holds.
      await writeWifi(new Generated(root.tree), { country: "DE", ssid: "IEEE", psk: PSK_IEEE });
      await t.step(
        "it reads the image's /etc/wpa_supplicant.conf, then needs nl80211",
        async () => {
          // -K: keys in the debug output.
          const r = await run(
            supplicant("-i", "wlan0", "-c", "/etc/wpa_supplicant.conf", "-dd", "-K"),
          );
          assert.notEqual(r.code, 0);
          assert.match(r.out, /^Reading configuration file '\/etc\/wpa_supplicant\.conf'$/m);
          assert.match(r.out, /^country='DE'$/m);
          assert.match(r.out, /^ssid - hexdump_ascii\(len=4\):\n\s+49 45 45 45\s+IEEE\s*$/m);
          assert.match(r.out, new RegExp(`^PSK - hexdump\\(len=32\\): ${spaced(PSK_IEEE)}$`, "m"));
          assert.match(r.out, /^Failed to initialize driver 'nl80211'$/m);
          const why = DRIVER_FAILURE[nl];
          if (why) assert.match(r.out, why);
        },
      );
      await t.step("it derives the PSK from a passphrase itself", async () => {
        const conf = `network={\n\tssid="ThisIsASSID"\n\tpsk="ThisIsAPassword"\n}\n`;
        await Deno.writeTextFile(join(root.work, "pass.conf"), conf);
        const r = await run(supplicant("-i", "wlan0", "-c", `${SCRATCH}/pass.conf`, "-dd", "-K"));
        const psk = new RegExp(
          `^PSK \\(from passphrase\\) - hexdump\\(len=32\\): ${spaced(PSK_THIS)}$`,
          "m",
        );
        assert.match(r.out, psk, r.err);
      });
      await t.step("bad lines are named, and the file refused", async () => {
        const bad = async (name: string, lines: string[], ...want: RegExp[]) => {
          await Deno.writeTextFile(join(root.work, name), lines.join("\n") + "\n");
          const r = await run(supplicant("-i", "wlan0", "-c", `${SCRATCH}/${name}`));
          assert.notEqual(r.code, 0);
          for (const w of want) assert.match(r.out, w);
          assert.match(
            r.out,
            new RegExp(`Failed to read or parse configuration '${SCRATCH}/${name}'\\.`),
          );
          assert.doesNotMatch(r.out, /Failed to initialize driver/);
        };
        await bad(
          "unknown.conf",
          ["country=DE", "network={", '\tssid="IEEE"', "\tbogus=1", "}"],
          /^Line 4: unknown network field 'bogus'\.$/m,
          /^Line 5: failed to parse network block\.$/m,
        );
        await bad(
          "short.conf",
          ["network={", '\tssid="IEEE"', '\tpsk="short"', "}"],
          /^Line 3: Invalid passphrase length 5 \(expected: 8\.\.63\)/m,
        );
        // Not built (wpa_supplicant.config): SAE needs EC crypto (OpenSSL/wolfSSL only).
        await bad(
          "sae.conf",
          ["network={", '\tssid="IEEE"', "\tkey_mgmt=SAE", '\tsae_password="password"', "}"],
          /^Line 3: invalid key_mgmt 'SAE'$/m,
        );
      });
      await t.step("wpa_cli talks to it over the global control socket", async () => {
        const ctrl = `${SCRATCH}/wpa-global`;
        const daemon = start(supplicant("-g", ctrl));
        let log = { code: 0, out: "", err: "" };
        try {
          assert.ok(await waitFor(join(root.work, "wpa-global"), 30), "no control socket");
          const cli = (...args: string[]) =>
            run(root.argv(["/usr/sbin/wpa_cli", "-g", ctrl, ...args]));
          const ping = await cli("ping");
          assert.equal(ping.out, "PONG\n", ping.err);
          const add = await cli("interface_add", "wlan0", "/etc/wpa_supplicant.conf", "nl80211");
          assert.equal(add.out, "FAIL\n", add.err);
          const list = await cli("interface");
          assert.equal(list.out, "Available interfaces:\n", list.err);
        } finally {
          log = await daemon.stop();
        }
        // interface_add read the file and failed at the driver, as on the command line.
        assert.match(log.out, /^Failed to initialize driver 'nl80211'$/m, log.err);
        assert.match(log.out, /^wlan0: Unsupported driver 'nl80211'$/m);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
