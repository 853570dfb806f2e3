// Boot tests: each board's image (built through the store from the test image
// definition, fixtures/test-image.yaml) boots in QEMU to a login prompt with its root
// mounted read-only; zima also proves SSH, persistence across reboot, factory reset
// and ice-pkg against a signed repository served on the host. The rpi image also boots
// on raspi4b (QEMU 10 of the qemu stage) with the Pi 4's own device tree.
// Slow (full builds on a cold store, TCG boots): e2e tier only.
import assert from "node:assert/strict";
import { pbkdf2Sync } from "node:crypto";
import { join } from "node:path";
import $ from "dax";
import { type Board, loadBoard } from "../../lib/board.ts";
import { buildImage, buildStage } from "../../lib/qemu/build_image.ts";
import { boardVm, type BoardVmOptions } from "../../lib/qemu/board_vm.ts";
import { type Qemu, startGuest } from "../../lib/qemu/machine.ts";
import { parseStatus, powerOff } from "../../lib/qemu/report.ts";
import { GuestShell } from "../../lib/qemu/shell.ts";
import { assertClockRestored, BUILD_DATE, icePkgRightAfterBoot } from "./_clock.ts";
import {
  assertSettingsApplied,
  assertSettingsRefused,
  bootPartitionFiles,
  freshKey,
  loginOnScreen,
} from "./_first_boot.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const LOGIN = { user: "root", password: "icenet-test", timeoutMs: 600_000 };
import { bootKind } from "../../lib/boot/registry.ts";
import { e2eBoardList, e2eBoards, withSkipReason } from "./_boards.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** The guest console goes to a log file (ICENET_E2E_CONSOLE=1: also to stderr). */
function consoleLog(work: string, name = "console.log") {
  const file = Deno.openSync(join(work, name), { write: true, create: true });
  const loud = Deno.env.get("ICENET_E2E_CONSOLE") === "1";
  const enc = new TextEncoder();
  return (s: string) => {
    const b = enc.encode(s);
    file.writeSync(b);
    if (loud) Deno.stderr.writeSync(b);
  };
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Root is the squashfs, verified and read-only (under the overlay, it sits on /rom). */
/**
 * The last shutdown was clean: icenet-init got / read-only (no warning in `before`, the
 * console up to this boot) and the data partition's journal needed no recovery.
 */
async function assertCleanShutdown(sh: GuestShell, before: string) {
  assert.doesNotMatch(before, /unable to (remount|unmount)/);
  assert.doesNotMatch(await sh.check("dmesg | grep EXT4-fs || true"), /recovery complete/);
}

async function assertReadOnlyRoot(sh: GuestShell) {
  const mounts = await sh.check("cat /proc/mounts");
  const sq = mounts.split("\n").find((l) => l.split(" ")[2] === "squashfs");
  assert.ok(sq, `no squashfs mount in:\n${mounts}`);
  assert.match(sq.split(" ")[3], /^ro(,|$)/, `squashfs not read-only: ${sq}`);
  assert.match(sq.split(" ")[1], /^\/(rom)?$/, `squashfs mounted on ${sq.split(" ")[1]}`);
  // Through dm-verity (lib/rootfs/verity.ts): the kernel's own target, from the command line.
  assert.equal((await sh.check("cat /sys/block/dm-0/dm/name")).trim(), "icenet-root");
}

/**
 * The VM's disk is bigger than the image (padded to a power of two): the data partition,
 * the disk's last, and its ext4 grew at first boot to end within 1 MiB of the disk's end.
 * The kernel log says whether ext4 was resized at this boot (`thisBoot`): at the first,
 * and at no later one.
 */
async function assertDataGrew(sh: GuestShell, thisBoot = true) {
  const log = await sh.check("dmesg -s 4194304", 60_000);
  assert.match(log, /EXT4-fs \(\w+\): mounted filesystem/, "the kernel log reaches back to boot");
  if (thisBoot) assert.match(log, /EXT4-fs \(\w+\): resized filesystem to \d+/);
  else assert.doesNotMatch(log, /EXT4-fs \(\w+\): resiz/, "nothing to grow at a later boot");
  const dev = (await sh.check("findfs LABEL=data")).trim().replace("/dev/", "");
  const disk = (await sh.check(`basename $(readlink -f /sys/class/block/${dev}/..)`)).trim();
  // The line of digits: a service may print on the console (setup refusing a bad file
  // again at a later boot) while the command runs.
  const num = async (cmd: string) => {
    const out = await sh.check(cmd);
    const m = /^(\d+)$/m.exec(out);
    assert.ok(m, `${cmd} printed ${JSON.stringify(out)}`);
    return Number(m[1]);
  };
  const diskBytes = await num(`cat /sys/class/block/${disk}/size`) * 512;
  const partEnd = (await num(`cat /sys/class/block/${dev}/start`) +
    await num(`cat /sys/class/block/${dev}/size`)) * 512;
  assert.ok(diskBytes - partEnd < 2 * 1024 * 1024, `${dev} ends at ${partEnd} of ${diskBytes}`);
  const fsBytes = await num("df -k /overlay | awk 'NR==2 {print $2}'") * 1024;
  const partBytes = await num(`cat /sys/class/block/${dev}/size`) * 512;
  assert.ok(fsBytes > partBytes * 0.9, `ext4 on /overlay is ${fsBytes} B of ${partBytes} B`);
}

/**
 * First-boot Wi-Fi settings enabled the wifi service and init started it (a reload): it
 * loaded the signed regulatory database and waits for wlan0, which QEMU's Pi has not.
 */
/** wpa_passphrase's key: PBKDF2-SHA1 of the passphrase salted with the SSID, 4096 rounds. */
function wpaPsk(passphrase: string, ssid: string): string {
  return pbkdf2Sync(passphrase, ssid, 4096, 32, "sha1").toString("hex");
}

async function assertWifiStarted(sh: GuestShell) {
  const conf = await sh.check("cat /etc/wpa_supplicant.conf");
  assert.match(conf, /^\tssid="Garden"$/m);
  // The derived key (PBKDF2 of "a long passphrase" for "Garden"), never the passphrase.
  assert.match(conf, new RegExp(`^\\tpsk=${wpaPsk("a long passphrase", "Garden")}$`, "m"));
  assert.doesNotMatch(conf, /a long passphrase/);
  let log = "";
  for (let i = 0; i < 30 && !/waiting for wlan0/.test(log); i++) {
    await sh.check("sleep 1");
    log = (await sh.run("cat /var/log/wifi.log")).out;
  }
  assert.match(log, /^wifi: regulatory database loaded$/m);
  assert.match(log, /^wifi: waiting for wlan0$/m);
  assert.match(await sh.check("icenetctl status"), /^wifi ready\b/m);
}

async function assertServicesUp(sh: GuestShell, wanted: string[]) {
  // Services may still be starting right after login: give them 30 s.
  let services = parseStatus("");
  for (let i = 0; i < 30; i++) {
    services = parseStatus(await sh.check("icenetctl status"));
    const bad = services.filter((s) => !["ready", "done"].includes(s.state));
    if (!bad.length && wanted.every((w) => services.some((s) => s.name === w))) return services;
    await sh.check("sleep 1");
  }
  assert.fail(`services not all ready: ${JSON.stringify(services)}`);
}

/**
 * The test image (fixtures/test-image.yaml: a test password and SSH key). The rootfs and
 * image stages read the definition from ICENET_IMAGE, set only while building so that
 * other tests in this process see the default.
 */
async function buildTestImage(board: Board): Promise<string> {
  const before = Deno.env.get("ICENET_IMAGE");
  Deno.env.set("ICENET_IMAGE", join(FIXTURES, "test-image.yaml"));
  try {
    return await buildImage(ROOT, board, true);
  } finally {
    if (before === undefined) Deno.env.delete("ICENET_IMAGE");
    else Deno.env.set("ICENET_IMAGE", before);
  }
}

async function boot(board: Board, work: string, vmOpts: BoardVmOptions = {}) {
  // ICENET_E2E_IMAGE_<BOARD> boots a given image instead (debugging the test itself).
  const image = Deno.env.get(`ICENET_E2E_IMAGE_${board.name.toUpperCase()}`) ??
    await buildTestImage(board);
  const spec = await boardVm(board, image, work, vmOpts);
  const vm = await startGuest(spec, consoleLog(work));
  return { vm, image };
}

async function withVm(vm: Qemu, work: string, f: () => Promise<void>) {
  try {
    await f();
  } catch (e) {
    const err = e as Error;
    err.message += `\n(console log: ${join(work, "console.log")})`;
    throw err;
  } finally {
    await vm.stop(2000);
  }
}

Deno.test(
  "zima image: login, services, SSH, persistence, factory reset, ice-pkg",
  opts,
  async (t) => {
    const board = await loadBoard(ROOT, "zima");
    const work = await Deno.makeTempDir({ prefix: "icenet-e2e-zima-" });
    const sshPort = freePort();
    // As a person would after flashing: a first-boot file with a new key and host name.
    const [firstBootKey, firstBootPub] = await freshKey(work);
    // A SATA disk on the AHCI controller, probed with the board's libata arguments.
    const sata = join(work, "sata.img");
    await Deno.writeFile(sata, new Uint8Array());
    await Deno.truncate(sata, 64 << 20);
    const { vm } = await boot(board, work, {
      forwards: [{ host: sshPort, guest: 22 }],
      sataDisks: [sata],
      screen: true,
      bootFiles: {
        "icenet-setup.txt": `# first boot\r\nhostname = prov-zima\r\nssh_key = ${firstBootPub}\r\n`,
      },
    });
    await withVm(vm, work, async () => {
      let sh = await GuestShell.login(vm.console, LOGIN);
      await t.step(
        "first-boot settings are applied once and removed from the ESP",
        () =>
          assertSettingsApplied(sh, vm.console, {
            hostname: "prov-zima",
            key: firstBootPub,
          }),
      );
      await t.step("root is the squashfs, read-only", () => assertReadOnlyRoot(sh));
      await t.step("the data partition grew to fill the disk", () => assertDataGrew(sh));
      await t.step("the disk keeps mq-deadline (zima's SATA disks)", async () => {
        const s = await sh.check("cat /sys/block/vda/queue/scheduler");
        assert.match(s, /\[mq-deadline\]/);
      });
      await t.step("SATA ports wake without libata's 200 ms pause, and find a disk", async () => {
        assert.match(await sh.check("cat /proc/cmdline"), /\blibata\.force=nodbdelay\b/);
        const log = await sh.check("dmesg | grep ' ata1: '");
        assert.match(log, /ata1: FORCE: link flag 0x800 forced -> 0x800/);
        assert.match(log, /ata1: SATA link up/);
        // 64 MiB in 512-byte sectors: the disk attached, read through the AHCI port.
        assert.equal((await sh.check("cat /sys/block/sda/size")).trim(), String(64 << 11));
      });
      await t.step("kernel pointers and dmesg are restricted", async () => {
        const v = await sh.check(
          "cat /proc/sys/kernel/kptr_restrict /proc/sys/kernel/dmesg_restrict",
        );
        assert.equal(v.trim().split(/\s+/).join(" "), "2 1");
      });
      await t.step("icenetctl status shows the services ready", async () => {
        await assertServicesUp(sh, ["dropbear"]);
      });
      await t.step("the guest is on QEMU's user network", async () => {
        const addr = await sh.run("ip -4 addr show dev eth0");
        assert.match(
          addr.out,
          /inet 10\.0\.2\.\d+/,
          `no IPv4 address on eth0 (no network service?):\n${addr.out}`,
        );
      });
      await t.step(
        "dropbear accepts the image's key and the first-boot key through the port forward",
        async () => {
          const key = join(work, "key");
          await Deno.copyFile(join(FIXTURES, "test_ed25519"), key);
          await Deno.chmod(key, 0o600);
          for (const k of [key, firstBootKey]) {
            let last = "";
            for (let i = 0; i < 20 && last !== "ok"; i++) {
              const r =
                await $`timeout 60 dbclient -y -y -i ${k} -p ${sshPort} root@127.0.0.1 ${"echo ssh-ok; id -u"}`
                  .stdout("piped").stderr("piped").noThrow();
              if (r.code === 0) {
                assert.equal(r.stdout, "ssh-ok\n0\n");
                last = "ok";
              } else {
                last = r.stderr;
                await new Promise((res) => setTimeout(res, 3000));
              }
            }
            assert.equal(last, "ok", `no SSH login with ${k}: ${last}`);
          }
        },
      );
      await t.step("a login on the screen (tty1), typed on a USB keyboard", async () => {
        const png = await loginOnScreen(
          sh,
          join(work, "monitor.sock"),
          LOGIN.user,
          LOGIN.password,
          work,
        );
        console.log(`tty1 screenshot: ${png}`);
      });
      await t.step(
        "ice-pkg installs and removes a package from a signed repo over HTTP",
        async () => {
          const repo = join(await buildStage(ROOT, board, "repo", true), "repo");
          const server = Deno.serve(
            { hostname: "127.0.0.1", port: 0, onListen() {} },
            async (req) => {
              const name = new URL(req.url).pathname.slice(1);
              if (!/^[A-Za-z0-9._+-]+(\.sig)?$/.test(name)) {
                return new Response("no", { status: 404 });
              }
              try {
                return new Response(await Deno.readFile(join(repo, name)));
              } catch {
                return new Response("not found", { status: 404 });
              }
            },
          );
          try {
            const url = `http://10.0.2.2:${server.addr.port}/`;
            assert.notEqual((await sh.run("ice-pkg list")).out.includes("chrony"), true);
            await sh.check(`ice-pkg --repo ${url} update`, 300_000);
            await sh.check(`ice-pkg --repo ${url} install chrony`, 300_000);
            assert.match(await sh.check("ice-pkg list"), /chrony/);
            await sh.check("test -x /usr/sbin/chronyd || command -v chronyd");
            await sh.check(`ice-pkg --repo ${url} remove chrony`, 300_000);
            assert.doesNotMatch(await sh.check("ice-pkg list"), /chrony/);
          } finally {
            await server.shutdown();
          }
        },
      );
      await t.step("a file written to /etc survives a reboot", async () => {
        await sh.check("echo kept > /etc/icenet-e2e && sync");
        await sh.send("icenetctl reboot");
        sh = await GuestShell.login(vm.console, LOGIN);
        assert.equal(await sh.check("cat /etc/icenet-e2e"), "kept\n");
        await assertCleanShutdown(sh, vm.console.transcript);
      });
      await t.step(
        "the second boot applies nothing, keeps the settings and has nothing to grow",
        async () => {
          const since = vm.console.transcript.lastIndexOf("icenet-preinit");
          assert.doesNotMatch(vm.console.transcript.slice(since), /icenet-setup:/);
          assert.equal((await sh.check("hostname")).trim(), "prov-zima");
          assert.ok(!(await bootPartitionFiles(sh)).includes("icenet-setup.error.txt"));
          await assertDataGrew(sh, false);
        },
      );
      await t.step("a factory reset removes it", async () => {
        await sh.send("icenet-factory-reset --yes");
        sh = await GuestShell.login(vm.console, LOGIN);
        assert.equal((await sh.run("test -e /etc/icenet-e2e")).status, 1);
        await assertReadOnlyRoot(sh);
      });
      await powerOff(sh, vm);
    });
    await Deno.remove(work, { recursive: true });
  },
);

// Every Pi board (the Pi firmware and U-Boot kinds), from boards/.
for (const e of (await e2eBoardList()).filter((e) => bootKind(e.board).qemu !== "uefi")) {
  const { name, board } = e;
  Deno.test(
    withSkipReason(
      `${name} image: boots to a login prompt with the root read-only; the clock never goes back`,
      e,
    ),
    { ...opts, ignore: e.skip !== undefined },
    async (t) => {
      const work = await Deno.makeTempDir({ prefix: `icenet-e2e-${name}-` });
      // First-boot settings: applied on rpi; a malformed file on rpi32, refused whole.
      const setup = name === "rpi"
        ? "hostname = prov-rpi\nipv4 = 192.168.7.2/24\ngateway = 192.168.7.1\n" +
          "timezone = CET-1CEST,M3.5.0,M10.5.0/3\n" +
          "wifi_country = DE\nwifi_ssid = Garden\nwifi_psk = a long passphrase\n"
        : "hostname = prov-rpi32\nipv4 = 192.168.7.300/24\n";
      const { vm, image } = await boot(board, work, { bootFiles: { "icenet-setup.txt": setup } });
      // QEMU's raspi machines have no real-time clock, like every Pi: the kernel starts in 1970.
      const ahead = BUILD_DATE + 400 * 86400;
      await withVm(vm, work, async () => {
        const sh = await GuestShell.login(vm.console, LOGIN);
        if (name === "rpi") {
          await t.step(
            "first-boot settings are applied and removed from the boot partition",
            () =>
              assertSettingsApplied(sh, vm.console, {
                hostname: "prov-rpi",
                network: /^ipv4=192\.168\.7\.2\/24\ngateway=192\.168\.7\.1$/m,
                localtimeZone: "CEST",
              }),
          );
        } else {
          await t.step(
            "a malformed first-boot file is refused whole, with an error file",
            () =>
              assertSettingsRefused(
                sh,
                vm.console,
                /icenet-setup\.txt:2: ipv4: dhcp, or an address/,
                "icenet-test",
              ),
          );
        }
        if (name === "rpi") {
          await t.step(
            "Wi-Fi settings start the wifi service, which loads the regulatory database",
            () => assertWifiStarted(sh),
          );
        }
        await t.step("root is the squashfs, read-only", () => assertReadOnlyRoot(sh));
        await t.step("the data partition grew to fill the SD card", () => assertDataGrew(sh));
        // Flash needs no I/O scheduler, and mq-deadline's requests held 0.5 MB of slab.
        await t.step("the SD card has no I/O scheduler", async () => {
          const s = await sh.check("cat /sys/block/mmcblk0/queue/scheduler");
          assert.equal(s.trim(), "[none]");
        });
        await t.step("the service set is up", async () => {
          await assertServicesUp(sh, ["dropbear", "clock"]);
        });
        await t.step(
          "the clock was put forward to the image's build date at boot",
          () =>
            assertClockRestored(sh, vm.console.transcript, BUILD_DATE, "the image's build date"),
        );
        // rpi32 runs ice-pkg on Node.js (no Deno for armv7), rpi on Deno: both are checked.
        await t.step(
          "ice-pkg installs right after boot with a valid index, no time server, and removes",
          async () => {
            await icePkgRightAfterBoot(sh);
            await sh.check("ice-pkg remove e2e-clock", 600_000);
            assert.equal((await sh.run("test -e /usr/share/e2e-clock/ok")).status, 1);
            assert.doesNotMatch(await sh.check("ice-pkg list"), /e2e-clock/);
          },
        );
        // As if NTP had answered: the clock service saves this time when it is stopped.
        await sh.check(`date -u -s @${ahead} >/dev/null`);
        await powerOff(sh, vm);
      });
      await t.step(
        "the next boot restores the time saved at shutdown and has no data partition to grow",
        async () => {
          const again = await startGuest(
            await boardVm(board, image, work, { reuseDisk: true }),
            consoleLog(work, "console-2.log"),
          );
          await withVm(again, work, async () => {
            const sh = await GuestShell.login(again.console, LOGIN);
            await assertClockRestored(
              sh,
              again.console.transcript,
              ahead,
              "the time saved at /overlay/clock",
            );
            await assertCleanShutdown(sh, await Deno.readTextFile(join(work, "console.log")));
            // The first boot grew it; a later one finds nothing to do and asks nothing of ext4.
            await assertDataGrew(sh, false);
            await powerOff(sh, again);
          });
        },
      );
      await Deno.remove(work, { recursive: true });
    },
  );
}

Deno.test(
  "rpi image on raspi4b (the Pi 4 device tree, QEMU 10 of the qemu stage): login, root read-only, data grown, services up",
  { ...opts, ignore: !e2eBoards().includes("rpi") },
  async (t) => {
    const board = await loadBoard(ROOT, "rpi");
    const work = await Deno.makeTempDir({ prefix: "icenet-e2e-rpi4-" });
    const { vm } = await boot(board, work, { machine: "raspi4b" });
    await withVm(vm, work, async () => {
      const sh = await GuestShell.login(vm.console, LOGIN);
      await t.step(
        "the kernel runs on the Pi 4's tree, its SD card where QEMU puts it",
        async () => {
          assert.match(await sh.check("cat /proc/device-tree/model"), /^Raspberry Pi 4 Model B/);
          const mmc = await sh.check("readlink -f /sys/class/block/mmcblk0");
          assert.match(mmc, /\/fe300000\.mmc\//, "the root card is not on the Arasan SDHCI");
        },
      );
      await t.step(
        "the nodes of what QEMU lacks are disabled in the tree it boots; nothing faults or stalls",
        async () => {
          for (
            const node of [
              "soc/interrupt-controller@7ef00100",
              "soc/clock@7ef00000",
              "emmc2bus/mmc@7e340000",
            ]
          ) {
            const status = await sh.check(`cat /proc/device-tree/${node}/status`);
            assert.equal(status.replace(/\0/g, ""), "disabled", node);
          }
          assert.doesNotMatch(vm.console.transcript, /Internal error|external abort|Oops|stall/);
        },
      );
      await t.step("root is the squashfs, read-only", () => assertReadOnlyRoot(sh));
      await t.step("the data partition grew to fill the SD card", () => assertDataGrew(sh));
      await t.step("the service set is up", async () => {
        await assertServicesUp(sh, ["dropbear", "clock"]);
      });
      await powerOff(sh, vm);
    });
    await Deno.remove(work, { recursive: true });
  },
);
