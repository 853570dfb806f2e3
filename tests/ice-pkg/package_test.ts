import assert from "node:assert/strict";
import { join } from "node:path";
import { createPackage, readPackage } from "../../lib/ice-pkg/package.ts";
import { readTar, type TarWriteEntry, writeTar } from "../../lib/ice-pkg/format/tar.ts";
import { xzCompress, xzDecompress } from "../../lib/ice-pkg/format/xz.ts";
import { makePackage } from "./_helpers.ts";
import { sha256Hex } from "../../lib/ice-pkg/hash.ts";
import { createHash } from "node:crypto";

/** Synchronous sha256 for building test metadata. */
const sha256Sync = (s: string) => createHash("sha256").update(s).digest("hex");

const spec = {
  "usr/bin/hello": { text: "#!/bin/sh\necho hi\n", mode: 0o755 },
  "usr/share/hello/README": "read me\n",
  "usr/bin/hi": { link: "hello" },
};

/** A tree with a long path (pax), a long link target, modes and a 300 kB file. */
function goldenTree(dir: string): void {
  const d = `${dir}/usr/share/${"d".repeat(120)}`;
  Deno.mkdirSync(`${dir}/usr/bin`, { recursive: true });
  Deno.mkdirSync(`${dir}/etc`, { recursive: true });
  Deno.mkdirSync(d, { recursive: true });
  Deno.writeTextFileSync(`${dir}/usr/bin/hello`, "#!/bin/sh\necho hi\n");
  Deno.chmodSync(`${dir}/usr/bin/hello`, 0o755);
  Deno.symlinkSync("hello", `${dir}/usr/bin/hi`);
  Deno.symlinkSync("/" + "y".repeat(150), `${dir}/usr/bin/longlink`);
  Deno.writeTextFileSync(`${dir}/etc/hello.conf`, "x=1\n");
  const blob = new Uint8Array(300_000);
  let x = 7;
  for (let i = 0; i < blob.length; i++) blob[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  Deno.writeFileSync(`${d}/blob`, blob);
  for (const p of ["usr", "usr/bin", "usr/share", `usr/share/${"d".repeat(120)}`, "etc"]) {
    Deno.chmodSync(`${dir}/${p}`, 0o755);
  }
  Deno.chmodSync(`${dir}/etc/hello.conf`, 0o644);
  Deno.chmodSync(`${d}/blob`, 0o644);
}

Deno.test("the streaming writer makes the same bytes as the in-memory one did", async () => {
  // sha256 of this package as the writer made it before it streamed (commit f3e5b49):
  // unchanged packages keep their bytes, so nothing downstream rebuilds (early cutoff).
  const dir = await Deno.makeTempDir();
  try {
    goldenTree(dir);
    const bytes = await createPackage(dir, {
      name: "hello",
      version: "1.2",
      release: 3,
      arch: "noarch",
      depends: ["musl>=1.2"],
      description: "d",
      license: "MIT",
      conffiles: ["etc/hello.conf"],
    }, 1735689600);
    assert.equal(
      await sha256Hex(bytes),
      "50ff8fd577d96463ca73c6db7edf375a0ca406657dff06aa881eab40f4e8530a",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("createPackage() is deterministic and readPackage() reads it back", async () => {
  const a = await makePackage({ name: "hello", depends: ["musl>=1.2"] }, spec);
  const b = await makePackage({ name: "hello", depends: ["musl>=1.2"] }, spec);
  assert.equal(await sha256Hex(a), await sha256Hex(b));
  const pkg = await readPackage(a, { where: "hello.ice" });
  assert.equal(pkg.meta.name, "hello");
  assert.deepEqual(pkg.meta.depends, ["musl>=1.2"]);
  assert.deepEqual(pkg.meta.files.map((f) => [f.path, f.type, f.mode]), [
    ["usr", "dir", 0o755],
    ["usr/bin", "dir", 0o755],
    ["usr/bin/hello", "file", 0o755],
    ["usr/bin/hi", "symlink", 0o777],
    ["usr/share", "dir", 0o755],
    ["usr/share/hello", "dir", 0o755],
    ["usr/share/hello/README", "file", 0o644],
  ]);
  assert.equal(pkg.meta.installedSize, 18 + 8);
  assert.equal(new TextDecoder().decode(pkg.data.get("usr/share/hello/README")), "read me\n");
  const tar = readTar(await xzDecompress(a, 1 << 20));
  assert.equal(tar[0].path, ".ice-meta.json");
  assert.ok(tar.every((e) => e.uid === 0 && e.gid === 0));
});

/** Rebuild a valid package with its tar entries and metadata changed by `edit`. */
async function tamper(
  edit: (
    meta: Record<string, unknown> & { files: Record<string, unknown>[] },
    entries: TarWriteEntry[],
  ) => void,
): Promise<Uint8Array> {
  const good = await makePackage({ name: "hello" }, spec);
  const tar = readTar(await xzDecompress(good, 1 << 20));
  const meta = JSON.parse(new TextDecoder().decode(tar[0].data));
  const entries: TarWriteEntry[] = tar.slice(1).map((e) => ({
    path: e.path,
    type: e.typeflag === "0" ? "file" : e.typeflag === "5" ? "dir" : "symlink",
    mode: e.mode,
    data: e.data,
    target: e.linkname || undefined,
  }));
  edit(meta, entries);
  const metaEntry: TarWriteEntry = {
    path: ".ice-meta.json",
    type: "file",
    mode: 0o644,
    data: new TextEncoder().encode(JSON.stringify(meta)),
  };
  return xzCompress(writeTar([metaEntry, ...entries]));
}

/** Write a tar with a raw type flag patched into entry `i` (header checksum fixed). */
function patchType(tar: Uint8Array, headerOffset: number, flag: string): Uint8Array {
  const b = tar.slice();
  b[headerOffset + 156] = flag.charCodeAt(0);
  b.fill(0x20, headerOffset + 148, headerOffset + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[headerOffset + i];
  b.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), headerOffset + 148);
  return b;
}

Deno.test("readPackage() refuses hostile packages", async (t) => {
  const file = (path: string, text: string, mode = 0o644) => ({
    meta: { path, type: "file", mode, uid: 0, gid: 0, size: text.length, sha256: sha256Sync(text) },
    entry: { path, type: "file" as const, mode, data: new TextEncoder().encode(text) },
  });
  const add = (
    m: { files: Record<string, unknown>[]; installedSize?: unknown },
    es: TarWriteEntry[],
    f: ReturnType<typeof file>,
  ) => {
    m.files.push(f.meta);
    es.push(f.entry);
    m.installedSize = (m.installedSize as number) + (f.meta.size as number);
  };
  const cases: [string, Parameters<typeof tamper>[0], RegExp][] = [
    [
      "dot-dot path",
      (m, es) => add(m, es, file("usr/../../etc/passwd", "x")),
      /path leaves the root/,
    ],
    ["absolute path", (m, es) => add(m, es, file("/etc/passwd", "x")), /absolute path/],
    ["symlink out of root", (m, es) => {
      m.files.push({
        path: "usr/evil",
        type: "symlink",
        mode: 0o777,
        uid: 0,
        gid: 0,
        target: "../../etc",
      });
      es.push({ path: "usr/evil", type: "symlink", mode: 0o777, target: "../../etc" });
    }, /points outside the root/],
    ["write through symlink", (m, es) => {
      m.files.push({
        path: "usr/lnk",
        type: "symlink",
        mode: 0o777,
        uid: 0,
        gid: 0,
        target: "/etc",
      });
      es.push({ path: "usr/lnk", type: "symlink", mode: 0o777, target: "/etc" });
      add(m, es, file("usr/lnk/shadow", "x"));
    }, /writing through a symlink/],
    ["undeclared setuid", (m, es) => {
      const f = file("usr/bin/su", "x", 0o755);
      m.files.push(f.meta);
      m.installedSize = (m.installedSize as number) + 1;
      es.push({ ...f.entry, mode: 0o4755 });
    }, /undeclared setuid/],
    ["size lie", (m) => {
      const f = m.files.find((f) => f.path === "usr/share/hello/README")!;
      f.size = 3;
    }, /installedSize|size 8, metadata says 3/],
    ["hash lie", (m) => {
      const f = m.files.find((f) => f.path === "usr/share/hello/README")!;
      f.sha256 = "0".repeat(64);
    }, /sha256 .* metadata says 0000/],
    // No fixed cap any more (a package of any size streams): the declaration must add up.
    ["huge declared size", (m) => {
      m.installedSize = 2 ** 50;
    }, /installedSize 1125899906842624 but the files add up to 26 bytes/],
    ["unlisted entry", (_m, es) => {
      es.push({ path: "usr/extra", type: "file", mode: 0o644, data: new Uint8Array(1) });
    }, /usr\/extra: not listed in the metadata/],
    ["missing entry", (_m, es) => {
      es.pop();
    }, /listed in the metadata but missing/],
    ["bad metadata field", (m) => {
      m.name = "Bad Name";
    }, /bad metadata: name:/],
  ];
  for (const [name, edit, re] of cases) {
    await t.step(name, async () => {
      const bytes = await tamper(edit);
      await assert.rejects(readPackage(bytes, { where: "hello.ice" }), re);
    });
  }
  await t.step("hard link and device node", async () => {
    const entries: TarWriteEntry[] = [
      {
        path: ".ice-meta.json",
        type: "file",
        mode: 0o644,
        data: new TextEncoder().encode("x".repeat(10)),
      },
    ];
    const good = await makePackage({ name: "hello" }, spec);
    const tar = readTar(await xzDecompress(good, 1 << 20));
    entries[0].data = tar[0].data;
    const raw = writeTar([...entries, { path: "usr", type: "dir", mode: 0o755 }]);
    // entry 1 header offset: after meta header + its data blocks
    const off = 512 + Math.ceil(tar[0].data.length / 512) * 512;
    for (
      const [flag, re] of [["1", /hard link entries are not allowed/], [
        "3",
        /character device node/,
      ], ["6", /fifo/]] as const
    ) {
      const bad = await xzCompress(patchType(raw, off, flag));
      await assert.rejects(readPackage(bad, { where: "hello.ice" }), re);
    }
  });
  await t.step("truncated and corrupt xz", async () => {
    const good = await makePackage({ name: "hello" }, spec);
    await assert.rejects(
      readPackage(good.subarray(0, good.length - 20), { where: "h.ice" }),
      /h.ice: truncated or corrupt xz/,
    );
    const bad = good.slice();
    bad[60] ^= 0xff;
    await assert.rejects(readPackage(bad, { where: "h.ice" }), /h.ice: truncated or corrupt xz/);
  });
});

Deno.test("a recipe's package may have a world-writable directory only where dirs: declares it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    Deno.mkdirSync(join(dir, "var/spool"), { recursive: true });
    Deno.chmodSync(join(dir, "var/spool"), 0o1777);
    const meta = { name: "spool", version: "1.0", release: 0, arch: "noarch" as const };
    const where = "pkgs/spool/recipe.yaml";
    await assert.rejects(
      createPackage(dir, meta, 0, { where, declaredDirs: ["var"] }),
      /pkgs\/spool\/recipe\.yaml: var\/spool: world-writable directory \(mode 1777\) not declared under dirs:/,
    );
    const ok = await createPackage(dir, meta, 0, { where, declaredDirs: ["var/spool"] });
    const pkg = await readPackage(ok, { where: "spool.ice" });
    assert.equal(pkg.meta.files.find((f) => f.path === "var/spool")?.mode, 0o1777);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
