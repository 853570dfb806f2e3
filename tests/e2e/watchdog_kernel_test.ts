// The watchdog and panic=5 without an image (issue 18): zima's kernel stage booted by
// QEMU (q35 with the board's i6300esb, resets left on) straight into an initramfs of
// the init stage's icenet-init (boot mode, PID 1) and busybox. One oneshot service,
// chosen by `icenet.test=` on the command line, prints `icenetctl boot` and then
//   hang:  freezes PID 1 (cgroup v2 freezer: it can be neither stopped nor killed), so
//          the feeding stops: the i6300esb must reset the guest (a second "Linux version");
//   panic: sets vm.panic_on_oom and eats memory: the panic must reboot after 5 s.
// QEMU boots the same kernel again after a reset: the test stops it at the second boot.
// On the Pi, QEMU's BCM2835 power manager resets the machine the moment the watchdog is
// started (it has no countdown): shown on raspi3b, with icenet.watchdog=off as the cure
// (boards/rpi*.yaml add it to QEMU boots).
// The image path (systemd-boot, the overlay, the gate) is tests/e2e/watchdog_test.ts.
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBoard, qemuMachine } from "../../lib/board.ts";
import type { Qemu } from "../../lib/qemu/machine.ts";
import { startQemu } from "../../lib/qemu/machine.ts";
import { e2eBoards } from "./_boards.ts";
import { buildStages } from "./_build.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

const PROBE = `#!/bin/sh
icenetctl boot
case "$(cat /proc/cmdline)" in
*icenet.test=hang*)
	mkdir -p /sys/fs/cgroup/hang
	echo 1 > /sys/fs/cgroup/hang/cgroup.procs
	echo 1 > /sys/fs/cgroup/hang/cgroup.freeze
	sleep 1
	echo "TEST-FROZEN $(grep frozen /sys/fs/cgroup/hang/cgroup.events)"
	;;
*icenet.test=panic*)
	echo 1 > /proc/sys/vm/panic_on_oom
	echo TEST-OOM
	tail /dev/zero
	;;
esac
`;

