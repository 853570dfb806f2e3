/**
 * Version order against Debian's own `dpkg --compare-versions` (the host's dpkg) on
 * thousands of generated pairs: wherever both accept a string, the order is dpkg's.
 * ICE_PKG_DPKG_PAIRS (default 3000) and ICE_PKG_DPKG_SEED replay or widen the run.
 */
import assert from "node:assert/strict";
import { compareVersions, isValidUpstream } from "../../lib/ice-pkg/version.ts";

const PAIRS = Number(Deno.env.get("ICE_PKG_DPKG_PAIRS") ?? 3000);
const SEED = Number(Deno.env.get("ICE_PKG_DPKG_SEED") ?? 15);

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

const DIGITS = ["0", "1", "2", "9", "10", "01", "007", "20240101", "99999999999999999999"];
const WORDS = ["a", "b", "z", "A", "Z", "rc", "beta", "pre", "p", "git"];
const SEPS = [".", "+", "~", ""];

/** A version both ice-pkg and dpkg accept: upstream, sometimes with -rN. */
function version(rnd: () => number): string {
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
  let v = pick(DIGITS);
  for (let n = Math.floor(rnd() * 5); n > 0; n--) {
    const sep = pick(SEPS);
    // A letter run may follow a digit run directly; digits after digits need a separator.
    const digits = rnd() < 0.6;
    const last = v.at(-1)!;
    if (digits && sep === "" && /\d/.test(last)) continue;
    if (!digits && sep === "" && /[A-Za-z]/.test(last)) continue;
    v += sep + (digits ? pick(DIGITS) : pick(WORDS));
  }
  if (rnd() < 0.2) v += "~" + pick(WORDS);
  if (rnd() < 0.5) v += `-r${pick(["0", "1", "2", "10", "01"])}`;
  return v;
}

/** A close variant of `v`: one character changed, added or removed where still valid. */
function near(v: string, rnd: () => number): string {
  for (let tries = 0; tries < 20; tries++) {
    const chars = [..."0129az.+~"];
    const i = 1 + Math.floor(rnd() * (v.length - 1));
    const c = chars[Math.floor(rnd() * chars.length)];
    const op = Math.floor(rnd() * 3);
    const w = op === 0
      ? v.slice(0, i) + c + v.slice(i + 1)
      : op === 1
      ? v.slice(0, i) + c + v.slice(i)
      : v.slice(0, i) + v.slice(i + 1);
    const [up, rel] = w.split("-r");
    if (isValidUpstream(up) && (rel === undefined || /^\d+$/.test(rel)) && !w.includes("-r-")) {
      return w;
    }
  }
  return v;
}

/** dpkg's verdict for each pair: -1, 0 or 1, from one shell loop over dpkg. */
async function dpkgOrder(pairs: [string, string][]): Promise<number[]> {
  const script = `while read -r a b; do
    if dpkg --compare-versions "$a" lt "$b"; then echo -1
    elif dpkg --compare-versions "$a" eq "$b"; then echo 0
    else echo 1; fi
  done`;
  const child = new Deno.Command("sh", {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(pairs.map(([a, b]) => `${a} ${b}\n`).join("")));
  await w.close();
  const out = await child.output();
  const err = new TextDecoder().decode(out.stderr);
  assert.equal(err, "", `dpkg complained (a generated version it does not accept?):\n${err}`);
  return new TextDecoder().decode(out.stdout).trim().split("\n").map(Number);
}

Deno.test(`compareVersions() agrees with dpkg --compare-versions (${PAIRS} pairs)`, async () => {
  const rnd = prng(SEED);
  const pairs: [string, string][] = [
    ["1.0+1", "1.0.1"],
    ["1.0+1", "1.0"],
    ["1.0~rc1", "1.0"],
    ["1.0a", "1.0.1"],
    ["1.0a.1", "1.0a1"],
    ["1.01", "1.1"],
    ["1.0-r01", "1.0-r1"],
    ["1.0", "1.0-r0"],
  ];
  while (pairs.length < PAIRS) {
    const a = version(rnd);
    pairs.push([a, rnd() < 0.5 ? version(rnd) : near(a, rnd)]);
  }
  for (const [a, b] of pairs) {
    for (const v of [a, b]) {
      const up = v.replace(/-r\d+$/, "");
      assert.ok(isValidUpstream(up), `generator made ${v}, which ice-pkg does not accept`);
    }
  }
  const want = await dpkgOrder(pairs);
  assert.equal(want.length, pairs.length);
  const wrong = pairs.map(([a, b], i) => ({ a, b, dpkg: want[i], ours: compareVersions(a, b) }))
    .filter((x) => x.dpkg !== x.ours);
  assert.deepEqual(wrong.slice(0, 10), [], `${wrong.length} of ${pairs.length} pairs differ`);
  const kinds = new Set(want);
  assert.equal(kinds.size, 3, "the generator should make lower, equal and higher pairs");
});
