/**
 * Path rules for package entries: every path is relative, canonical and stays inside
 * the root; symlink targets may not point outside it.
 *
 * ```ts
 * checkEntryPath("usr/bin/foo"); // ok
 * checkEntryPath("../etc/passwd"); // throws "path leaves the root"
 * ```
 */
import { dirname, normalizeRelative } from "./_path.ts";
import { checkPathLimits, checkTargetLimit } from "./limits.ts";

/**
 * Throw unless `p` is a canonical relative path (no `..`, `.`, empty parts, leading
 * `/`, control characters) whose names and length fit the kernel's NAME_MAX and
 * PATH_MAX.
 */
export function checkEntryPath(p: string): void {
  if (p === "" || p.includes("\0")) throw new Error(`${JSON.stringify(p)}: empty path or NUL byte`);
  if (p.startsWith("/")) throw new Error(`${JSON.stringify(p)}: absolute path`);
  // Like dpkg-deb: a newline (or any control character) in a name forges output lines.
  // deno-lint-ignore no-control-regex -- control characters are what this refuses
  if (/[\x01-\x1f\x7f]/.test(p)) {
    throw new Error(`${JSON.stringify(p)}: control character in the path`);
  }
  for (const part of p.split("/")) {
    if (part === "..") throw new Error(`${JSON.stringify(p)}: path leaves the root ("..")`);
    if (part === "" || part === ".") throw new Error(`${JSON.stringify(p)}: path is not canonical`);
  }
  checkPathLimits(p);
}

/**
 * Throw unless the symlink at `path` with `target` resolves inside the root (an
 * absolute target is taken relative to the root, as it will be on the device).
 */
export function checkSymlinkTarget(path: string, target: string): void {
  if (target.includes("\0")) throw new Error(`${JSON.stringify(path)}: NUL byte in symlink target`);
  checkTargetLimit(path, target);
  const parts = target.split("/");
  if (target.startsWith("/")) {
    if (parts.includes("..")) {
      throw new Error(`${JSON.stringify(path)}: symlink target ${JSON.stringify(target)} has ".."`);
    }
    return;
  }
  const resolved = normalizeRelative(`${dirname(path)}/${target}`);
  if (resolved === ".." || resolved.startsWith("../")) {
    throw new Error(
      `${JSON.stringify(path)}: symlink target ${JSON.stringify(target)} points outside the root`,
    );
  }
}

/** Parent directories of a relative path, outermost first: `a/b/c` -> `["a", "a/b"]`. */
export function parentsOf(p: string): string[] {
  const parts = p.split("/");
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join("/"));
  return out;
}
