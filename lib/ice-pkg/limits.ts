/**
 * The kernel's limits on names and paths, checked when a package is built and when it
 * is installed: a name the kernel cannot hold must be refused before anything is
 * written, never discovered by a failing rename after the commit point.
 *
 * ```ts
 * checkPathLimits("usr/bin/foo"); // ok
 * checkPathLimits("usr/" + "a".repeat(300)); // throws "name of 300 bytes, more than NAME_MAX (255)"
 * ```
 */

/** Longest file name (one path component) in bytes: Linux's NAME_MAX. */
export const NAME_MAX = 255;
/** Longest path in bytes a system call accepts: Linux's PATH_MAX (4096) minus the NUL. */
export const PATH_MAX = 4095;
/**
 * Room kept beside a path for ice-pkg's temporary and backup names
 * (`.ice-pkg.<token>.<n>.old` in the same directory).
 */
export const TEMP_NAME_ROOM = 40;

const enc = new TextEncoder();

/** Length of `s` in UTF-8 bytes (what the kernel counts). */
export function byteLength(s: string): number {
  return enc.encode(s).length;
}

/** Throw unless every component of `path` fits NAME_MAX and `/path` fits PATH_MAX. */
export function checkPathLimits(path: string): void {
  for (const part of path.split("/")) {
    const n = byteLength(part);
    if (n > NAME_MAX) {
      throw new Error(
        `${JSON.stringify(path)}: name of ${n} bytes, more than NAME_MAX (${NAME_MAX})`,
      );
    }
  }
  const n = byteLength(path) + 1;
  if (n > PATH_MAX) {
    throw new Error(
      `${JSON.stringify(path)}: path of ${n} bytes, more than PATH_MAX (${PATH_MAX})`,
    );
  }
}

/** Throw unless a symlink target fits PATH_MAX (the kernel's limit for a link's content). */
export function checkTargetLimit(path: string, target: string): void {
  const n = byteLength(target);
  if (n > PATH_MAX) {
    throw new Error(
      `${JSON.stringify(path)}: symlink target of ${n} bytes, more than PATH_MAX (${PATH_MAX})`,
    );
  }
}

/**
 * Throw unless `path` under `root`, and the temporary names ice-pkg puts beside it,
 * fit PATH_MAX (a deep root makes every path longer).
 */
export function checkRootedLimits(root: string, path: string): void {
  const abs = `${root.replace(/\/+$/, "")}/${path}`;
  const dir = abs.slice(0, abs.lastIndexOf("/"));
  const n = Math.max(byteLength(abs), byteLength(dir) + 1 + TEMP_NAME_ROOM);
  if (n > PATH_MAX) {
    throw new Error(
      `${
        JSON.stringify(path)
      }: path of ${n} bytes under ${root} (with room for a temporary name), more than PATH_MAX (${PATH_MAX})`,
    );
  }
}
