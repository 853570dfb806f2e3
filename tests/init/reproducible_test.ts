/**
 * icenet-init and icenet-growfs build bit-identically from two different directories
 * (static, Debian's musl-gcc: no linux/ headers, which the sources must not need).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "./_harness.ts";

async function buildIn(dir: string): Promise<Uint8Array[]> {
  await Deno.mkdir(join(dir, "src"), { recursive: true });
  await Deno.copyFile(join(ROOT, "init/Makefile"), join(dir, "Makefile"));
  for await (const e of Deno.readDir(join(ROOT, "init/src"))) {
    await Deno.copyFile(join(ROOT, "init/src", e.name), join(dir, "src", e.name));
  }
  const r = await new Deno.Command("make", {
    args: ["-s", "-j2", "-C", dir, "CC=musl-gcc", "LDFLAGS=-static"],
    env: { SOURCE_DATE_EPOCH: "0", LC_ALL: "C" },
  }).output();
  assert.equal(r.success, true, new TextDecoder().decode(r.stderr));
  return await Promise.all(
    ["icenet-init", "icenet-growfs"].map((b) => Deno.readFile(join(dir, "build", b))),
  );
}

Deno.test("make -C init gives the same static binary in two directories", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "icenet-init-repro-" });
  try {
    const a = await buildIn(join(tmp, "one"));
    const b = await buildIn(join(tmp, "a", "much", "longer", "path"));
    assert.ok(a[0].length > 10000 && a[1].length > 5000);
    assert.deepEqual(a, b);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
