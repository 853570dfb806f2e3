/**
 * Reproducibility: the musl and busybox stages built twice, in two fresh stores (so
 * in different directories, at different times), give bit-identical outputs.
 * Slow: two clean builds of kernel-headers, musl and busybox for aarch64.
 */
import assert from "node:assert/strict";
import { buildFor, join } from "./_build.ts";

Deno.test("musl and busybox: two clean builds in different directories are identical", async () => {
  const base = await Deno.makeTempDir({ prefix: "icenet-repro-" });
  try {
    const a = await buildFor("rpi", ["busybox"], join(base, "one"));
    const b = await buildFor("rpi", ["busybox"], join(base, "second-store"));
    for (const stage of ["musl", "busybox"]) {
      assert.equal(a.get(stage)!.outcome, "built");
      assert.equal(b.get(stage)!.outcome, "built");
      assert.equal(a.get(stage)!.outputHash, b.get(stage)!.outputHash, `${stage} differs`);
    }
    const bin = (r: typeof a) => Deno.readFile(join(r.get("busybox")!.out!, "bin", "busybox"));
    assert.deepEqual(await bin(a), await bin(b));
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
