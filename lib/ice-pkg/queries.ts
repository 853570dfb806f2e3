/**
 * Read-only commands: list, search, info, files, owner, verify, history.
 * Each returns plain data; the CLI prints it as text or JSON.
 *
 * ```ts
 * owner(env, "/usr/bin/foo"); // { path: "usr/bin/foo", owners: ["foo-1.0-r0"] }
 * ```
 */
import { lstatSync, readlinkSync } from "node:fs";
import type { Stats } from "node:fs";
import { join } from "./_path.ts";
import type { Env } from "./env.ts";
import type { Index } from "./metadata.ts";
import { repoUrls } from "./env.ts";
import { sha256File } from "./hash.ts";
import { ExitCode, IcePkgError } from "./errors.ts";
import { checkIndexTimes, indexLocation } from "./freshness.ts";
import { ownersOf, relativeOwnerPath } from "./owner.ts";
import type { FileRow, InstalledPkg } from "./db.ts";

/**
 * A stored index (validated when `update` accepted it), refused again if it is no
 * longer fresh: no command reads an expired index without --allow-expired.
 */
function freshIndex(env: Env, url: string, json: string): Index {
  const index = JSON.parse(json) as Index;
  checkIndexTimes(index, indexLocation(url), {
    allowExpired: env.opts.allowExpired || env.opts.allowInsecure,
    warn: (m) => env.io.err(m),
  });
  return index;
}

/** Installed packages. */
export function list(env: Env): InstalledPkg[] {
  return [...env.db.installed().values()];
}

/** Packages in the stored indexes whose name or description contains `term`. */
export function search(
  env: Env,
  term: string,
): { name: string; version: string; description: string; installed: boolean }[] {
  const stored = env.db.repos();
  const installed = env.db.installed();
  const out = [];
  for (const url of repoUrls(env)) {
    const s = stored.get(url);
    if (!s) continue;
    for (const e of freshIndex(env, url, s.indexJson).packages) {
      if (e.name.includes(term) || e.description.toLowerCase().includes(term.toLowerCase())) {
        out.push({
          name: e.name,
          version: e.version,
          description: e.description,
          installed: installed.get(e.name)?.version === e.version,
        });
      }
    }
  }
  return out;
}

/** Details of an installed package, or of the newest available one. */
export function info(env: Env, name: string): Record<string, unknown> {
  const p = env.db.get(name);
  if (p) return { ...p, installed: true, files: env.db.filesOf(name).length };
  const stored = env.db.repos();
  for (const url of repoUrls(env)) {
    const s = stored.get(url);
    if (!s) continue;
    const e = freshIndex(env, url, s.indexJson).packages.filter((e) => e.name === name).at(-1);
    if (e) return { ...e, installed: false };
  }
  throw new IcePkgError(`${name}: no such package installed or available`, ExitCode.Unsatisfiable);
}

/** Files of an installed package. */
export function files(env: Env, name: string): FileRow[] {
  if (!env.db.get(name)) throw new IcePkgError(`${name}: not installed`, ExitCode.Unsatisfiable);
  return env.db.filesOf(name);
}

/** Which package owns a path (absolute on the device, or under --root). */
export function owner(env: Env, path: string): { path: string; owners: string[] } {
  const rel = relativeOwnerPath(env.opts.root, path);
  const owners = ownersOf(env.db.sql, rel);
  if (!owners.length) {
    throw new IcePkgError(`${path}: not owned by any package`, ExitCode.Unsatisfiable);
  }
  return { path: rel, owners };
}

/** A problem found by verify. */
export interface VerifyProblem {
  path: string;
  package: string;
  problem: string;
}

/** Re-hash installed files; report changed, missing and wrong-mode files. */
export async function verify(env: Env, names: string[] = []): Promise<VerifyProblem[]> {
  const rows = names.length ? names.flatMap((n) => files(env, n)) : env.db.allFiles();
  const out: VerifyProblem[] = [];
  for (const f of rows) {
    const abs = join(env.opts.root, f.path);
    const bad = (problem: string) => out.push({ path: f.path, package: f.package, problem });
    let st: Stats;
    try {
      st = lstatSync(abs);
    } catch {
      bad("missing");
      continue;
    }
    if (f.type === "dir") {
      if (!st.isDirectory()) bad("not a directory");
    } else if (f.type === "symlink") {
      if (!st.isSymbolicLink()) bad("not a symlink");
      else if (readlinkSync(abs) !== f.target) bad("symlink target changed");
    } else if (!st.isFile()) {
      bad("not a regular file");
    } else if ((await sha256File(abs)) !== f.sha256 && !env.db.isConffile(f.path, f.package)) {
      bad("content changed (sha256)");
    } else if (((st.mode ?? 0) & 0o7777) !== f.mode) {
      bad(`mode ${((st.mode ?? 0) & 0o7777).toString(8)}, expected ${f.mode.toString(8)}`);
    }
  }
  return out;
}

/** The transaction history. */
export function history(env: Env) {
  return env.db.history();
}
