/**
 * Minimal POSIX path helpers. ice-pkg avoids `node:path` on its start-up path:
 * loading Deno's Node compatibility layer costs ~70 ms per process here, more than
 * everything else `ice-pkg owner` does.
 */

/** Join path parts with "/" (collapsing repeated slashes). */
export function join(...parts: string[]): string {
  return parts.filter((p) => p !== "").join("/").replace(/\/{2,}/g, "/");
}

/** Everything before the last "/" ("." if none). */
export function dirname(p: string): string {
  const i = p.replace(/\/+$/, "").lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : p.slice(0, i);
}

/** The last path component. */
export function basename(p: string): string {
  return p.replace(/\/+$/, "").split("/").pop() ?? "";
}

/** Normalise a relative path: resolve "." and "..", keeping leading ".." parts. */
export function normalizeRelative(p: string): string {
  const out: string[] = [];
  for (const part of p.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === ".." && out.length && out[out.length - 1] !== "..") out.pop();
    else out.push(part);
  }
  return out.join("/") || ".";
}
