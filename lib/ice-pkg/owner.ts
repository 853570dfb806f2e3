/**
 * `ice-pkg owner PATH`: which installed package owns a path. Shared by the query
 * command and a fast path in main.ts that answers without the CLI's other modules,
 * the lock or recovery — Deno's start-up is most of the time of this command.
 *
 * ```ts
 * ownersOf(db.sql, relativeOwnerPath("/", "/usr/bin/foo")); // ["foo-1.0-r0"]
 * ```
 */
import { openSqlite, type SqliteDb } from "./_sqlite.ts";
import { join } from "./_path.ts";

/** The path relative to the root (absolute on the device, or under --root). */
export function relativeOwnerPath(root: string, path: string): string {
  let rel = path;
  const r = root.replace(/\/+$/, "");
  if (r && rel.startsWith(`${r}/`)) rel = rel.slice(r.length);
  return rel.replace(/^\/+/, "").replace(/\/+$/, "");
}

/** `name-version` of every package owning `rel`. */
export function ownersOf(sql: SqliteDb, rel: string): string[] {
  const rows = sql.prepare(
    "SELECT f.package AS name, p.version AS version FROM files f JOIN packages p ON p.name = f.package WHERE f.path = ? ORDER BY f.package",
  ).all(rel) as { name: string; version: string }[];
  return rows.map((r) => `${r.name}-${r.version}`);
}

/** The line printed for an owned path. */
export function ownerLine(rel: string, owners: string[]): string {
  return `/${rel} is owned by ${owners.join(", ")}`;
}

/** The request the fast path answers: `[--root DIR] [--json] owner PATH` and nothing else. */
export function fastOwnerRequest(
  args: string[],
): { root: string; json: boolean; path: string } | undefined {
  let root = "/";
  let json = false;
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--") continue;
    if (args[i] === "--root" && i + 1 < args.length) root = args[++i];
    else if (args[i] === "--json") json = true;
    else if (args[i].startsWith("-")) return undefined;
    else rest.push(args[i]);
  }
  return rest.length === 2 && rest[0] === "owner" ? { root, json, path: rest[1] } : undefined;
}

/**
 * Answer an owner request from the database alone, or return undefined to leave it
 * to the full CLI (no database yet, an interrupted transaction to recover, a path
 * nobody owns — whose message and exit code the CLI gives).
 */
export function fastOwner(
  req: { root: string; json: boolean; path: string },
  out: (line: string) => void,
  exists: (path: string) => boolean,
): number | undefined {
  const file = join(req.root, "var/lib/ice-pkg/db.sqlite");
  if (!exists(file)) return undefined;
  const sql = openSqlite(file);
  try {
    if (sql.prepare("SELECT 1 FROM journal").get() !== undefined) return undefined;
    const rel = relativeOwnerPath(req.root, req.path);
    const owners = ownersOf(sql, rel);
    if (!owners.length) return undefined;
    out(req.json ? JSON.stringify({ path: rel, owners }, null, 1) : ownerLine(rel, owners));
    return 0;
  } catch {
    return undefined;
  } finally {
    sql.close();
  }
}
