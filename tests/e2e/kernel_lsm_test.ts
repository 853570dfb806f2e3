/**
 * The opt-in LSM fragments must give a kernel whose LSMs start, not just one that
 * builds (one more zima kernel build: a long-tier check, kept as a proof under the
 * kernel's key, tests/e2e/_proof.ts).
 *
 *   deno test -A tests/e2e/kernel_lsm_test.ts
 */
import assert from "node:assert/strict";
import { loadBoard } from "../../lib/board.ts";
import { defaultStoreDir } from "../../lib/store.ts";
import { ROOT } from "../../lib/registry.ts";
import type { Lsm } from "../../tasks/kernel.ts";
import { bootToMarker, buildKernel } from "./_kernel_boot.ts";
import { provenBefore, recordProof, timeFor } from "./_proof.ts";

// The opt-in LSM fragments must give a kernel whose LSMs start, not just one that
// builds. AppArmor and SELinux are both "exclusive" LSMs: with both built in, the
// first in CONFIG_LSM's order (AppArmor) is active, and lsm= on the command line
// picks SELinux instead.
Deno.test({
  name: "kernel for zima with the AppArmor and SELinux fragments starts either LSM",
}, async () => {
  const board = await loadBoard(ROOT, "zima");
  const lsm: Lsm[] = ["apparmor", "selinux"];
  // The key without building: a proof for it skips the build and the boots.
  const planned = await buildKernel(board, defaultStoreDir(), lsm, true);
  const proof = await provenBefore("kernel-lsm", planned.key);
  if (proof) {
    console.log(
      `kernel LSMs: already proven for key ${planned.key?.slice(0, 12)}: ${proof.trim()}`,
    );
    return;
  }
  if (!await timeFor("kernel-lsm", 8 * 60) /* 373 s measured cold */) return;
  const t0 = performance.now();
  const k = await buildKernel(board, defaultStoreDir(), lsm);
  const apparmor = await bootToMarker(board, k.out!);
  assert.match(apparmor.transcript, /AppArmor: AppArmor initialized/);
  assert.doesNotMatch(apparmor.transcript, /SELinux: {2}Initializing/);
  const selinux = await bootToMarker(board, k.out!, "lsm=lockdown,yama,selinux");
  assert.match(selinux.transcript, /SELinux: {2}Initializing/);
  assert.doesNotMatch(selinux.transcript, /AppArmor: AppArmor initialized/);
  console.log(`kernel boot zima (AppArmor + SELinux): ${apparmor.compressedBytes} B compressed`);
  await recordProof(
    "kernel-lsm",
    k.key!,
    `${apparmor.compressedBytes} B compressed`,
    (performance.now() - t0) / 1000,
  );
});
