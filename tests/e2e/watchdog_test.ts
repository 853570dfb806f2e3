// Watchdog, panic reboot and boot gate on a real zima image under QEMU (issue 18): q35
// with an i6300esb (boards/zima.yaml), QEMU left to reset the guest (no -no-reboot).
//   1. icenet-init arms the watchdog (15 s) and feeds it: the guest runs on past 2x the
//      timeout without a reset.
//   2. PID 1 frozen (cgroup v2 freezer: it can be neither stopped nor killed): the
//      watchdog resets the guest.
//   3. The boot gate of /etc/icenet/boot.conf (written on the first boot, kept by the
//      overlay) says good on the next boot and runs on_good.
//   4. A kernel panic (vm.panic_on_oom, then a memory hog: no sysrq in our kernels)
//      reboots after 5 s (panic=5 on the command line).
// Slow (an image build, four boots): e2e tier only.
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBoard } from "../../lib/board.ts";
import { buildImage } from "../../lib/qemu/build_image.ts";
import { boardVm } from "../../lib/qemu/board_vm.ts";
import { startGuest } from "../../lib/qemu/machine.ts";
import { powerOff } from "../../lib/qemu/report.ts";
import type { SerialConsole } from "../../lib/qemu/serial.ts";
import { GuestShell } from "../../lib/qemu/shell.ts";
import { e2eBoards } from "./_boards.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const LOGIN = { user: "root", password: "icenet-test", timeoutMs: 600_000 };
const opts = { sanitizeOps: false, sanitizeResources: false };

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

/** The early-boot script's first line: a new boot reached userspace. */
const NEW_BOOT = /icenet-preinit: /;

/** Times (s) of each step, printed at the end as figures. */
const figures: Record<string, number> = {};

/** Wait for the next boot's login and log in again; returns the shell and the seconds. */
async function nextBoot(con: SerialConsole, since: number): Promise<GuestShell> {
  await con.expect(NEW_BOOT, 300_000, "a new boot (icenet-preinit)");
  const sh = await GuestShell.login(con, LOGIN);
  figures.last = (Date.now() - since) / 1000;
  return sh;
}

const BOOT_CONF = [
  "# written by tests/e2e/watchdog_test.ts",
  `health = /bin/sh -c "icenetctl status | grep -q '^dropbear ready'"`,
  "timeout = 5m",
  "on_good = /bin/sh -c 'echo good > /run/gate-verdict'",
  `on_bad = /bin/sh -c 'echo "bad: $ICENET_BOOT_REASON" > /run/gate-verdict'`,
].join("\n");

Deno.test({
  name: "zima under QEMU: init feeds the i6300esb; a hung init and a panic reset the guest",
  ignore: !e2eBoards().includes("zima"),
  ...opts,
  fn: async (t) => {
    const board = await loadBoard(ROOT, "zima");
    const work = await Deno.makeTempDir({ prefix: "icenet-e2e-wdog-" });
    const log = await Deno.open(join(work, "console.log"), { write: true, create: true });
    const enc = new TextEncoder();
    const spec = await boardVm(board, await testImage(), work);
    assert.ok(!spec.noReboot && spec.devices?.includes("i6300esb"), JSON.stringify(spec));
    const vm = await startGuest(spec, (s) => log.writeSync(enc.encode(s)));
    const con = vm.console;
    try {
      let sh = await GuestShell.login(con, LOGIN);
      await t.step("icenetctl boot: the watchdog is armed, 15 s, the i6300ESB", async () => {
        const out = await sh.check("icenetctl boot");
        assert.match(
          out,
          /^watchdog armed timeout=15s device=\/dev\/watchdog0? identity="i6300ESB timer"$/m,
          out,
        );
        assert.match(out, /^boot slot=\S+ trial=\S+ version=\S+$/m, out);
        // No boot.conf yet: the image's icenet-update makes the gate run with the defaults.
        assert.match(out, /^gate (waiting|good) at=\d+ms timeout=120000ms/m, out);
        assert.equal((await sh.check("cat /proc/sys/kernel/panic")).trim(), "5");
        assert.match(await sh.check("cat /proc/cmdline"), /(^| )panic=5( |$)/);
      });
      await t.step("fed: no reset in 40 s (more than twice the timeout)", async () => {
        const mark = con.transcript.length;
        await sh.check("sleep 40", 90_000);
        assert.doesNotMatch(con.transcript.slice(mark), NEW_BOOT);
      });
      await t.step("PID 1 frozen: the watchdog resets the guest", async () => {
        // printf's format turns the \n back into lines; ' closes, \' is one, ' reopens.
        const text = BOOT_CONF.replaceAll("'", "'\\''").replaceAll("\n", "\\n");
        await sh.check(`printf '${text}\\n' > /etc/icenet/boot.conf && sync`);
        await sh.check("mkdir -p /sys/fs/cgroup/hang && echo 1 > /sys/fs/cgroup/hang/cgroup.procs");
        const t0 = Date.now();
        await sh.check("echo 1 > /sys/fs/cgroup/hang/cgroup.freeze");
        // Frozen: no more feeding. The cgroup says when every task in it is.
        let events = "";
        for (let i = 0; i < 20 && !/^frozen 1$/m.test(events); i++) {
          events = await sh.check("cat /sys/fs/cgroup/hang/cgroup.events");
        }
        assert.match(events, /^frozen 1$/m, `PID 1 not frozen:\n${events}`);
        await con.expect(NEW_BOOT, 120_000, "the reset (a new boot)");
        figures.hang_to_new_boot_s = (Date.now() - t0) / 1000;
        assert.ok(figures.hang_to_new_boot_s >= 14, `reset after ${figures.hang_to_new_boot_s} s`);
        sh = await GuestShell.login(con, LOGIN);
      });
      await t.step("the boot gate says good and runs on_good", async () => {
        let out = "";
        // Good, and its command (icenet-update mark-good) done.
        for (let i = 0; i < 120 && !/^gate good .*on_good=exit:/m.test(out); i++) {
          if (i) await sh.check("sleep 1");
          out = await sh.check("icenetctl boot");
        }
        assert.match(out, /^gate good at=\d+ms timeout=300000ms on_good=exit:0$/m, out);
        assert.equal(await sh.check("cat /run/gate-verdict"), "good\n");
        figures.gate_good_ms_after_init = Number(out.match(/^gate good at=(\d+)ms/m)![1]);
      });
      await t.step("a kernel panic reboots after 5 s (panic=5)", async () => {
        await sh.check("echo 1 > /proc/sys/vm/panic_on_oom");
        const t0 = Date.now();
        await sh.send("tail /dev/zero");
        await con.expect(/Kernel panic - not syncing: .*[Oo]ut of memory/, 120_000, "the panic");
        const t1 = Date.now();
        await con.expect(/Rebooting in 5 seconds/, 10_000, "panic=5's message");
        sh = await nextBoot(con, t1);
        figures.oom_to_panic_s = (t1 - t0) / 1000;
        figures.panic_to_login_s = figures.last;
        // The second boot says nothing of the boot.conf: the gate ran again, independently.
        assert.match(await sh.check("icenetctl boot"), /^watchdog armed timeout=15s /m);
      });
      delete figures.last;
      console.log(`watchdog e2e figures: ${JSON.stringify(figures)}`);
      await powerOff(sh, vm);
    } catch (e) {
      (e as Error).message += `\n(console log: ${join(work, "console.log")})`;
      throw e;
    } finally {
      await vm.stop(2000);
      log.close();
    }
    await Deno.remove(work, { recursive: true });
  },
});
