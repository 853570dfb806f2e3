// UEFI Secure Boot on zima under QEMU (issue 19): OVMF's secure-boot build (q35 with SMM
// and a secure flash) with the project's keys enrolled in its variable store — the Secure
// Boot key set the image was signed with (ICENET_SECUREBOOT_KEYS, else the store's
// development set), written into an empty OVMF_VARS as PK, KEK and db
// (lib/qemu/ovmf_vars.ts), so the firmware starts in user mode with Secure Boot on.
//   1. The built image boots to the login prompt; the kernel says Secure Boot is on.
//   2. Slot a's UKI with one byte of its kernel section changed: the firmware refuses it
//      (systemd-boot reports the security violation), and no kernel starts.
//   3. Slot a's UKI signed with another key set's db: refused the same way.
// Slow (an image build, three TCG boots): e2e tier only.
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { loadBoard } from "../../lib/board.ts";
import { readPe } from "../../lib/boot/pe.ts";
import { fatCopyOut } from "../../lib/image/fat.ts";
import { buildImage } from "../../lib/qemu/build_image.ts";
import { boardVm, partitionOffsets } from "../../lib/qemu/board_vm.ts";
import { startGuest } from "../../lib/qemu/machine.ts";
import { prepareSecureBootOvmf } from "../../lib/qemu/ovmf.ts";
import { GuestShell } from "../../lib/qemu/shell.ts";
import { signatureList } from "../../lib/secureboot/enrol.ts";
import { loadKeySet, makeKeySet, secureBootKeys } from "../../lib/secureboot/keys.ts";
import { signEfi } from "../../lib/secureboot/sign.ts";
import { SOURCE_DATE_EPOCH } from "../../lib/stage_env.ts";
import { e2eBoards } from "./_boards.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const LOGIN = { user: "root", password: "icenet-test", timeoutMs: 600_000 };
const opts = { sanitizeOps: false, sanitizeResources: false };
const UKI = "slot-a/vmlinuz";
/** What the firmware's refusal looks like on the console (systemd-boot's error line). */
const REFUSED = /Security Violation|Access Denied/i;

/** The test image (fixtures/test-image.yaml: a console password for root). */
async function testImage(): Promise<string> {
  const before = Deno.env.get("ICENET_IMAGE");
  Deno.env.set("ICENET_IMAGE", join(FIXTURES, "test-image.yaml"));
  try {
    return await buildImage(ROOT, await loadBoard(ROOT, "zima"), true);
  } finally {
    if (before === undefined) Deno.env.delete("ICENET_IMAGE");
    else Deno.env.set("ICENET_IMAGE", before);
  }
}

Deno.test({
  name: "zima Secure Boot under OVMF with the project's keys: signed boots, changed or " +
    "foreign-signed UKI refused",
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

    /** Boot the image (with `ukiBytes` as slot a's UKI, if given) under Secure Boot. */
    const boot = async (name: string, ukiBytes?: Uint8Array) => {
      const dir = join(work, name);
      await Deno.mkdir(dir);
      const spec = await boardVm(board, image, dir, {
        noReboot: true,
        ...(ukiBytes ? { bootFiles: { [UKI]: ukiBytes } } : {}),
      });
      spec.firmware = await prepareSecureBootOvmf(dir, esl, enrolledAt);
      const log = await Deno.open(join(dir, "console.log"), { write: true, create: true });
      const enc = new TextEncoder();
      const started = performance.now();
      const vm = await startGuest(spec, (s) => log.writeSync(enc.encode(s)));
      return { vm, started, log };
    };

    /** A refused boot: the refusal is on the console and no kernel started. */
    const refused = async (name: string, ukiBytes: Uint8Array) => {
      const { vm, started, log } = await boot(name, ukiBytes);
      try {
        await vm.console.expect(REFUSED, 600_000, "the firmware refusing the UKI");
        const secs = (performance.now() - started) / 1000;
        // Give a wrongly started kernel time to say so.
        await new Promise((r) => setTimeout(r, 5000));
        const seen = vm.console.transcript;
        assert.doesNotMatch(seen, /EFI stub:|Linux version/, "a kernel started");
        const line = seen.split(/\r?\n/).find((l) => REFUSED.test(l))?.trim();
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
        // The UKI's own command line ran (slot a's).
        assert.match(await sh.check("cat /proc/cmdline"), / icenet\.slot=a( |$)/m);
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
    await Deno.remove(work, { recursive: true });
  },
});
