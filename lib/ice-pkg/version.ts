/**
 * Version comparison in the style of apk and dpkg.
 *
 * A full version is `<upstream>-r<release>`; upstream is compared token by token:
 * numbers numerically, letters as strings, and suffixes in the order
 * `_alpha < _beta < _pre < _rc < (none) < _cvs < _svn < _git < _hg < _p`.
 * A dpkg-style `~word` sorts before the bare version, like a pre-release suffix.
 *
 * ```ts
 * compareVersions("1.2.10", "1.2.9"); // 1
 * compareVersions("1.0_rc1", "1.0"); // -1
 * compareVersions("1.0-r2", "1.0-r1"); // 1
 * ```
 */

type Token =
  | { kind: "num"; value: bigint }
  | { kind: "alpha"; value: string }
  | { kind: "suffix"; rank: number; word: string; value: bigint };

const PRE_SUFFIXES = ["alpha", "beta", "pre", "rc"];
const POST_SUFFIXES = ["cvs", "svn", "git", "hg", "p"];

/** Rank of a suffix word: negative before a release, positive after. */
function suffixRank(word: string, tilde: boolean): number {
  if (tilde) return -10;
  const pre = PRE_SUFFIXES.indexOf(word);
  if (pre >= 0) return pre - PRE_SUFFIXES.length;
  const post = POST_SUFFIXES.indexOf(word);
  return post >= 0 ? post + 1 : POST_SUFFIXES.length + 1;
}

function tokenize(v: string): Token[] {
  const out: Token[] = [];
  const re = /(\d+)|([A-Za-z]+)|([_~])([A-Za-z]*)(\d*)|[.+]/g;
  for (const m of v.matchAll(re)) {
    if (m[1] !== undefined) out.push({ kind: "num", value: BigInt(m[1]) });
    else if (m[2] !== undefined) out.push({ kind: "alpha", value: m[2] });
    else if (m[3] !== undefined) {
      const word = m[4].toLowerCase();
      out.push({
        kind: "suffix",
        rank: suffixRank(word, m[3] === "~"),
        word,
        value: BigInt(m[5] || "0"),
      });
    }
  }
  return out;
}

/** Order of token kinds when two versions differ in kind at the same position. */
function kindRank(t: Token | undefined): number {
  if (t === undefined) return 0;
  if (t.kind === "suffix") return t.rank < 0 ? -1 : 1;
  return t.kind === "alpha" ? 2 : 3;
}

function cmp<T extends bigint | number | string>(a: T, b: T): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Split `1.2-r3` into `["1.2", 3]`; a missing release is 0. */
export function splitRelease(full: string): [string, number] {
  const m = full.match(/^(.*)-r(\d+)$/);
  return m ? [m[1], Number(m[2])] : [full, 0];
}

/** Compare two upstream versions (no release part). Returns -1, 0 or 1. */
export function compareUpstream(a: string, b: string): number {
  const ta = tokenize(a);
  const tb = tokenize(b);
  for (let i = 0; i < Math.max(ta.length, tb.length); i++) {
    const x = ta[i];
    const y = tb[i];
    const kr = cmp(kindRank(x), kindRank(y));
    if (kr !== 0) return kr;
    if (x === undefined || y === undefined) return 0;
    if (x.kind === "num" && y.kind === "num") {
      const c = cmp(x.value, y.value);
      if (c) return c;
    } else if (x.kind === "alpha" && y.kind === "alpha") {
      const c = cmp(x.value, y.value);
      if (c) return c;
    } else if (x.kind === "suffix" && y.kind === "suffix") {
      const c = cmp(x.rank, y.rank) || cmp(x.word, y.word) || cmp(x.value, y.value);
      if (c) return c;
    } else {
      // Same kind rank but different kinds (pre-suffix vs pre-suffix handled above).
      return cmp(x.kind, y.kind);
    }
  }
  return 0;
}

/** Compare two full versions (`upstream-rN`). Returns -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const [ua, ra] = splitRelease(a);
  const [ub, rb] = splitRelease(b);
  return compareUpstream(ua, ub) || cmp(ra, rb);
}

/** Full version string of a package: `1.2.3-r0`. */
export function fullVersion(m: { version: string; release: number }): string {
  return `${m.version}-r${m.release}`;
}

/** True if `v` is a well-formed upstream version (starts with a digit, known characters). */
export function isValidUpstream(v: string): boolean {
  return /^[0-9][0-9A-Za-z.+_~]*$/.test(v) && !/[.+_~]{2}/.test(v) && !/[.+]$/.test(v);
}
