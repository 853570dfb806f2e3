/**
 * Reproducibility: musl and busybox for x86_64 built in the user's store and again
 * from scratch in a fresh store (another directory, another time) are bit-identical.
 * The fresh store's path has a "-" in it, which once changed busybox's ARCH on x86_64.
 * Slow: one clean build of kernel-headers, musl and busybox (~2-3 min on 2 idle cores).
 */
import assert from "node:assert/strict";
import { buildFor, join } from "./_build.ts";

Deno.test("musl and busybox: a clean build in another directory is bit-identical", async () => {
  const base = await Deno.makeTempDir({ prefix: "icenet-repro-" });
  try {
    // Both at once: the runs share no directory, and two cores halve the wait.
    const [a, b] = await Promise.all([
      buildFor("zima", ["busybox"]),
      buildFor("zima", ["busybox"], join(base, "store")),
    ]);
    for (const stage of ["kernel-headers", "musl", "busybox"]) {
      assert.equal(b.get(stage)!.outcome, "built", `${stage} was not rebuilt`);
      assert.notEqual(a.get(stage)!.out, b.get(stage)!.out);
      assert.equal(a.get(stage)!.outputHash, b.get(stage)!.outputHash, `${stage} differs`);
    }
    const bin = (r: typeof a) => Deno.readFile(join(r.get("busybox")!.out!, "bin", "busybox"));
    assert.deepEqual(await bin(a), await bin(b));
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
