/**
 * File-system steps shared by staging, commit and undo: each tolerates a file that is
 * already gone, so every step can be repeated after an interruption.
 */

const isRoot = Deno.uid() === 0;

/** Does anything (even a dangling symlink) exist at `abs`? */
export function exists(abs: string): boolean {
  try {
    Deno.lstatSync(abs);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** Remove a file, symlink or empty directory; a missing one is fine. */
export function removeIfExists(abs: string): void {
  try {
    Deno.removeSync(abs);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** chown (as root) then chmod: chown clears setuid bits, which chmod then sets as declared. */
export function setOwnerMode(abs: string, mode: number, uid: number, gid: number): void {
  if (isRoot) Deno.chownSync(abs, uid, gid);
  Deno.chmodSync(abs, mode);
}

/** fsync a directory (its entries are durable afterwards). */
export function fsyncDir(abs: string): void {
  const f = Deno.openSync(abs, { read: true });
  try {
    f.syncSync();
  } finally {
    f.close();
  }
}

/**
 * Keep what `abs` holds under `backup` too: a hard link (no copy; link(2) does not
 * follow a symlink), else a copy. A missing `abs` needs no backup.
 */
export function backupOf(abs: string, backup: string): void {
  try {
    Deno.linkSync(abs, backup);
    return;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return;
    if (e instanceof Deno.errors.AlreadyExists) return;
  }
  const st = Deno.lstatSync(abs);
  if (st.isSymlink) Deno.symlinkSync(Deno.readLinkSync(abs), backup);
  else {
    Deno.copyFileSync(abs, backup);
    setOwnerMode(backup, (st.mode ?? 0o644) & 0o7777, st.uid ?? 0, st.gid ?? 0);
  }
}
