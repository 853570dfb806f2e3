/**
 * A TZif file (RFC 8536, version 2) that is all footer: the POSIX TZ rule, after one
 * transition at the epoch. That is what `/etc/localtime` needs for musl to apply a time
 * zone without a zone database on the device: musl takes the footer's rule for every
 * time after the last transition (with no transition at all it ignores the rule).
 *
 * ```ts
 * await Deno.writeFile("etc/localtime", tzifFromRule("CET-1CEST,M3.5.0,M10.5.0/3"));
 * ```
 */

/** A TZif v2 file whose only content is `rule` (e.g. "CET-1CEST,M3.5.0,M10.5.0/3"). */
export function tzifFromRule(rule: string): Uint8Array {
  const std = rule.match(/^[A-Za-z]+|^<[^>]+>/)?.[0];
  const offset = rule.slice(std?.length ?? 0).match(/^[-+]?\d{1,2}(:\d\d)?/)?.[0];
  if (!std || offset === undefined) throw new Error(`time zone "${rule}": not a POSIX TZ rule`);
  // POSIX offsets are west-positive; TZif's are seconds east of UTC.
  const [h, m] = offset.replace(/^[-+]/, "").split(":").map(Number);
  const utoff = -(offset.startsWith("-") ? -1 : 1) * (h * 3600 + (m ?? 0) * 60);
  const abbr = new TextEncoder().encode(std.replace(/[<>]/g, "") + "\0");
  // One local time type (the standard one), used before any transition.
  const type = new Uint8Array(6);
  new DataView(type.buffer).setInt32(0, utoff);
  // Version 1 block (32-bit transition times), then version 2 (64-bit): one transition,
  // at 0, to type 0; then the types and their abbreviations.
  const v1 = [header(1, 1, abbr.length), new Uint8Array(4), new Uint8Array(1), type, abbr];
  const v2 = [header(1, 1, abbr.length), new Uint8Array(8), new Uint8Array(1), type, abbr];
  const footer = new TextEncoder().encode(`\n${rule}\n`);
  return concat([...v1, ...v2, footer]);
}

/** The 44-byte header: magic, version 2, then the six counts. */
function header(timecnt: number, typecnt: number, charcnt: number): Uint8Array {
  const h = new Uint8Array(44);
  h.set(new TextEncoder().encode("TZif2"));
  const v = new DataView(h.buffer);
  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  [0, 0, 0, timecnt, typecnt, charcnt].forEach((n, i) => v.setUint32(20 + 4 * i, n));
  return h;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
