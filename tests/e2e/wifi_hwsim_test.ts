/**
 * Wi-Fi without a radio: the zima kernel with simulated radios (kernel/test-hwsim.config:
 * mac80211_hwsim's two) boots in QEMU into a root of zima's own packages. On radio 1
 * hostapd is a WPA2-PSK access point and busybox udhcpd serves addresses; on radio 0 the
 * image's wifi service (pkgs/wpa-supplicant/wifi, started as icenet-init starts it) joins
 * with the wpa_supplicant.conf the image build writes from Wi-Fi settings, and must get
 * an address by DHCP and reach the access point. A long-tier check (one more kernel
 * build), kept as a proof under the kernel's and packages' keys (tests/e2e/_proof.ts).
 *
 *   deno test -A tests/e2e/wifi_hwsim_test.ts
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBoard, qemuMachine } from "../../lib/board.ts";
import { sha256 } from "../../lib/hash.ts";
import { SilentProgress } from "../../lib/progress.ts";
import { startQemu } from "../../lib/qemu/machine.ts";
import { loadImageDef } from "../../lib/image_def.ts";
import { loadStages, ROOT } from "../../lib/registry.ts";
import { Generated, writeWifi } from "../../lib/rootfs/generate.ts";
import { build } from "../../lib/runner.ts";
import { applySite, siteFromFlags } from "../../lib/site.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { kernelStage } from "../../tasks/kernel.ts";
import { packageIn, unpackPackages } from "../rootfs/_real.ts";
import { digestOf, provenBefore, recordProof, timeFor } from "./_proof.ts";

const PACKAGES = [
  "musl",
  "busybox",
  "base-files",
  "libnl",
  "wpa-supplicant",
  "hostapd",
  "iw",
  "wireless-regdb",
];
const SSID = "icenet-hwsim";
const PASSPHRASE = "correct horse battery staple";

/** The access point's side: hostapd on radio 1, udhcpd handing out 192.168.77.x. */
const HOSTAPD_CONF = `interface=wlan1
driver=nl80211
ssid=${SSID}
hw_mode=g
channel=6
wpa=2
wpa_key_mgmt=WPA-PSK
rsn_pairwise=CCMP
wpa_passphrase=${PASSPHRASE}
`;
const UDHCPD_CONF = `interface wlan1
start 192.168.77.100
end 192.168.77.150
lease_file /run/udhcpd.leases
option subnet 255.255.255.0
option router 192.168.77.1
`;

/** PID 1 of the test root: the access point, then the wifi service, then the checks. */
const INIT = `#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mount -t tmpfs run /run
mount -t tmpfs tmp /tmp
fail() { echo "ICENET-WIFI-FAIL $*"; cat /run/wifi.log 2>/dev/null; poweroff -f; }
ip link set lo up
n=0
while [ ! -e /sys/class/net/wlan1 ]; do
	n=$((n + 1)); [ $n -le 20 ] || fail "no simulated radios"; sleep 1
done
ip link set wlan1 up
ip addr add 192.168.77.1/24 dev wlan1
hostapd -B -P /run/hostapd.pid /etc/hostapd-test.conf || fail "hostapd did not start"
udhcpd /etc/udhcpd-test.conf || fail "udhcpd did not start"
/usr/lib/icenet/wifi wlan0 >/run/wifi.log 2>&1 &
n=0
until ip -4 addr show dev wlan0 | grep -q "inet 192\\.168\\.77\\."; do
	n=$((n + 1)); [ $n -le 90 ] || fail "no DHCP address on wlan0 in 90 s"; sleep 1
done
echo "ICENET-WIFI-ADDR $(ip -4 addr show dev wlan0 | grep -o 'inet [0-9./]*') uptime $(cut -d' ' -f1 /proc/uptime)"
iw dev wlan0 link
iw reg get
wpa_cli -p /run/wpa_supplicant -i wlan0 status
ping -c 1 -W 5 192.168.77.1 >/dev/null && echo ICENET-WIFI-PING-OK
echo ICENET-WIFI-DONE
poweroff -f
`;

