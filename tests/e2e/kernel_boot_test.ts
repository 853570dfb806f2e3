/**
 * Each board's kernel, from the store (built through the runner on the first run,
 * cached after), boots in QEMU (TCG here) to a one-binary initramfs that prints a
 * marker with the guest uptime and powers off. The zima kernel is also built a
 * second time in a fresh store (another build directory) and must be bit-identical,
 * and built with both opt-in LSM fragments, which must start (one more kernel build
 * on a cold store).
 *
 *   deno test -A tests/e2e/kernel_boot_test.ts
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Board, loadBoard } from "../../lib/board.ts";
import { defaultDownloadDir } from "../../lib/fetch/mod.ts";
import { SilentProgress } from "../../lib/progress.ts";
import { startQemu } from "../../lib/qemu/machine.ts";
import { build, type StageResult } from "../../lib/runner.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { ROOT } from "../../tasks/registry.ts";
import type { Lsm } from "../../tasks/kernel.ts";
import { e2eBoards } from "./_boards.ts";
import { stagesWithLsm } from "./_build.ts";
import { provenBefore, recordProof } from "./_proof.ts";

const INIT_C = join(ROOT, "tests/e2e/kernel_boot_init.c");

/**
 * Build the kernel stage of `board` (with the opt-in `lsm` fragments) into `storeDir`;
 * returns its result.
 */
async function buildKernel(
  board: Board,
  storeDir = defaultStoreDir(),
  lsm: Lsm[] = [],
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
async function bootToMarker(board: Board, out: string, append = "") {
  const facts = JSON.parse(await Deno.readTextFile(join(out, "kernel.json")));
  const dir = await Deno.makeTempDir({ prefix: `icenet-kboot-${board.name}-` });
  try {
    const initrd = await testInitramfs(board, out, dir);
    const t0 = performance.now();
    const vm = startQemu({
      system: board.qemu.system,
      machine: board.qemu.machine,
      memory: board.qemu.memory,
      cpu: board.qemu.cpu,
      accel: "tcg",
      kernel: join(out, board.boot.kernelName),
      dtb: board.qemu.dtb ? join(out, "dtbs", board.qemu.dtb) : undefined,
      initrd,
      append: `console=${board.qemu.console} panic=-1 ${append}`.trim(),
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

for (const name of ["zima", "rpi", "rpi32"]) {
  Deno.test({
    name: `kernel for ${name} boots in QEMU to the test initramfs`,
    ignore: !e2eBoards().includes(name),
  }, async () => {
    const board = await loadBoard(ROOT, name);
    const k = await buildKernel(board);
    const b = await bootToMarker(board, k.out!);
    const wall = b.wall.toFixed(1);
    console.log(
      `kernel boot ${name}: userspace at ${b.uptime} s guest uptime, ${wall} s wall, ` +
        `${b.compressedBytes} B compressed kernel`,
    );
  });
}

// The opt-in LSM fragments must give a kernel whose LSMs start, not just one that
// builds. AppArmor and SELinux are both "exclusive" LSMs: with both built in, the
// first in CONFIG_LSM's order (AppArmor) is active, and lsm= on the command line
// picks SELinux instead.
Deno.test({
  name: "kernel for zima with the AppArmor and SELinux fragments starts either LSM",
  ignore: !e2eBoards().includes("zima"),
}, async () => {
  const board = await loadBoard(ROOT, "zima");
  const k = await buildKernel(board, defaultStoreDir(), ["apparmor", "selinux"]);
  const apparmor = await bootToMarker(board, k.out!);
  assert.match(apparmor.transcript, /AppArmor: AppArmor initialized/);
  assert.doesNotMatch(apparmor.transcript, /SELinux: {2}Initializing/);
  const selinux = await bootToMarker(board, k.out!, "lsm=lockdown,yama,selinux");
  assert.match(selinux.transcript, /SELinux: {2}Initializing/);
  assert.doesNotMatch(selinux.transcript, /AppArmor: AppArmor initialized/);
  console.log(`kernel boot zima (AppArmor + SELinux): ${apparmor.compressedBytes} B compressed`);
});

Deno.test("kernel for zima is bit-identical when built again in another directory", async () => {
  const board = await loadBoard(ROOT, "zima");
  const first = await buildKernel(board);
  // A second kernel build costs minutes: once proven for a key, the proof is kept
  // (tests/e2e/_proof.ts), so a warm e2e run stays cheap.
  const proof = await provenBefore("kernel-repro", first.key);
  if (proof) {
    console.log(`kernel repro: already proven for key ${first.key?.slice(0, 12)}`);
    return;
  }
  const store = await Deno.makeTempDir({ prefix: "icenet-krepro-" });
  try {
    const second = await buildKernel(board, store);
    assert.equal(second.outcome, "built");
    assert.equal(second.key, first.key);
    assert.equal(second.outputHash, first.outputHash);
    await recordProof("kernel-repro", first.key!, first.outputHash!);
  } finally {
    await Deno.remove(store, { recursive: true });
  }
});
