import assert from "node:assert/strict";
import { readTar, writeTar } from "../../lib/ice-pkg/format/tar.ts";

const enc = new TextEncoder();

Deno.test("writeTar() output is read back by readTar() and by GNU tar", async () => {
  const long = "d/" + "x".repeat(150);
  const bytes = writeTar([
    { path: "d", type: "dir", mode: 0o755 },
    { path: "d/a.txt", type: "file", mode: 0o644, data: enc.encode("hello\n") },
    { path: long, type: "file", mode: 0o600, data: new Uint8Array(1000) },
    { path: "d/link", type: "symlink", mode: 0o777, target: "/" + "y".repeat(120) },
  ]);
  const back = readTar(bytes);
  assert.deepEqual(back.map((e) => [e.path, e.typeflag, e.size]), [
    ["d/", "5", 0],
    ["d/a.txt", "0", 6],
    [long, "0", 1000],
    ["d/link", "2", 0],
  ]);
  assert.equal(back[3].linkname, "/" + "y".repeat(120));
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/t.tar`, bytes);
    const out = await new Deno.Command("tar", { args: ["-tvf", `${dir}/t.tar`], stdout: "piped" })
      .output();
    assert.ok(out.success);
    const list = new TextDecoder().decode(out.stdout);
    assert.match(list, /root\/root|0\/0/);
    assert.ok(list.includes(long));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeTar() is deterministic", () => {
  const e = [{ path: "a", type: "file" as const, mode: 0o644, data: enc.encode("x") }];
  assert.deepEqual(writeTar(e), writeTar(e));
});

Deno.test("readTar() refuses malformed archives", async (t) => {
  const good = writeTar([{ path: "a", type: "file", mode: 0o644, data: enc.encode("abc") }]);
  await t.step("truncated", () => {
    assert.throws(() => readTar(good.subarray(0, 600)), /tar: truncated/);
  });
  await t.step("bad checksum", () => {
    const b = good.slice();
    b[0] = "b".charCodeAt(0);
    assert.throws(() => readTar(b), /checksum mismatch/);
  });
  await t.step("base-256 size", () => {
    const b = good.slice();
    b[124] = 0x80;
    assert.throws(() => readTar(b), /base-256 size|checksum/);
  });
});
