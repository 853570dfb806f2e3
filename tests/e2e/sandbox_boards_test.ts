/**
 * Every real stage passes under --sandbox on the Pi boards too (hermetic tier; the
 * zima image is covered by hermetic_test.ts). Each stage of the rpi and rpi32 images
 * is rebuilt under bubblewrap and must give the output the store already holds. The
 * kernel is left out: its stage code is the one zima's sandboxed build runs, and one
 * Pi kernel costs half an hour here. About 7 minutes per board; a pass is kept as a
 * proof for these stage keys (tests/e2e/_proof.ts).
 */
import assert from "node:assert/strict";
import { boardNames } from "../../lib/board.ts";
import { SilentProgress } from "../../lib/progress.ts";
import { ROOT } from "../../lib/registry.ts";
import { buildStages } from "./_build.ts";
import { digestOf, provenBefore, recordProof, timeFor } from "./_proof.ts";

// Every board but zima, whose image hermetic_test.ts builds under the sandbox.
for (const board of boardNames(ROOT).filter((b) => b !== "zima")) {
  Deno.test(`${board}: every stage of the image but the kernel rebuilds under --sandbox to the same output`, async () => {
    const host = await buildStages(board, ["image"], { progress: new SilentProgress() });
    const digest = digestOf(host);
    const proof = await provenBefore(`sandbox-${board}`, digest);
    if (proof) {
      console.log(`sandbox ${board}: already proven for these inputs: ${proof.trim()}`);
      return;
    }
    if (!await timeFor(`sandbox-${board}`, 3 * 60) /* 141 s (rpi), 98 s (rpi32) measured */) return;
    const t0 = performance.now();
    const targets = [...host.keys()].filter((s) => s !== "kernel");
    // In the user's store: an output that differs is reported by name below (and is
    // itself a valid build of its key), while an equal one changes nothing.
    const boxed = await buildStages(board, targets, {
      force: targets,
      sandbox: true,
      progress: new SilentProgress(),
    });
    for (const s of targets) {
      const r = boxed.get(s)!;
      assert.equal(r.outcome, "built", `${s}@${board} was rebuilt`);
      assert.equal(r.outputHash, host.get(s)!.outputHash, `${s}@${board} under --sandbox`);
    }
    await recordProof(
      `sandbox-${board}`,
      digest,
      `${targets.length} stages, image ${host.get("image")!.outputHash}`,
      (performance.now() - t0) / 1000,
    );
  });
}