Deno.test("Wi-Fi: the wifi service joins a WPA2-PSK access point on simulated radios and gets an address by DHCP", async () => {
  const board = await loadBoard(ROOT, "zima");
  const hwsim = kernelStage(board, [], ROOT, {
    name: "kernel-hwsim",
    fragments: ["kernel/test-hwsim.config"],
  });
  const targets = ["kernel-hwsim", ...PACKAGES.map((p) => `pkg:${p}`)];
  const stages = [...await loadStages(board, ROOT), hwsim];
  const run = (dryRun: boolean) =>
    build({
      root: ROOT,
      board,
      stages,
      targets,
      store: new Store(defaultStoreDir()),
      progress: new SilentProgress(),
      jobs: 2,
      dryRun,
    });
  const test = sha256(await Deno.readTextFile(new URL(import.meta.url)));
  const planned = await run(true);
  const digest = [...planned.results.values()].every((r) => r.key)
    ? digestOf(planned.results, [test])
    : undefined;
  const proof = await provenBefore("wifi-hwsim", digest);
  if (proof) {
    console.log(`wifi hwsim: already proven for these inputs: ${proof.trim()}`);
    return;
  }
  if (!await timeFor("wifi-hwsim", 9 * 60)) return;
  const t0 = performance.now();
  const r = await run(false);
  const bad = [...r.results.values()].find((x) => x.outcome === "failed");
  assert.ok(r.ok, `build failed: ${bad?.name}: ${bad?.error} (log: ${bad?.log})`);

  let shown = "";
  const dir = await Deno.makeTempDir({ prefix: "icenet-wifi-vm-" });
  try {
    const tree = join(dir, "root");
    await Deno.mkdir(tree);
    await unpackPackages(PACKAGES.map((p) => packageIn(r.results.get(`pkg:${p}`)!.out!)), tree);
    for (const d of ["proc", "sys", "dev", "run", "tmp"]) {
      await Deno.mkdir(join(tree, d), { recursive: true });
    }
    // The client's settings as an image build writes them (the passphrase made a PSK).
    const site = await siteFromFlags({
      "wifi-country": "DE",
      "wifi-ssid": SSID,
      "wifi-psk": PASSPHRASE,
    });
    const image = await loadImageDef(join(ROOT, "images/default.yaml"));
    const def = applySite(image, site, "Wi-Fi test settings");
    await writeWifi(new Generated(tree), def.wifi);
    const conf = await Deno.readTextFile(join(tree, "etc/wpa_supplicant.conf"));
    assert.doesNotMatch(
      conf,
      new RegExp(PASSPHRASE),
      "the image keeps the PSK, not the passphrase",
    );
    await Deno.writeTextFile(join(tree, "etc/hostapd-test.conf"), HOSTAPD_CONF);
    await Deno.writeTextFile(join(tree, "etc/udhcpd-test.conf"), UDHCPD_CONF);
    await Deno.writeTextFile(join(tree, "init"), INIT, { mode: 0o755 });
    const cpio = await new Deno.Command("sh", {
      args: [
        "-c",
        'cd "$1" && find . | cpio -o -H newc --quiet -R 0:0 >"$2"',
        "sh",
        tree,
        join(dir, "initrd"),
      ],
    }).output();
    assert.ok(cpio.success, new TextDecoder().decode(cpio.stderr));

    const kernel = r.results.get("kernel-hwsim")!.out!;
    const qm = qemuMachine(board);
    const vm = startQemu({
      system: qm.system,
      machine: qm.machine,
      memory: "512M",
      cpu: qm.cpu,
      accel: "tcg",
      kernel: join(kernel, board.boot.kernelName),
      initrd: join(dir, "initrd"),
      append: `console=${qm.console} panic=-1 rdinit=/init`,
      noReboot: true,
      // hostapd waits for the kernel's random pool before the first handshake.
      devices: ["virtio-rng-pci"],
    });
    try {
      const m = await vm.console.expect(
        /ICENET-WIFI-(DONE|FAIL)/,
        300_000,
        "the Wi-Fi test's verdict",
      );
      const out = vm.console.transcript;
      const lease = out.match(/ICENET-WIFI-ADDR .*/)?.[0];
      assert.equal(m[1], "DONE", out.slice(-4000));
      assert.match(out, /ICENET-WIFI-ADDR inet 192\.168\.77\.1\d\d\/24/);
      assert.match(out, new RegExp(`SSID: ${SSID}`), "iw: wlan0 associated with the AP");
      assert.match(out, /^wpa_state=COMPLETED/m);
      assert.match(out, /^key_mgmt=WPA2-PSK/m);
      assert.match(out, /^pairwise_cipher=CCMP/m);
      assert.match(out, /ICENET-WIFI-PING-OK/);
      // The signed regulatory database loaded, and the settings' country is in force.
      assert.match(out, /^country DE: DFS-ETSI/m);
      assert.doesNotMatch(out, /the regulatory database did not load/);
      shown = lease ?? "";
      await vm.waitExit(60_000);
    } finally {
      await vm.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  console.log(`wifi hwsim: ${shown}; ${seconds.toFixed(0)} s in all`);
  await recordProof("wifi-hwsim", digest ?? digestOf(r.results, [test]), shown, seconds);
});
