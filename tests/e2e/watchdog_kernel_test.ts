// The watchdog and panic=5 without an image (issue 18): zima's kernel stage booted by
// QEMU (q35 with the board's i6300esb, resets left on) straight into an initramfs of
// the init stage's icenet-init (boot mode, PID 1) and busybox. One oneshot service,
// chosen by `icenet.test=` on the command line, prints `icenetctl boot` and then
//   hang:  freezes PID 1 (cgroup v2 freezer: it can be neither stopped nor killed), so
//          the feeding stops: the i6300esb must reset the guest (a second "Linux version");
//   panic: sets vm.panic_on_oom and eats memory: the panic must reboot after 5 s.
// QEMU boots the same kernel again after a reset: the test stops it at the second boot.
// The image path (systemd-boot, the overlay, the gate) is tests/e2e/watchdog_test.ts.
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBoard, qemuMachine } from "../../lib/board.ts";
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

Deno.test({
  name: "zima kernel + icenet-init, i6300esb: armed; a frozen init resets, a panic reboots",
  ignore: !e2eBoards().includes("zima"),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const board = await loadBoard(ROOT, "zima");
    const qm = qemuMachine(board);
    const r = await buildStages("zima", ["kernel", "init", "busybox"]);
    const [kernel, init, busybox] = ["kernel", "init", "busybox"].map((s) => r.get(s)!.out!);
    const dir = await Deno.makeTempDir({ prefix: "icenet-wdog-" });
    const initrd = await initramfs(dir, kernel, init, busybox);
    const boot = (test: string) =>
      startQemu({
        system: qm.system,
        machine: qm.machine,
        memory: qm.memory,
        accel: "tcg",
        kernel: join(kernel, board.boot.kernelName),
        initrd,
        append: `console=${qm.console} panic=5 icenet.slot=a icenet.test=${test}`,
        devices: qm.devices,
      });
    const figures: Record<string, number> = {};
    try {
      await t.step("armed: icenetctl boot says so; a frozen PID 1 is reset", async () => {
        const vm = boot("hang");
        try {
          const c = vm.console;
          await c.expect(/Linux version/, 60_000, "the first boot");
          const out = await c.expect(/^watchdog .*$/m, 120_000, "icenetctl boot's watchdog line");
          assert.match(
            out[0],
            /^watchdog armed timeout=15s device=\/dev\/watchdog identity="i6300ESB timer"\r?$/,
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
        const vm = boot("panic");
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
