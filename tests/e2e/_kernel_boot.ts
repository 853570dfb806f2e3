/**
 * Kernel boots for the e2e tests: build a board's kernel stage (optionally with the
 * opt-in LSM fragments) and boot it in QEMU (TCG) to a one-binary initramfs that prints
 * a marker with the guest uptime and powers off.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Board, qemuMachine } from "../../lib/board.ts";
import { defaultDownloadDir } from "../../lib/fetch/mod.ts";
import { SilentProgress } from "../../lib/progress.ts";
import { startQemu } from "../../lib/qemu/machine.ts";
import { build, type StageResult } from "../../lib/runner.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { ROOT } from "../../lib/registry.ts";
import type { Lsm } from "../../tasks/kernel.ts";
import { stagesWithLsm } from "./_build.ts";

const INIT_C = join(ROOT, "tests/e2e/kernel_boot_init.c");

/**
 * Build the kernel stage of `board` (with the opt-in `lsm` fragments) into `storeDir`;
 * returns its result.
 */
export async function buildKernel(
  board: Board,
  storeDir = defaultStoreDir(),
  lsm: Lsm[] = [],
  dryRun = false,
): Promise<StageResult> {
  const r = await build({
    root: ROOT,
    board,
    stages: await stagesWithLsm(board, lsm),
    targets: ["kernel"],
    store: new Store(storeDir),
    downloadDir: defaultDownloadDir(defaultStoreDir()),
    progress: new SilentProgress(),
    jobs: 2,
    dryRun,
  });
  const k = r.results.get("kernel")!;
  if (!r.ok) throw new Error(`kernel for ${board.name}: ${k.error} (log: ${k.log})`);
  return k;
}

async function run(cmd: string[], cwd: string): Promise<void> {
  const r = await new Deno.Command(cmd[0], { args: cmd.slice(1), cwd, stdin: "null" }).output();
  if (!r.success) {
    throw new Error(`${cmd.join(" ")}: exit ${r.code}\n${new TextDecoder().decode(r.stderr)}`);
  }
}

/** A newc initramfs holding /dev/console, /proc and the test program as /init. */
async function testInitramfs(board: Board, kernelOut: string, dir: string): Promise<string> {
  await run([
    `${board.cross}gcc`,
    "-static",
    "-O2",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-o",
    "init",
    INIT_C,
  ], dir);
  await Deno.writeTextFile(
    join(dir, "list"),
    [
      "dir /dev 0755 0 0",
      "nod /dev/console 0600 0 0 c 5 1",
      "dir /proc 0555 0 0",
      `file /init ${join(dir, "init")} 0755 0 0`,
      "",
    ].join("\n"),
  );
  const r = await new Deno.Command(join(kernelOut, "bin/gen_init_cpio"), {
    args: ["-t", "0", join(dir, "list")],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!r.success) throw new Error(`gen_init_cpio: ${new TextDecoder().decode(r.stderr)}`);
  await Deno.writeFile(join(dir, "initramfs.cpio"), r.stdout);
  return join(dir, "initramfs.cpio");
}

/**
 * Boot `board`'s kernel `out` to the test initramfs with `append` added to the
 * command line; returns the console transcript, the marker's uptime and the wall time.
 */
export async function bootToMarker(board: Board, out: string, append = "") {
  const facts = JSON.parse(await Deno.readTextFile(join(out, "kernel.json")));
  const qm = qemuMachine(board);
  const dir = await Deno.makeTempDir({ prefix: `icenet-kboot-${board.name}-` });
  try {
    const initrd = await testInitramfs(board, out, dir);
    const t0 = performance.now();
    const vm = startQemu({
      system: qm.system,
      machine: qm.machine,
      memory: qm.memory,
      cpu: qm.cpu,
      accel: "tcg",
      kernel: join(out, board.boot.kernelName),
      dtb: qm.dtb ? join(out, "dtbs", qm.dtb) : undefined,
      initrd,
      append: `console=${qm.console} panic=-1 ${append}`.trim(),
      noReboot: true,
    });
    try {
      const m = await vm.console.expect(
        /ICENET-BOOT-OK release=(\S+) machine=(\S+) uptime=([\d.]+)/,
        180_000,
        "the test init's marker",
      );
      const wall = (performance.now() - t0) / 1000;
      assert.equal(m[1], facts.release);
      assert.doesNotMatch(vm.console.transcript, /ICENET-BOOT-FAIL/);
      // Powering off must end QEMU (ACPI on q35, the BCM2835 watchdog on the Pis).
      const status = await vm.waitExit(60_000);
      assert.equal(status.code, 0, `QEMU exit status; stderr: ${await vm.stderr}`);
      return {
        transcript: vm.console.transcript,
        uptime: m[3],
        wall,
        compressedBytes: facts.compressedBytes as number,
      };
    } finally {
      await vm.stop();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
