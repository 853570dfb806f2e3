/**
 * sha256 helpers. One-shot digests go through WebCrypto (built in: no module to load
 * at start-up, native code). WebCrypto has no incremental digest, so a stream is
 * buffered up to {@linkcode SMALL} bytes and digested in one go; a longer stream
 * switches to node:crypto (loaded on first need, ~30 ms once), which hashes chunk by
 * chunk in bounded memory. Small packages never pay for the module.
 *
 * ```ts
 * const h = new Sha256();
 * await h.update(chunk);
 * const hex = await h.hex();
 * ```
 */
import { open } from "node:fs/promises";

/** Bytes buffered before a stream's hash moves to node:crypto. */
export const SMALL = 4 << 20;

function hexOf(d: Uint8Array): string {
  let s = "";
  for (const b of d) s += b.toString(16).padStart(2, "0");
  return s;
}

/** Hex sha256 of bytes or a UTF-8 string. */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  return hexOf(
    new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)),
  );
}

interface NodeHash {
  update(b: Uint8Array): unknown;
  digest(enc: "hex"): string;
}

let nodeCrypto: Promise<{ createHash(alg: string): NodeHash }> | undefined;

/** An incremental sha256 (see the module doc for how it stays cheap and bounded). */
export class Sha256 {
  #small: Uint8Array[] = [];
  #smallBytes = 0;
  #node?: NodeHash;
  #big: boolean;

  /** `size`: the length when it is known; a long input then goes to node:crypto at once. */
  constructor(size?: number) {
    this.#big = size !== undefined && size > SMALL;
  }

  /** Add bytes. The chunk may be reused by the caller afterwards. */
  async update(chunk: Uint8Array): Promise<void> {
    if (this.#node) {
      this.#node.update(chunk);
      return;
    }
    if (!this.#big && this.#smallBytes + chunk.length <= SMALL) {
      this.#small.push(chunk.slice());
      this.#smallBytes += chunk.length;
      return;
    }
    nodeCrypto ??= import("node:crypto");
    this.#node = (await nodeCrypto).createHash("sha256");
    for (const c of this.#small) this.#node.update(c);
    this.#small = [];
    this.#node.update(chunk);
  }

  /** The hex digest of everything added. */
  async hex(): Promise<string> {
    if (this.#node) return this.#node.digest("hex");
    const all = new Uint8Array(this.#smallBytes);
    let off = 0;
    for (const c of this.#small) {
      all.set(c, off);
      off += c.length;
    }
    return await sha256Hex(all);
  }
}

/** Hex sha256 of a file, read in chunks (bounded memory for any size). */
export async function sha256File(path: string): Promise<string> {
  const f = await open(path);
  try {
    const h = new Sha256((await f.stat()).size);
    const buf = new Uint8Array(256 * 1024);
    while (true) {
      const { bytesRead: n } = await f.read(buf, 0, buf.length, null);
      if (n === 0) break;
      await h.update(buf.subarray(0, n));
    }
    return await h.hex();
  } finally {
    await f.close();
  }
}
