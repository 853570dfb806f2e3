/**
 * sha256 helpers (node:crypto: synchronous and faster than WebCrypto for many
 * small files).
 */
import { createHash } from "node:crypto";

/** Hex sha256 of bytes. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** Hex sha256 of a file, read in one go (package files are small). */
export function sha256File(path: string): string {
  return sha256Hex(Deno.readFileSync(path));
}
