/**
 * The U-Boot A/B boot path (issue #18) on each board whose boot kind is `u-boot`
 * (rpi on raspi3b, rpi32 on raspi2b), in QEMU with the image's own U-Boot and
 * boot.scr booting from the SD card:
 *   (a) no state file: slot a boots, committed (no icenet.trial=1), to the login prompt;
 *   (b) icenet.env saying "try b once" (written by lib/boot/uboot_env.ts, as the
 *       updater will) and a slot b on the card: b boots once with icenet.trial=1 and
 *       the try is saved (both copies, tries 0); after a board reset, slot a boots;
 *   (c) b committed but its kernel missing (a half-written update): a boots.
 * Slot b is slot a's kernel with its own cmdline.env (icenet.slot=b); the root stays
 * p2 until the layout has a root-b partition. Prints the time from the board's
 * start (QEMU's, or the reset) to U-Boot starting the kernel. It boots the test image:
 * the kernel's command line is read from the console, which the default image's `quiet`
 * keeps the kernel from printing.
 *
 *   deno test -A tests/e2e/uboot_ab_test.ts
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Board } from "../../lib/board.ts";
import { bootKind } from "../../lib/boot/registry.ts";
import { slotDir } from "../../lib/image/layout.ts";
import {
  decodeUbootEnv,
  encodeUbootEnv,
  ICENET_ENV_BACKUP,
  ICENET_ENV_FILE,
} from "../../lib/boot/uboot_env.ts";
import { CMDLINE_FILE } from "../../lib/boot/uboot_script.ts";
import { fatCopyOut } from "../../lib/image/fat.ts";
import { buildImage } from "../../lib/qemu/build_image.ts";
import { boardVm, type BoardVmOptions, partitionOffsets } from "../../lib/qemu/board_vm.ts";
import { type Qemu, startGuest } from "../../lib/qemu/machine.ts";
import { HumanMonitor } from "../../lib/qemu/monitor.ts";
import { ROOT } from "../../lib/registry.ts";
import { e2eBoardList, withSkipReason } from "./_boards.ts";
import { withTestImage } from "./_update.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
/** TCG on a shared machine: U-Boot's USB scan and the kernel take their time. */
const BOOT_MS = 300_000;

/** The boot script's summary line: good, trial, tries left, the slot and its extra args. */
const CHOICE =
  /icenet: good (\w*), trial (\w*), tries left (\w*): booting slot (\w)([^\r\n]*)\r?\n/;

interface Choice {
  good: string;
  trial: string;
  tries: string;
  slot: string;
  extra: string;
  /** The kernel's command line, as it printed it. */
  cmdline: string;
  /** Seconds from `since` (the board's start) to U-Boot's "Starting kernel". */
  ubootSeconds: number;
}

/**
 * One boot as the console shows it: the script's choice, the kernel. (rpi_arm64 on
 * raspi3b prints nothing before its relocation, not even its banner.)
 */
async function nextBoot(vm: Qemu, since: number): Promise<Choice> {
  await vm.console.expect(/Core: +\d+ devices/, BOOT_MS, "U-Boot");
  const m = await vm.console.expect(CHOICE, BOOT_MS, "the boot script's choice");
  await vm.console.expect(/Starting kernel/, BOOT_MS, "U-Boot starting the kernel");
  const ubootSeconds = (performance.now() - since) / 1000;
  const k = await vm.console.expect(/Kernel command line: ([^\r\n]*)\r?\n/, BOOT_MS, "the kernel");
  const [, good, trial, tries, slot, extra] = m;
  return { good, trial, tries, slot, extra: extra.trim(), cmdline: k[1], ubootSeconds };
}

/** The state files on the card's boot partition, decoded (their CRC checked). */
async function stateOnCard(disk: string, work: string): Promise<Record<string, string>[]> {
  const boot = (await partitionOffsets(disk))[0];
  const out = [];
  for (const f of [ICENET_ENV_FILE, ICENET_ENV_BACKUP]) {
    const dest = join(work, `out-${f}`);
    await fatCopyOut(disk, boot, f, dest);
    out.push(decodeUbootEnv(await Deno.readFile(dest), f));
  }
  return out;
}

/** Slot a's kernel and command line made into a slot b, as an update would leave it. */
async function slotB(board: Board, image: string, work: string) {
  const boot = (await partitionOffsets(image))[0];
  const a = slotDir("a");
  const kernel = join(work, "kernel-a");
  const cmdline = join(work, "cmdline-a");
  await fatCopyOut(image, boot, `${a}/${board.boot.kernelName}`, kernel);
  await fatCopyOut(image, boot, `${a}/${CMDLINE_FILE}`, cmdline);
  const text = await Deno.readTextFile(cmdline);
  assert.match(text, / icenet\.slot=a(\s|$)/);
  const b = slotDir("b");
  return {
    [`${b}/${board.boot.kernelName}`]: await Deno.readFile(kernel),
    // Slot a's root (p2): slot b's own (p3) is empty in a new image; the boot loader's
    // choice is what this test is about.
    [`${b}/${CMDLINE_FILE}`]: text.replace(/ icenet\.slot=a(?=\s|$)/, " icenet.slot=b"),
  };
}

