/**
 * Random transaction mixes: hand-made packages (real tar writer and xz, no writer
 * checks) whose entries are drawn from hostile names (NAME_MAX and PATH_MAX edges,
 * multi-byte characters, ice-pkg's own paths, temporary-file names), types (a path
 * that is a file in one package, a directory or symlink in another, symlinks out of
 * the root or onto host directories) and modes (0777 and 1777 directories, setuid),
 * installed one to three at a time and removed, on a root with pre-existing shared
 * directories. After every command: no stack trace, no journal, no temporary files,
 * `verify` clean, the pre-existing directories as they were, nothing written outside
 * the root. ICE_PKG_FUZZ_SEED and ICE_PKG_FUZZ_TX (default 120) replay or widen it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cli,
  craftPackage,
  fixture,
  journalOf,
  modeOf,
  publishRaw,
  type RawEntry,
  treeOf,
  withTempDir,
} from "./_helpers.ts";

const SEED = Number(Deno.env.get("ICE_PKG_FUZZ_SEED") ?? 1);
const ROUNDS = Number(Deno.env.get("ICE_PKG_FUZZ_TX") ?? 120);

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

/** Paths that collide across packages (files, directories and symlinks in turn). */
const SHARED = [
  "a",
  "a/b",
  "a/b/c",
  "usr/evil",
  "usr/evil/x",
  "var/tmp",
  "var/tmp/f",
  "etc",
  "etc/x.conf",
  "srv/drop",
];

/** Paths that push the kernel's limits, use ice-pkg's own names or leave the root. */
function hostile(outside: string): string[] {
  const deep = Array.from({ length: 16 }, (_, i) => String(i).padStart(250, "p")).join("/");
  return [
    "x".repeat(255),
    "x".repeat(256),
    `d/${"é".repeat(127)}`, // 254 bytes
    `d/${"é".repeat(128)}`, // 256 bytes: over NAME_MAX though 128 characters
    `${deep}/f`,
    "var/lib/ice-pkg/db.sqlite",
    "var/cache/ice-pkg/z.ice",
    "etc/icenet/keys/k.pub",
    "a/.ice-pkg.12345678.0",
    "sp ace/n\nl",
    outside.slice(1) + "/escape",
  ];
}

const MODES: Record<RawEntry["type"], number[]> = {
  file: [0o644, 0o755, 0o4755, 0o666],
  dir: [0o755, 0o755, 0o700, 0o777, 0o1777, 0o2775],
  symlink: [0o777],
};

function entry(rnd: () => number, outside: string, pick: <T>(xs: T[]) => T): RawEntry {
  const path = rnd() < 0.25 ? pick(hostile(outside)) : pick(SHARED);
  const type = pick<RawEntry["type"]>(["file", "file", "dir", "symlink"]);
  const e: RawEntry = { path, type, mode: pick(MODES[type]) };
  if (type === "file") e.text = `${path.length} ${rnd()}\n`;
  if (type === "symlink") e.target = pick(["/tmp", outside, "../x", "b", "/etc/icenet/keys", "a"]);
  return e;
}

/** A package: random entries, sometimes with their parent directories listed. */
function randomPackage(rnd: () => number, outside: string, name: string): RawEntry[] {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  const out = new Map<string, RawEntry>();
  for (let n = 1 + Math.floor(rnd() * 4); n > 0; n--) {
    const e = entry(rnd, outside, pick);
    if (rnd() < 0.6) {
      const parts = e.path.split("/");
      for (let i = 1; i < parts.length; i++) {
        const p = parts.slice(0, i).join("/");
        if (!out.has(p)) out.set(p, { path: p, type: "dir", mode: 0o755 });
      }
    }
    out.set(e.path, e);
  }
  // Each package has one file of its own, so most installs succeed.
  out.set(`opt/${name}`, { path: `opt/${name}`, type: "file", text: name });
  if (!out.has("opt")) out.set("opt", { path: "opt", type: "dir", mode: 0o755 });
  return [...out.values()];
}

/** The invariants after any command. */
async function check(
  root: string,
  outside: string,
  label: string,
  r: { code: number; err: string },
) {
  assert.ok([0, 1, 2, 3, 4].includes(r.code), `${label}: exit ${r.code}: ${r.err}`);
  assert.doesNotMatch(r.err, /\n\s+at |internal error/, `${label}: ${r.err}`);
  assert.equal(journalOf(root), undefined, `${label}: journal left`);
  const tree = treeOf(root);
  assert.deepEqual(tree.filter((p) => p.split("/").pop()!.startsWith(".ice-pkg.")), [], label);
  const v = await cli(root, "verify");
  assert.equal(v.code, 0, `${label}: verify: ${v.out} ${v.err}`);
  assert.equal(modeOf(join(root, "var/tmp")), 0o1777, `${label}: var/tmp`);
  assert.equal(modeOf(join(root, "etc")), 0o755, `${label}: etc`);
  assert.deepEqual([...Deno.readDirSync(outside)], [], `${label}: wrote outside the root`);
  const db = Deno.readFileSync(join(root, "var/lib/ice-pkg/db.sqlite")).subarray(0, 15);
  assert.equal(new TextDecoder().decode(db), "SQLite format 3", `${label}: database replaced`);
}

Deno.test(`random transaction mixes keep the root consistent (${ROUNDS} rounds)`, async () => {
  const rnd = prng(SEED);
  await withTempDir(async (dir) => {
    const outside = join(dir, "outside");
    Deno.mkdirSync(outside);
    const f = await fixture(dir, [{ meta: { name: "hello" }, files: { "usr/bin/hello": "hi\n" } }]);
    Deno.mkdirSync(join(f.root, "var/tmp"), { recursive: true });
    Deno.chmodSync(join(f.root, "var/tmp"), 0o1777);
    Deno.chmodSync(join(f.root, "etc"), 0o755);
    const codes = new Map<number, number>();
    let names = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const label = `round ${round} (seed ${SEED})`;
      const fresh = Array.from({ length: 1 + Math.floor(rnd() * 3) }, () => `p${names++}`);
      await publishRaw(
        f,
        await Promise.all(fresh.map(async (name) => ({
          name,
          bytes: await craftPackage({ name }, randomPackage(rnd, outside, name)),
        }))),
      );
      assert.equal((await cli(f.root, "update")).code, 0, label);
      const r = await cli(f.root, "install", ...fresh);
      codes.set(r.code, (codes.get(r.code) ?? 0) + 1);
      await check(f.root, outside, `${label}: install ${fresh.join(" ")}`, r);
      if (rnd() < 0.4) {
        const installed = (await cli(f.root, "list")).out.split("\n").filter(Boolean)
          .map((l) => l.replace(/-\d.*$/, "")).filter((n) => n !== "hello");
        const gone = installed.filter(() => rnd() < 0.5);
        if (gone.length) {
          const rm = await cli(f.root, "remove", ...gone);
          await check(f.root, outside, `${label}: remove ${gone.join(" ")}`, rm);
          assert.equal(rm.code, 0, `${label}: remove: ${rm.err}`);
        }
      }
    }
    console.log(`install exit codes: ${JSON.stringify(Object.fromEntries(codes))}`);
    assert.ok((codes.get(0) ?? 0) > 0 && (codes.get(4) ?? 0) > 0, "both installs and refusals");
  });
});
