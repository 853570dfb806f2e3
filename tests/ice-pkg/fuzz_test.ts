/**
 * Random mutations of valid packages: each mutated package must either be refused
 * with an integrity error (exit code 4) before anything is written, or install
 * correctly inside the root (every file where and as the metadata says, nothing
 * outside). Mutations act on the decompressed tar (so they reach the validator
 * rather than xz's CRC); a smaller set mutates the compressed bytes end to end.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parsePackageTar, readPackage } from "../../lib/ice-pkg/package.ts";
import { xzCompress, xzDecompress } from "../../lib/ice-pkg/format/xz.ts";
import { IcePkgError } from "../../lib/ice-pkg/errors.ts";
import { openDb } from "../../lib/ice-pkg/db.ts";
import { applyChanges } from "../../lib/ice-pkg/transaction.ts";
import { sha256File } from "../../lib/ice-pkg/hash.ts";
import { makePackage, treeOf, withTempDir } from "./_helpers.ts";
import type { Package } from "../../lib/ice-pkg/package.ts";

const SEED = Number(Deno.env.get("ICE_PKG_FUZZ_SEED") ?? 1);
const CASES = Number(Deno.env.get("ICE_PKG_FUZZ_CASES") ?? 3000);

/** mulberry32: a small seeded PRNG so failures can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fixChecksum(b: Uint8Array, off: number): void {
  b.fill(0x20, off + 148, off + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[off + i];
  b.set(new TextEncoder().encode(sum.toString(8).padStart(6, "0") + "\0 "), off + 148);
}

/** Offsets of tar headers (every 512-byte block that has a valid "ustar" magic). */
function headers(tar: Uint8Array): number[] {
  const out: number[] = [];
  for (let off = 0; off + 512 <= tar.length; off += 512) {
    if (String.fromCharCode(...tar.subarray(off + 257, off + 262)) === "ustar") out.push(off);
  }
  return out;
}

const NASTY = ["../", "/", "..", "\0", "a/../../x", "\xff", "9999999999", "7777777"];

function mutate(tar: Uint8Array, rnd: () => number): Uint8Array {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const hs = headers(tar);
  let b = tar.slice();
  const op = Math.floor(rnd() * 7);
  const h = pick(hs);
  if (op === 0) {
    b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
  } else if (op === 1) {
    b = b.subarray(0, Math.floor(rnd() * b.length));
  } else if (op === 2) {
    // A header field gets random bytes, checksum fixed so the validator sees it.
    b[h + Math.floor(rnd() * 500)] = Math.floor(rnd() * 256);
    fixChecksum(b, h);
  } else if (op === 3) {
    b[h + 156] = pick([..."0125346xgLK7"]).charCodeAt(0);
    fixChecksum(b, h);
  } else if (op === 4) {
    const field = pick([[0, 100], [157, 100], [124, 12], [100, 8]]);
    const s = new TextEncoder().encode(pick(NASTY));
    b.fill(0, h + field[0], h + field[0] + field[1]);
    b.set(s.subarray(0, field[1]), h + field[0]);
    fixChecksum(b, h);
  } else if (op === 5) {
    // Mode bits: setuid, world-writable, or random.
    const mode = pick([0o4755, 0o2755, 0o777, 0o1777, Math.floor(rnd() * 0o10000)]);
    b.set(new TextEncoder().encode(mode.toString(8).padStart(7, "0") + "\0"), h + 100);
    fixChecksum(b, h);
  } else {
    // Swap two 512-byte blocks (reorders headers and data).
    const n = b.length / 512;
    const i = Math.floor(rnd() * n) * 512;
    const j = Math.floor(rnd() * n) * 512;
    const tmp = b.slice(i, i + 512);
    b.copyWithin(i, j, j + 512);
    b.set(tmp, j);
  }
  return b;
}

