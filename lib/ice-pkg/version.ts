/**
 * Version comparison: dpkg's algorithm (`verrevcmp` in dpkg's lib/dpkg/version.c),
 * extended with apk's `_suffix` words.
 *
 * A full version is `<upstream>-r<release>`. Both parts are compared as dpkg does:
 * alternating runs of non-digits and digits; digit runs numerically (any length);
 * non-digit runs character by character with `~` before the end of the string,
 * the end before letters, and letters before every other character (so `1.0~rc1 <
 * 1.0 < 1.0a < 1.0+1 < 1.0.1`). An absent release sorts before any release, as an
 * absent Debian revision does. Wherever dpkg accepts a version string, the order is
 * exactly dpkg's (tests/ice-pkg/version_dpkg_test.ts checks thousands of pairs).
 *
 * dpkg does not accept `_`; here `_word` is one unit, apk's suffixes:
 * `~word < _alpha < _beta < _pre < _rc < (end) < _cvs < _svn < _git < _hg < _p <
 * _other < letters < other characters`.
 *
 * ```ts
 * compareVersions("1.2.10", "1.2.9"); // 1
 * compareVersions("1.0_rc1", "1.0"); // -1
 * compareVersions("1.0+1", "1.0.1"); // -1
 * ```
 */

const PRE_SUFFIXES = ["alpha", "beta", "pre", "rc"];
const POST_SUFFIXES = ["cvs", "svn", "git", "hg", "p"];

const isDigit = (c: string | undefined) => c !== undefined && c >= "0" && c <= "9";
const isLetter = (c: string) => (c >= "A" && c <= "Z") || (c >= "a" && c <= "z");

/**
 * One unit of a non-digit run and its weight: dpkg's `order()` shifted so that apk's
 * suffix words fit between `~` and letters. Only the signs of differences matter, so
 * for dpkg's own characters the order is unchanged.
 */
function unit(s: string, i: number): { weight: number; word: string; next: number } {
  const c = s[i];
  if (c === undefined || isDigit(c)) return { weight: 0, word: "", next: i };
  if (c === "~") return { weight: -10, word: "", next: i + 1 };
  if (c === "_") {
    let j = i + 1;
    while (j < s.length && isLetter(s[j])) j++;
    const word = s.slice(i + 1, j);
    const pre = PRE_SUFFIXES.indexOf(word);
    const post = POST_SUFFIXES.indexOf(word);
    const weight = pre >= 0 ? pre - PRE_SUFFIXES.length : post >= 0 ? post + 1 : 6;
    return { weight, word, next: j };
  }
  const code = c.charCodeAt(0);
  return { weight: isLetter(c) ? code + 10 : code + 256, word: "", next: i + 1 };
}

function sign(n: number): number {
  return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/** dpkg's verrevcmp over one part (upstream or release). Returns -1, 0 or 1. */
function compareRuns(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const x = unit(a, i);
      const y = unit(b, j);
      if (x.weight !== y.weight) return sign(x.weight - y.weight);
      if (x.word !== y.word) return x.word < y.word ? -1 : 1;
      i = x.next;
      j = y.next;
    }
    while (a[i] === "0") i++;
    while (b[j] === "0") j++;
    let firstDiff = 0;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (firstDiff) return sign(firstDiff);
  }
  return 0;
}

/** Split `1.2-r3` into `["1.2", "r3"]`; no release gives `["1.2", ""]`. */
export function splitRelease(full: string): [string, string] {
  const m = full.match(/^(.*)-(r\d+)$/);
  return m ? [m[1], m[2]] : [full, ""];
}

/** Compare two upstream versions (no release part). Returns -1, 0 or 1. */
export function compareUpstream(a: string, b: string): number {
  return compareRuns(a, b);
}

/** Compare two full versions (`upstream[-rN]`). Returns -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const [ua, ra] = splitRelease(a);
  const [ub, rb] = splitRelease(b);
  return compareRuns(ua, ub) || compareRuns(ra, rb);
}

/** Full version string of a package: `1.2.3-r0`. */
export function fullVersion(m: { version: string; release: number }): string {
  return `${m.version}-r${m.release}`;
}

/** True if `v` is a well-formed upstream version (starts with a digit, known characters). */
export function isValidUpstream(v: string): boolean {
  return /^[0-9][0-9A-Za-z.+_~]*$/.test(v) && !/[.+_~]{2}/.test(v) && !/[.+]$/.test(v);
}

/** True if `v` is `upstream` or `upstream-rN` (what a dependency constraint may name). */
export function isValidVersion(v: string): boolean {
  const [up, rel] = splitRelease(v);
  return isValidUpstream(up) && (rel === "" || /^r\d+$/.test(rel));
}