/** A newc initramfs: icenet-init as /init, busybox, one service, an os-release. */
async function initramfs(dir: string, kernel: string, init: string, busybox: string) {
  const files: Record<string, string> = {
    "etc/icenet/services/probe": "command = /bin/probe\ntype = oneshot\nlog = console\n",
    "etc/os-release": "NAME=IceNet-OS\nVERSION_ID=wdog-e2e\n",
    "bin/probe": PROBE,
  };
  const list = [
    ...["dev", "proc", "sys", "run", "tmp", "bin", "etc", "etc/icenet", "etc/icenet/services"]
      .map((d) => `dir /${d} 0755 0 0`),
    "nod /dev/console 0600 0 0 c 5 1",
    `file /init ${join(init, "sbin/icenet-init")} 0755 0 0`,
    "slink /bin/icenetctl /init 0777 0 0",
    `file /bin/busybox ${join(busybox, "bin/busybox")} 0755 0 0`,
    ...["sh", "cat", "mkdir", "echo", "tail", "sleep", "grep"]
      .map((a) => `slink /bin/${a} busybox 0777 0 0`),
  ];
  for (const [path, text] of Object.entries(files)) {
    const f = join(dir, path.replaceAll("/", "_"));
    await Deno.writeTextFile(f, text);
    list.push(`file /${path} ${f} ${path.startsWith("bin/") ? "0755" : "0644"} 0 0`);
  }
  await Deno.writeTextFile(join(dir, "list"), list.join("\n") + "\n");
  const r = await new Deno.Command(join(kernel, "bin/gen_init_cpio"), {
    args: ["-t", "0", join(dir, "list")],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`gen_init_cpio: ${new TextDecoder().decode(r.stderr)}`);
  await Deno.writeFile(join(dir, "initramfs.cpio"), r.stdout);
  return join(dir, "initramfs.cpio");
}

/** Boots of `board`'s kernel stage into the test initramfs, `append` added. */
async function kernelVm(name: string, dir: string): Promise<(append: string) => Qemu> {
  const board = await loadBoard(ROOT, name);
  const qm = qemuMachine(board);
  const r = await buildStages(name, ["kernel", "init", "busybox"]);
  const [kernel, init, busybox] = ["kernel", "init", "busybox"].map((s) => r.get(s)!.out!);
  const initrd = await initramfs(dir, kernel, init, busybox);
  return (append) =>
    startQemu({
      system: qm.system,
      machine: qm.machine,
      memory: qm.memory,
      cpu: qm.cpu,
      accel: "tcg",
      kernel: join(kernel, board.boot.kernelName),
      dtb: qm.dtb ? join(kernel, "dtbs", qm.dtb) : undefined,
      initrd,
      append: `console=${qm.console} panic=5 ${append}`,
      devices: qm.devices,
    });
}

Deno.test({
  name: "zima kernel + icenet-init, i6300esb: armed; a frozen init resets, a panic reboots",
  ignore: !e2eBoards().includes("zima"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "icenet-wdog-" });
    const boot = await kernelVm("zima", dir);
    const figures: Record<string, number> = {};
    try {
      await t.step("armed: icenetctl boot says so; a frozen PID 1 is reset", async () => {
        const vm = boot("icenet.slot=a icenet.test=hang");
        try {
          const c = vm.console;
          await c.expect(/Linux version/, 60_000, "the first boot");
          const out = await c.expect(
            /^watchdog [^\r\n]*\r?\n/m,
            120_000,
            "icenetctl boot's watchdog line",
          );
          assert.match(
            out[0],
            /^watchdog armed timeout=15s device=\/dev\/watchdog identity="i6300ESB timer"\r?\n$/,
          );
          assert.match(c.transcript, /^boot slot=a trial=0 version=wdog-e2e\r?$/m);
          assert.match(
            c.transcript,
            /^gate off at=0ms timeout=120000ms reason="no \/etc\/icenet\/boot\.conf, and no icenet-update to run"\r?$/m,
          );
          console.log(c.transcript.match(/^boot slot=.*\n.*\n.*/m)?.[0]);
          await c.expect(/TEST-FROZEN frozen 1/, 60_000, "PID 1 frozen");
          const t0 = Date.now();
          await c.expect(/Linux version/, 120_000, "the watchdog's reset (a second boot)");
          figures.frozen_to_reset_s = (Date.now() - t0) / 1000;
          // 15 s from the last feed, which was at most 5 s before the freeze
          assert.ok(
            figures.frozen_to_reset_s >= 9 && figures.frozen_to_reset_s < 40,
            `reset ${figures.frozen_to_reset_s} s after the freeze`,
          );
        } finally {
          await vm.stop(1000);
        }
      });
      await t.step("panic=5: a kernel panic reboots after 5 s", async () => {
        const vm = boot("icenet.test=panic");
        try {
          const c = vm.console;
          await c.expect(/TEST-OOM/, 180_000, "the memory hog");
          await c.expect(/Kernel panic - not syncing: Out of memory/, 120_000, "the panic");
          const t0 = Date.now();
          await c.expect(/Rebooting in 5 seconds/, 10_000, "panic=5's message");
          await c.expect(/Linux version/, 60_000, "the reboot (a second boot)");
          figures.panic_to_reboot_s = (Date.now() - t0) / 1000;
          assert.ok(figures.panic_to_reboot_s < 30, `${figures.panic_to_reboot_s} s`);
        } finally {
          await vm.stop(1000);
        }
      });
    } finally {
      console.log(`watchdog kernel e2e: ${JSON.stringify(figures)}`);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "rpi kernel + icenet-init on raspi3b: QEMU resets when the watchdog starts; icenet.watchdog=off",
  ignore: !e2eBoards().includes("rpi"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "icenet-wdog-rpi-" });
    const boot = await kernelVm("rpi", dir);
    try {
      await t.step("armed under QEMU: the machine resets at once, before any service", async () => {
        const vm = boot("icenet.test=none");
        try {
          const c = vm.console;
          const first = await c.expect(/Linux version/, 180_000, "the first boot");
          const again = await c.expect(
            /Linux version/,
            180_000,
            "QEMU's reset when init starts the watchdog",
          );
          // init ran up to opening the watchdog (the gate's line comes just before), and
          // neither its "armed" line nor any service came after.
          const between = c.transcript.slice(first.index, again.index);
          assert.match(between, /icenet-init: info: boot gate: off/);
          assert.doesNotMatch(between, /armed|^boot slot=/m);
        } finally {
          await vm.stop(1000);
        }
      });
      await t.step("icenet.watchdog=off: left alone, said in icenetctl boot", async () => {
        const vm = boot("icenet.test=none icenet.watchdog=off");
        try {
          const c = vm.console;
          await c.expect(/Linux version/, 180_000, "the boot");
          await c.expect(
            /^watchdog off reason="icenet\.watchdog=off on the kernel command line"$/m,
            180_000,
            "icenetctl boot's watchdog line",
          );
          await new Promise((r) => setTimeout(r, 20_000));
          assert.doesNotMatch(c.transcript.slice(c.cursor), /Linux version/, "no reset");
        } finally {
          await vm.stop(1000);
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
