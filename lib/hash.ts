/**
 * sha256 helpers and the canonical JSON used for cache keys (sorted keys, no
 * whitespace), so that the same inputs always give the same key.
 */
import { createHash } from "node:crypto";

/** Hex sha256 of bytes or a string. */
export function sha256(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Files up to this size are read whole: a stream costs more than the read. */
const WHOLE_FILE_MAX = 4 * 1024 * 1024;

/**
 * Hex sha256 of a file; big ones streamed (kernel tarballs are 140 MB). Small ones are
 * read with one synchronous call: for the many small inputs of a key that is several
 * times faster than async ops, and blocks the event loop for microseconds only.
 */
export async function sha256File(path: string): Promise<string> {
  if (Deno.statSync(path).size <= WHOLE_FILE_MAX) return sha256(Deno.readFileSync(path));
  const h = createHash("sha256");
  using f = await Deno.open(path);
  for await (const chunk of f.readable) h.update(chunk);
  return h.digest("hex");
}

/** JSON with object keys sorted at every level: a stable serialisation for hashing. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(o).sort().filter((k) => o[k] !== undefined).map((k) => [k, sortKeys(o[k])]),
    );
  }
  return v;
}

/** A prefixed key: the prefix keeps kinds of keys from ever colliding (Nix style). */
export function hashKey(kind: string, value: unknown): string {
  return sha256(`icenet:${kind}:v1:` + canonicalJson(value));
}
