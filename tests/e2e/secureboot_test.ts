// UEFI Secure Boot on zima under QEMU (issue 19): OVMF's secure-boot build (q35 with SMM
// and a secure flash) with the project's keys enrolled in its variable store — the Secure
// Boot key set the image was signed with (ICENET_SECUREBOOT_KEYS, else the store's
// development set), written into an empty OVMF_VARS as PK, KEK and db
// (lib/qemu/ovmf_vars.ts), so the firmware starts in user mode with Secure Boot on.
//   1. The built image boots to the login prompt; the kernel says Secure Boot is on.
//   2. Slot a's UKI with one byte of its kernel section changed: the firmware refuses it
//      (systemd-boot reports the security violation), and no kernel starts.
//   3. Slot a's UKI signed with another key set's db: refused the same way; systemd-boot
//      (BOOTX64.EFI) signed with another key: the firmware itself refuses to start it.
//   4. Enrolment as the README tells it, from Linux: OVMF in setup mode (an empty store,
//      Secure Boot off) boots the image; db.auth, KEK.auth, PK.auth of
//      `deno task keys secureboot` (put on the ESP) are written through efivarfs; after a
//      reboot the firmware is in user mode and the image boots with Secure Boot on.
//   5. A/B updates under Secure Boot (where the stub ignores the entries' options, so no
//      icenet.trial=1 reaches the kernel): v2, installed into slot b over HTTP, boots its
//      own signed UKI on trial and commits; v3, whose service never becomes ready, is
//      tried in slot a once and the board falls back to v2 — the trial known from
//      systemd-boot's boot counting alone.
// Slow (an image build, about ten TCG boots): e2e tier only.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import $ from "dax";
import { loadBoard } from "../../lib/board.ts";
import { readPe } from "../../lib/boot/pe.ts";
import { fatCopyOut } from "../../lib/image/fat.ts";
import { buildImage, buildStage } from "../../lib/qemu/build_image.ts";
import { boardVm, partitionOffsets } from "../../lib/qemu/board_vm.ts";
import { startGuest } from "../../lib/qemu/machine.ts";
import { prepareSecureBootOvmf } from "../../lib/qemu/ovmf.ts";
import { GuestShell } from "../../lib/qemu/shell.ts";
import { signatureList, writeEnrolFiles } from "../../lib/secureboot/enrol.ts";
import { loadKeySet, makeKeySet, secureBootKeys } from "../../lib/secureboot/keys.ts";
import { signEfi } from "../../lib/secureboot/sign.ts";
import { SOURCE_DATE_EPOCH } from "../../lib/stage_env.ts";
import { e2eBoards } from "./_boards.ts";
import {
  LOGIN,
  loginUp,
  makeBundle,
  rebootAndLogin,
  serveDir,
  status,
  variantRoot,
  withTestImage,
} from "./_update.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const opts = { sanitizeOps: false, sanitizeResources: false };
const UKI = "slot-a/vmlinuz";
/**
 * The firmware's refusal of slot a's UKI, as systemd-boot reports LoadImage's status
 * (OVMF answers a failed check with Access Denied; other firmware with Security Violation).
 */
const REFUSED = /Error loading \\slot-a\\vmlinuz: (Access Denied|Security Violation)/;

/** The test image (fixtures/test-image.yaml: a console password for root). */
async function testImage(): Promise<string> {
  return await withTestImage(async () => buildImage(ROOT, await loadBoard(ROOT, "zima"), true));
}

