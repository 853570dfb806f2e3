/**
 * Paths that belong to ice-pkg itself: its database, journal and lock, its package
 * cache, and the trusted keys. A package may not ship anything there (a package that
 * replaced the database would break every later command; one that added a key would
 * make the root trust another repository), nor a symlink on the way to them, nor a
 * name that looks like one of ice-pkg's temporary files.
 *
 * ```ts
 * reservedReason("var/lib/ice-pkg/db.sqlite", "file"); // "reserved for ice-pkg (...)"
 * reservedReason("usr/bin/foo", "file"); // undefined
 * ```
 */
import { basename } from "./_path.ts";

/** ice-pkg's own directories (relative to the root) and what they hold. */
export const RESERVED: Record<string, string> = {
  "var/lib/ice-pkg": "its database, journal and lock",
  "var/cache/ice-pkg": "its package cache",
  "etc/icenet/keys": "the trusted repository keys",
};

/** Prefix of ice-pkg's temporary and backup names. */
export const TEMP_PREFIX = ".ice-pkg.";

/** Why a package may not ship `path` as a `type`, or undefined if it may. */
export function reservedReason(path: string, type: string): string | undefined {
  for (const [dir, what] of Object.entries(RESERVED)) {
    if (path.startsWith(`${dir}/`) || (path === dir && type !== "dir")) {
      return `reserved for ice-pkg (${dir} holds ${what})`;
    }
    if (dir.startsWith(`${path}/`) && type === "symlink") {
      return `a symlink here would move ice-pkg's ${dir} (reserved for ice-pkg)`;
    }
  }
  if (basename(path).startsWith(TEMP_PREFIX)) {
    return `names starting with ${TEMP_PREFIX} are reserved for ice-pkg's temporary files`;
  }
  return undefined;
}
