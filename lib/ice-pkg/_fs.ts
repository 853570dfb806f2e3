/**
 * File-system steps shared by staging, commit and undo: each tolerates a file that is
 * already gone, so every step can be repeated after an interruption. ice-pkg uses
 * node:fs throughout, which Deno and Node (32-bit ARM boards) both provide.
 */
import * as fs from "node:fs";
import process from "node:process";

const isRoot = process.getuid?.() === 0;

/** The error of a missing file (ENOENT)? */
export function isNotFound(e: unknown): boolean {
  return (e as { code?: unknown })?.code === "ENOENT";
}

/** The error of a name that is taken (EEXIST)? */
export function isAlreadyExists(e: unknown): boolean {
  return (e as { code?: unknown })?.code === "EEXIST";
}

/** lstat, or null when nothing is there. */
export function lstatOrNull(abs: string): fs.Stats | null {
  try {
    return fs.lstatSync(abs);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}

/** Does anything (even a dangling symlink) exist at `abs`? */
export function exists(abs: string): boolean {
  return lstatOrNull(abs) !== null;
}

/** Remove a file, symlink or empty directory; a missing one is fine. */
export function removeIfExists(abs: string): void {
  try {
    removeSync(abs);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

/** Remove a file, symlink or empty directory (rmdir for a directory, as Deno.removeSync). */
export function removeSync(abs: string): void {
  try {
    fs.unlinkSync(abs);
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code !== "EISDIR" && code !== "EPERM") throw e;
    fs.rmdirSync(abs);
  }
}

/** chown (as root) then chmod: chown clears setuid bits, which chmod then sets as declared. */
export function setOwnerMode(abs: string, mode: number, uid: number, gid: number): void {
  if (isRoot) fs.chownSync(abs, uid, gid);
  fs.chmodSync(abs, mode);
}

/** fsync a directory (its entries are durable afterwards). */
export function fsyncDir(abs: string): void {
  const fd = fs.openSync(abs, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Keep what `abs` holds under `backup` too: a hard link (no copy; link(2) does not
 * follow a symlink), else a copy. A missing `abs` needs no backup.
 */
export function backupOf(abs: string, backup: string): void {
  try {
    fs.linkSync(abs, backup);
    return;
  } catch (e) {
    if (isNotFound(e) || isAlreadyExists(e)) return;
  }
  const st = fs.lstatSync(abs);
  if (st.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(abs), backup);
  else {
    fs.copyFileSync(abs, backup);
    setOwnerMode(backup, st.mode & 0o7777, st.uid, st.gid);
  }
}