async function withGuest(
  board: Board,
  image: string,
  work: string,
  vmOpts: BoardVmOptions,
  f: (vm: Qemu, started: number) => Promise<void>,
) {
  const log = await Deno.open(join(work, "console.log"), { write: true, create: true });
  const enc = new TextEncoder();
  const spec = await boardVm(board, image, work, vmOpts);
  const started = performance.now();
  const vm = await startGuest(spec, (s) => log.writeSync(enc.encode(s)));
  try {
    await f(vm, started);
  } catch (e) {
    (e as Error).message += `\n(console log: ${join(work, "console.log")})`;
    throw e;
  } finally {
    await vm.stop(2000);
    log.close();
  }
}

for (const e of (await e2eBoardList()).filter((e) => bootKind(e.board).name === "u-boot")) {
  const { name, board } = e;
  Deno.test(
    withSkipReason(`${name}: U-Boot boots slot a; a trial of b boots once, then a again`, e),
    { ...opts, ignore: e.skip !== undefined },
    async (t) => {
      const image = await withTestImage(() => buildImage(ROOT, board, true));
      const work = await Deno.makeTempDir({ prefix: `icenet-e2e-uboot-${name}-` });

      const a = await t.step("(a) no state: slot a, committed, to the login prompt", async () => {
        const dir = join(work, "a");
        await Deno.mkdir(dir);
        await withGuest(board, image, dir, {}, async (vm, started) => {
          const b = await nextBoot(vm, started);
          assert.deepEqual([b.good, b.trial, b.tries, b.slot, b.extra], ["a", "", "", "a", ""]);
          assert.match(b.cmdline, / icenet\.slot=a( |$)/);
          assert.doesNotMatch(b.cmdline, /icenet\.trial/);
          await vm.console.expect(/login: /, BOOT_MS, "the login prompt");
          console.log(`u-boot ${name}: QEMU start to kernel start ${b.ubootSeconds.toFixed(1)} s`);
        });
      });

      const b = await t.step(
        "(b) a trial of b: once with icenet.trial=1, saved; after a reset, a",
        async () => {
          const dir = join(work, "b");
          await Deno.mkdir(dir);
          const state = { icenet_good: "a", icenet_trial: "b", icenet_tries: "1" };
          const bootFiles = {
            ...await slotB(board, image, dir),
            [ICENET_ENV_FILE]: encodeUbootEnv(state),
          };
          await withGuest(board, image, dir, { bootFiles, monitor: true }, async (vm, started) => {
            const trial = await nextBoot(vm, started);
            assert.deepEqual(
              [trial.good, trial.trial, trial.tries, trial.slot, trial.extra],
              ["a", "b", "0", "b", "icenet.trial=1"],
            );
            assert.match(trial.cmdline, / icenet\.slot=b icenet\.trial=1( |$)/);
            await vm.console.expect(/login: /, BOOT_MS, "the trial slot's login prompt");

            const mon = await HumanMonitor.connect(join(dir, "monitor.sock"));
            const reset = performance.now();
            try {
              await mon.command("system_reset");
            } finally {
              mon.close();
            }
            const after = await nextBoot(vm, reset);
            console.log(
              `u-boot ${name}: trial boot ${trial.ubootSeconds.toFixed(1)} s, ` +
                `after the reset ${after.ubootSeconds.toFixed(1)} s to kernel start`,
            );
            assert.deepEqual(
              [after.good, after.trial, after.tries, after.slot, after.extra],
              ["a", "b", "0", "a", ""],
            );
            assert.match(after.cmdline, / icenet\.slot=a( |$)/);
            assert.doesNotMatch(after.cmdline, /icenet\.trial/);
          });
          // Both copies hold the spent try, written by U-Boot's env export + fatwrite.
          const [first, backup] = await stateOnCard(join(dir, "disk.img"), dir);
          const spent = { icenet_good: "a", icenet_trial: "b", icenet_tries: "0" };
          assert.deepEqual(first, spent);
          assert.deepEqual(backup, spent);
        },
      );
      const c = await t.step("(c) b committed without a kernel: slot a", async () => {
        const dir = join(work, "c");
        await Deno.mkdir(dir);
        const bootFiles = { [ICENET_ENV_FILE]: encodeUbootEnv({ icenet_good: "b" }) };
        await withGuest(board, image, dir, { bootFiles }, async (vm, started) => {
          const boot = await nextBoot(vm, started);
          assert.deepEqual([boot.good, boot.slot, boot.extra], ["b", "a", ""]);
          assert.match(boot.cmdline, / icenet\.slot=a( |$)/);
        });
      });
      // A failure keeps the console logs (named in the error).
      if (a && b && c) await Deno.remove(work, { recursive: true });
    },
  );
}