Deno.test({
  name: "zima Secure Boot under OVMF with the project's keys: signed boots, changed or " +
    "foreign-signed UKI refused, keys enrolled from Linux, A/B updates",
  ignore: !e2eBoards().includes("zima"),
  ...opts,
  fn: async (t) => {
    const board = await loadBoard(ROOT, "zima");
    const image = await testImage();
    const keys = await secureBootKeys();
    const work = await Deno.makeTempDir({ prefix: "icenet-e2e-secureboot-" });
    const esl = { PK: new Uint8Array(), KEK: new Uint8Array(), db: new Uint8Array() };
    for (const name of ["PK", "KEK", "db"] as const) {
      esl[name] = await Deno.readFile((await signatureList(keys, name, work)).esl);
    }
    const enrolledAt = new Date(Number(SOURCE_DATE_EPOCH) * 1000);
    const uki = join(work, "vmlinuz.signed");
    await fatCopyOut(image, (await partitionOffsets(image))[0], UKI, uki);
    await $`sbverify --cert ${keys.db.cert} ${uki}`.quiet();

    /**
     * Boot the image (with `bootFiles` on its ESP) under OVMF's secure-boot build, with the
     * key set enrolled, or else (`setupMode`) an empty variable store.
     */
    const boot = async (
      name: string,
      bootFiles?: Record<string, Uint8Array>,
      setupMode = false,
      reboots = setupMode,
    ) => {
      const dir = join(work, name);
      await Deno.mkdir(dir);
      const spec = await boardVm(board, image, dir, { noReboot: !reboots, bootFiles });
      spec.firmware = await prepareSecureBootOvmf(dir, setupMode ? undefined : esl, enrolledAt);
      const log = await Deno.open(join(dir, "console.log"), { write: true, create: true });
      const enc = new TextEncoder();
      const started = performance.now();
      const vm = await startGuest(spec, (s) => log.writeSync(enc.encode(s)));
      return { vm, started, log };
    };

    /** A refused boot: the refusal is on the console and no kernel started. */
    const refused = async (
      name: string,
      ukiBytes: Uint8Array,
      file = UKI,
      refusal = REFUSED,
    ) => {
      const { vm, started, log } = await boot(name, { [file]: ukiBytes });
      try {
        await vm.console.expect(refusal, 600_000, `the firmware refusing ${file}`);
        const secs = (performance.now() - started) / 1000;
        // Give a wrongly started kernel time to say so.
        await new Promise((r) => setTimeout(r, 5000));
        const seen = vm.console.transcript;
        assert.doesNotMatch(seen, /EFI stub:|Linux version/, "a kernel started");
        const line = seen.split(/\r?\n/).find((l) => refusal.test(l))?.trim();
        console.log(`secureboot: ${name}: refused after ${secs.toFixed(1)} s: ${line}`);
      } finally {
        await vm.stop();
        log.close();
      }
    };

    await t.step("the signed image boots to login with Secure Boot on", async () => {
      const { vm, started, log } = await boot("signed");
      try {
        const sh = await GuestShell.login(vm.console, LOGIN);
        const wall = (performance.now() - started) / 1000;
        const uptime = Number((await sh.check("cut -d' ' -f1 /proc/uptime")).trim());
        const seen = vm.console.transcript;
        assert.match(seen, /EFI stub: UEFI Secure Boot is enabled/);
        assert.match(seen, /secureboot: Secure boot enabled/);
        // The UKI's own command line ran (slot a's), and with it the root hash it pins:
        // the root is the dm-verity target, so the chain goes on to every root block.
        const cmdline = await sh.check("cat /proc/cmdline");
        assert.match(cmdline, / icenet\.slot=a( |$)/m);
        assert.match(
          cmdline,
          / root=\/dev\/dm-0 .*dm-mod\.create="icenet-root,,0,ro,0 \d+ verity 1 /,
        );
        assert.equal((await sh.check("cat /sys/block/dm-0/dm/name")).trim(), "icenet-root");
        console.log(
          `bench: secureboot_boot_to_login ${wall.toFixed(1)} s (wall, TCG; guest uptime ` +
            `${uptime.toFixed(2)} s)`,
        );
      } finally {
        await vm.stop();
        log.close();
      }
    });

    await t.step("a UKI with one byte changed is refused", async () => {
      const bytes = await Deno.readFile(uki);
      const linux = readPe(bytes).sections.find((s) => s.name === ".linux");
      assert.ok(linux, "the UKI has a .linux section");
      const at = linux.rawOffset + Math.floor(linux.rawSize / 2);
      bytes[at] ^= 0x01;
      await refused("one-byte", bytes);
    });

    await t.step("a UKI signed with another key is refused", async () => {
      const other = join(work, "other-keys");
      await makeKeySet(other);
      const foreign = await loadKeySet(other);
      const bare = join(work, "vmlinuz.unsigned");
      await Deno.copyFile(uki, bare);
      await $`sbattach --remove ${bare}`.quiet();
      const resigned = join(work, "vmlinuz.foreign");
      await signEfi(foreign.db, bare, resigned);
      assert.notEqual(foreign.id, keys.id);
      await refused("foreign-key", await Deno.readFile(resigned));
    });

    await t.step("systemd-boot signed with another key is refused by the firmware", async () => {
      const other = await loadKeySet(join(work, "other-keys"));
      const loader = join(work, "BOOTX64.EFI");
      await fatCopyOut(image, (await partitionOffsets(image))[0], "EFI/BOOT/BOOTX64.EFI", loader);
      await $`sbattach --remove ${loader}`.quiet();
      await signEfi(other.db, loader, `${loader}.foreign`);
      await refused(
        "foreign-loader",
        await Deno.readFile(`${loader}.foreign`),
        "EFI/BOOT/BOOTX64.EFI",
        /BdsDxe: failed to load .*: (Access Denied|Security Violation)/,
      );
    });
    await t.step(
      "keys enrolled from Linux through efivarfs (README) turn Secure Boot on",
      async () => {
        const enrol = join(work, "enrol");
        await Deno.mkdir(enrol);
        for (const n of ["PK", "KEK", "db"]) {
          await Deno.copyFile(keys[n as "PK"].key, join(enrol, `${n}.key`));
          await Deno.copyFile(keys[n as "PK"].cert, join(enrol, `${n}.crt`));
        }
        await writeEnrolFiles(enrol);
        const files: Record<string, Uint8Array> = {};
        for (const n of ["PK", "KEK", "db"]) {
          files[`icenet-keys/${n}.auth`] = await Deno.readFile(join(enrol, `${n}.auth`));
        }
        const { vm, log } = await boot("efivarfs", files, true);
        try {
          let sh = await GuestShell.login(vm.console, LOGIN);
          assert.doesNotMatch(vm.console.transcript, /secureboot: Secure boot enabled/);
          // The README's commands (Secure Boot on a Zima board, from Linux).
          await sh.check(
            "mkdir -p /run/esp && mount -t vfat /dev/vda1 /run/esp && cd /run/esp/icenet-keys && " +
              "(mountpoint -q /sys/firmware/efi/efivars || " +
              "mount -t efivarfs efivarfs /sys/firmware/efi/efivars)",
          );
          for (const [n, guid] of ENROL) {
            await sh.check(
              `{ printf '\\047\\000\\000\\000'; cat ${n}.auth; } > /run/${n}.var && ` +
                `cat /run/${n}.var > /sys/firmware/efi/efivars/${n}-${guid}`,
            );
          }
          // SetupMode reads 0 once PK is in: the firmware is in user mode.
          const setup = await sh.check(
            `od -An -tu1 /sys/firmware/efi/efivars/SetupMode-${ENROL[1][1]}`,
          );
          assert.match(setup, /^\s*\d+\s+\d+\s+\d+\s+\d+\s+0\s*$/m, setup);
          const before = vm.console.transcript.length;
          await vm.console.write("umount /run/esp; reboot -f\n");
          sh = await GuestShell.login(vm.console, LOGIN);
          const after = vm.console.transcript.slice(before);
          assert.match(after, /secureboot: Secure boot enabled/);
          assert.match(await sh.check("cat /proc/cmdline"), / icenet\.slot=a( |$)/m);
          console.log("secureboot: enrolled from Linux via efivarfs; rebooted with Secure Boot on");
        } finally {
          await vm.stop();
          log.close();
        }
      },
    );
    await t.step(
      "A/B update under Secure Boot: v2 commits in slot b, a failing v3 falls back",
      async () => {
        const kernel = await buildStage(ROOT, board, "kernel", true);
        const rootfs = await withTestImage(() => buildStage(ROOT, board, "rootfs", true));
        const built = { kernel, image: dirname(image) };
        const web = join(work, "web");
        await Deno.mkdir(web);
        const osRelease = (v: string) =>
          `NAME="IceNet-OS"\nID=icenet\nVERSION_ID=${v}\nPRETTY_NAME="IceNet-OS ${v}"\n`;
        const v2 = await variantRoot(rootfs, join(work, "v2"), {
          "etc/os-release": osRelease("2"),
        });
        const v3 = await variantRoot(rootfs, join(work, "v3"), {
          "etc/os-release": osRelease("3"),
          "etc/icenet/services/never-ready": "command = /bin/sleep 100000\nready = notify-fd\n",
          "etc/icenet/boot.conf": "timeout = 40s\n",
        });
        await makeBundle(board, built, join(web, "v2"), { root: v2, version: "2", serial: 2 });
        await makeBundle(board, built, join(web, "v3"), { root: v3, version: "3", serial: 3 });
        const server = serveDir(web);
        const url = (f: string) => `http://10.0.2.2:${server.addr.port}/${f}`;
        const { vm, log } = await boot("update", undefined, false, true);
        try {
          let sh = await loginUp(vm);
          await sh.check(`icenet-update install ${url("v2")}`, 300_000);
          assert.equal((await status(sh)).other_state, "trial-armed");
          let mark = vm.console.transcript.length;
          sh = await rebootAndLogin(vm, sh);
          assert.match(vm.console.transcript.slice(mark), /secureboot: Secure boot enabled/);
          const cmdline = await sh.check("cat /proc/cmdline");
          assert.match(cmdline, / icenet\.slot=b( |$)/m);
          assert.doesNotMatch(cmdline, /icenet\.trial/, "the entry's options reached the kernel");
          let s = await status(sh);
          assert.deepEqual([s.slot, s.state, s.version], ["b", "committed", "2"]);

          await sh.check(`icenet-update install ${url("v3")}`, 300_000);
          mark = vm.console.transcript.length;
          await sh.send("icenetctl reboot");
          await vm.console.expect(/icenet\.slot=a/, 300_000, "the trial boot of slot a");
          await vm.console.expect(/boot gate: bad/, 300_000, "the trial's gate to fail");
          await vm.console.expect(/icenet-preinit/, 300_000, "the boot after the failed trial");
          sh = await loginUp(vm);
          assert.match(await sh.check("cat /proc/cmdline"), / icenet\.slot=b( |$)/m);
          s = await status(sh);
          assert.deepEqual([s.slot, s.state, s.version, s.other_state], [
            "b",
            "committed",
            "2",
            "failed-trial",
          ]);
          const refusals = vm.console.transcript.slice(mark).match(REFUSED);
          assert.equal(refusals, null, "a signed UKI was refused");
          console.log("secureboot: v2 committed in slot b; v3's failed trial fell back to v2");
        } finally {
          await vm.stop();
          log.close();
          await server.shutdown();
        }
      },
    );
    await Deno.remove(work, { recursive: true });
  },
});

/** The variables to enrol, in order (PK last: it ends setup mode), and their GUIDs. */
const ENROL: [string, string][] = [
  ["db", "d719b2cb-3d3a-4596-a3bc-dad00e67656f"],
  ["KEK", "8be4df61-93ca-11d2-aa0d-00e098032b8c"],
  ["PK", "8be4df61-93ca-11d2-aa0d-00e098032b8c"],
];