/** Install into a fresh root; check every file and that nothing leaked outside. */
async function installAndCheck(
  dir: string,
  tar: Uint8Array,
  pkg: Package,
  label: string,
): Promise<void> {
  const root = join(dir, "root");
  const outside = join(dir, "outside");
  Deno.mkdirSync(root, { recursive: true });
  Deno.mkdirSync(outside, { recursive: true });
  const file = join(dir, "pkg.ice");
  Deno.writeFileSync(file, await xzCompress(tar));
  const db = openDb(root);
  try {
    await applyChanges({ root, db, log: () => {}, command: "fuzz" }, [{
      name: pkg.meta.name,
      new: {
        pkg: { meta: pkg.meta, file, where: label },
        sha256: "0".repeat(64),
        size: 0,
        explicit: true,
      },
    }]);
  } finally {
    db.close();
  }
  const listed = new Set(pkg.meta.files.map((f) => f.path));
  for (const p of treeOf(root)) {
    if (p === "var" || p === "var/lib") continue;
    assert.ok(listed.has(p), `${label}: ${p} installed but not in the metadata`);
  }
  for (const f of pkg.meta.files) {
    const st = Deno.lstatSync(join(root, f.path));
    if (f.type === "file") assert.equal(await sha256File(join(root, f.path)), f.sha256, label);
    if (f.type === "symlink") assert.equal(Deno.readLinkSync(join(root, f.path)), f.target, label);
    if (f.type !== "symlink") assert.equal((st.mode ?? 0) & 0o7777, f.mode, label);
  }
  assert.deepEqual([...Deno.readDirSync(outside)], [], `${label}: wrote outside the root`);
}

const spec = {
  "bin/tool": { text: "#!/bin/sh\n", mode: 0o755 },
  "bin/t": { link: "tool" },
  "etc/tool/tool.conf": "x=1\n",
  ["usr/share/" + "d".repeat(90) + "/" + "f".repeat(40)]: "long path\n",
};

Deno.test(`random mutations of packages are refused or installed correctly (${CASES} cases)`, async () => {
  const good = await makePackage({ name: "tool" }, spec);
  const tar = await xzDecompress(good, 1 << 20);
  const rnd = prng(SEED);
  let refused = 0;
  let installed = 0;
  // The payload is validated against the metadata, so equal metadata means an equal
  // install: install each distinct accepted package once (fsyncs dominate the time).
  const distinct = new Set<string>();
  await withTempDir(async (dir) => {
    for (let i = 0; i < CASES; i++) {
      const bad = mutate(tar, rnd);
      let pkg: Package;
      try {
        pkg = await parsePackageTar(bad, { where: `case ${i}` });
      } catch (e) {
        assert.ok(
          e instanceof IcePkgError && e.code === 4,
          `case ${i}: unexpected ${(e as Error).stack}`,
        );
        assert.match(e.message, new RegExp(`^case ${i}: `));
        refused++;
        continue;
      }
      installed++;
      const key = JSON.stringify(pkg.meta);
      if (distinct.has(key)) continue;
      distinct.add(key);
      const d = join(dir, String(i));
      await installAndCheck(d, bad, pkg, `case ${i} (seed ${SEED})`);
      await Deno.remove(d, { recursive: true });
    }
  });
  console.log(`refused ${refused}, accepted ${installed} (${distinct.size} distinct, installed)`);
  assert.ok(refused > CASES / 2 && installed > 0);
});

Deno.test("mutated compressed packages are refused with an integrity error", async () => {
  const good = await makePackage({ name: "tool" }, spec);
  const rnd = prng(SEED + 1);
  const jobs = [];
  for (let i = 0; i < 100; i++) {
    const b = good.slice();
    if (i % 2) b[Math.floor(rnd() * b.length)] ^= 1 + Math.floor(rnd() * 255);
    const cut = i % 2 ? b : b.subarray(0, Math.floor(rnd() * b.length));
    jobs.push(
      readPackage(cut, { where: `xz case ${i}` }).then(
        () => "accepted",
        (e) => {
          assert.ok(e instanceof IcePkgError && e.code === 4, `xz case ${i}: ${e.stack}`);
          return "refused";
        },
      ),
    );
  }
  const results = await Promise.all(jobs);
  // Any accepted case would have passed full validation; flipping a bit always breaks xz's CRC.
  assert.ok(results.filter((r) => r === "refused").length >= 99);
});
