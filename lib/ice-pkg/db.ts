/**
 * The installed-package database: SQLite (_sqlite.ts) at
 * `<root>/var/lib/ice-pkg/db.sqlite`. Tables: packages (explicit or dependency),
 * files (path, owner, sha256, mode, ...), transactions + changes (history),
 * repos (last accepted index of each repository), journal (the transaction in
 * flight, for crash recovery) and keepdirs (directories that existed before any
 * package listed them: never removed by ice-pkg).
 *
 * ```ts
 * const db = openDb("/mnt/root");
 * db.ownersOf("usr/bin/foo"); // ["foo"]
 * ```
 */
import { openSqlite, type SqliteDb } from "./_sqlite.ts";
import { join } from "./_path.ts";
import { ensureDir } from "./_dirs.ts";
import type { FileEntry } from "./metadata.ts";

/** An installed package. */
export interface InstalledPkg {
  name: string;
  /** Full version `upstream-rN`. */
  version: string;
  arch: string;
  explicit: boolean;
  sha256: string;
  size: number;
  installedSize: number;
  description: string;
  license: string;
  depends: string[];
  provides: string[];
  conflicts: string[];
  replaces: string[];
}

/** A file row. */
export interface FileRow extends FileEntry {
  package: string;
}

/** One package change of a transaction: old and/or new version. */
export interface ChangeRow {
  name: string;
  oldVersion: string | null;
  newVersion: string | null;
  oldSha256: string | null;
  newSha256: string | null;
  oldExplicit: boolean;
}

/** A transaction of the history. */
export interface TxRow {
  id: number;
  time: string;
  command: string;
  changes: ChangeRow[];
}

/** Directory of the database under a root. */
export function dbDir(root: string): string {
  return join(root, "var/lib/ice-pkg");
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS packages (
  name TEXT PRIMARY KEY, version TEXT NOT NULL, arch TEXT NOT NULL,
  explicit INTEGER NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL,
  installed_size INTEGER NOT NULL, description TEXT NOT NULL, license TEXT NOT NULL,
  depends TEXT NOT NULL, provides TEXT NOT NULL, conflicts TEXT NOT NULL, replaces TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (
  path TEXT NOT NULL, package TEXT NOT NULL, type TEXT NOT NULL, mode INTEGER NOT NULL,
  uid INTEGER NOT NULL, gid INTEGER NOT NULL, size INTEGER, sha256 TEXT, target TEXT,
  PRIMARY KEY (path, package));
CREATE INDEX IF NOT EXISTS files_by_package ON files(package);
CREATE TABLE IF NOT EXISTS conffiles (
  path TEXT NOT NULL, package TEXT NOT NULL, PRIMARY KEY (path, package));
CREATE TABLE IF NOT EXISTS transactions (
  id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, command TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS changes (
  tx INTEGER NOT NULL, name TEXT NOT NULL, old_version TEXT, new_version TEXT,
  old_sha256 TEXT, new_sha256 TEXT, old_explicit INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS repos (
  url TEXT PRIMARY KEY, serial INTEGER NOT NULL, sha256 TEXT NOT NULL, index_json TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal (
  id INTEGER PRIMARY KEY CHECK (id = 1), state TEXT NOT NULL, plan TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS keepdirs (path TEXT PRIMARY KEY);
`;

type Row = Record<string, unknown>;

function toPkg(r: Row): InstalledPkg {
  return {
    name: r.name as string,
    version: r.version as string,
    arch: r.arch as string,
    explicit: r.explicit === 1,
    sha256: r.sha256 as string,
    size: r.size as number,
    installedSize: r.installed_size as number,
    description: r.description as string,
    license: r.license as string,
    depends: JSON.parse(r.depends as string),
    provides: JSON.parse(r.provides as string),
    conflicts: JSON.parse(r.conflicts as string),
    replaces: JSON.parse(r.replaces as string),
  };
}

function toFile(r: Row): FileRow {
  const f: FileRow = {
    path: r.path as string,
    package: r.package as string,
    type: r.type as FileRow["type"],
    mode: r.mode as number,
    uid: r.uid as number,
    gid: r.gid as number,
  };
  if (r.size !== null) f.size = r.size as number;
  if (r.sha256 !== null) f.sha256 = r.sha256 as string;
  if (r.target !== null) f.target = r.target as string;
  return f;
}

/** What the final database step of a transaction writes (also kept in the journal). */
export interface DbCommit {
  command: string;
  time: string;
  /** Packages whose rows (and file rows) are deleted. */
  remove: string[];
  /** Packages inserted, with their files. */
  add: { pkg: InstalledPkg; files: FileEntry[]; conffiles?: string[] }[];
  /** Paths whose ownership moves to a new package (`replaces`): rows of `from` deleted. */
  takeover: { path: string; from: string }[];
  changes: ChangeRow[];
  /** Existing directories a package listed first: kept when no package owns them any more. */
  keepdirs?: string[];
}

/** The package database of one root. */
export class Db {
  readonly sql: SqliteDb;

  constructor(path: string) {
    this.sql = openSqlite(path);
    this.sql.exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;");
    this.sql.exec(SCHEMA);
  }

  close(): void {
    this.sql.close();
  }

  /** All installed packages by name. */
  installed(): Map<string, InstalledPkg> {
    const rows = this.sql.prepare("SELECT * FROM packages ORDER BY name").all() as Row[];
    return new Map(rows.map((r) => [r.name as string, toPkg(r)]));
  }

  /** One installed package, if any. */
  get(name: string): InstalledPkg | undefined {
    const r = this.sql.prepare("SELECT * FROM packages WHERE name = ?").get(name) as
      | Row
      | undefined;
    return r ? toPkg(r) : undefined;
  }

  /** Files of a package, sorted by path. */
  filesOf(name: string): FileRow[] {
    return (this.sql.prepare("SELECT * FROM files WHERE package = ? ORDER BY path").all(
      name,
    ) as Row[])
      .map(toFile);
  }

  /** Every file row (for verify). */
  allFiles(): FileRow[] {
    return (this.sql.prepare("SELECT * FROM files ORDER BY path").all() as Row[]).map(toFile);
  }

  /** Is `path` a configuration file of `pkg`? */
  isConffile(path: string, pkg: string): boolean {
    return this.sql.prepare("SELECT 1 FROM conffiles WHERE path = ? AND package = ?").get(
      path,
      pkg,
    ) !==
      undefined;
  }

  /** Packages owning a path (relative to the root). */
  ownersOf(path: string): FileRow[] {
    return (this.sql.prepare("SELECT * FROM files WHERE path = ?").all(path) as Row[]).map(toFile);
  }

  /**
   * Apply the database part of a transaction atomically; in the same SQLite
   * transaction the journal (if any) moves to "cleanup", or is dropped ("done").
   */
  commit(c: DbCommit, journal: "cleanup" | "done" = "cleanup"): number {
    const s = this.sql;
    s.exec("BEGIN IMMEDIATE");
    try {
      const delPkg = s.prepare("DELETE FROM packages WHERE name = ?");
      const delFiles = s.prepare("DELETE FROM files WHERE package = ?");
      const delConf = s.prepare("DELETE FROM conffiles WHERE package = ?");
      for (const name of c.remove) {
        delPkg.run(name);
        delFiles.run(name);
        delConf.run(name);
      }
      const insConf = s.prepare("INSERT OR REPLACE INTO conffiles VALUES (?, ?)");
      for (const a of c.add) for (const p of a.conffiles ?? []) insConf.run(p, a.pkg.name);
      const delOne = s.prepare("DELETE FROM files WHERE path = ? AND package = ?");
      for (const t of c.takeover) delOne.run(t.path, t.from);
      const insPkg = s.prepare(
        "INSERT OR REPLACE INTO packages VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
      );
      const insFile = s.prepare("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?,?,?)");
      for (const { pkg: p, files } of c.add) {
        insPkg.run(
          p.name,
          p.version,
          p.arch,
          p.explicit ? 1 : 0,
          p.sha256,
          p.size,
          p.installedSize,
          p.description,
          p.license,
          JSON.stringify(p.depends),
          JSON.stringify(p.provides),
          JSON.stringify(p.conflicts),
          JSON.stringify(p.replaces),
        );
        for (const f of files) {
          insFile.run(
            f.path,
            p.name,
            f.type,
            f.mode,
            f.uid,
            f.gid,
            f.size ?? null,
            f.sha256 ?? null,
            f.target ?? null,
          );
        }
      }
      const tx = s.prepare("INSERT INTO transactions (time, command) VALUES (?, ?)")
        .run(c.time, c.command);
      const id = Number(tx.lastInsertRowid);
      const insChange = s.prepare("INSERT INTO changes VALUES (?,?,?,?,?,?,?)");
      for (const ch of c.changes) {
        insChange.run(
          id,
          ch.name,
          ch.oldVersion,
          ch.newVersion,
          ch.oldSha256,
          ch.newSha256,
          ch.oldExplicit ? 1 : 0,
        );
      }
      const keep = s.prepare("INSERT OR IGNORE INTO keepdirs VALUES (?)");
      for (const d of c.keepdirs ?? []) keep.run(d);
      s.exec(journal === "done" ? "DELETE FROM journal" : "UPDATE journal SET state = 'cleanup'");
      s.exec("COMMIT");
      return id;
    } catch (e) {
      s.exec("ROLLBACK");
      throw e;
    }
  }

  /** Set the explicit flag (install of an already installed dependency). */
  setExplicit(name: string, explicit: boolean): void {
    this.sql.prepare("UPDATE packages SET explicit = ? WHERE name = ?").run(explicit ? 1 : 0, name);
  }

  /** History, oldest first. */
  history(): TxRow[] {
    const txs = this.sql.prepare("SELECT * FROM transactions ORDER BY id").all() as Row[];
    const ch = this.sql.prepare("SELECT * FROM changes WHERE tx = ? ORDER BY name");
    return txs.map((t) => ({
      id: t.id as number,
      time: t.time as string,
      command: t.command as string,
      changes: (ch.all(t.id as number) as Row[]).map((r) => ({
        name: r.name as string,
        oldVersion: r.old_version as string | null,
        newVersion: r.new_version as string | null,
        oldSha256: r.old_sha256 as string | null,
        newSha256: r.new_sha256 as string | null,
        oldExplicit: r.old_explicit === 1,
      })),
    }));
  }

  /** The journal of an interrupted transaction, if any. */
  journal(): { state: string; plan: string } | undefined {
    return this.sql.prepare("SELECT state, plan FROM journal").get() as
      | { state: string; plan: string }
      | undefined;
  }

  /** Write or advance the journal (one row). */
  setJournal(state: string, plan?: string): void {
    if (plan !== undefined) {
      this.sql.prepare("INSERT OR REPLACE INTO journal VALUES (1, ?, ?)").run(state, plan);
    } else {
      this.sql.prepare("UPDATE journal SET state = ?").run(state);
    }
  }

  /** Drop the journal (transaction rolled back, undone or cleaned up). */
  clearJournal(): void {
    this.sql.exec("DELETE FROM journal");
  }

  /** Did `path` exist before any package listed it (so ice-pkg never removes it)? */
  isKeptDir(path: string): boolean {
    return this.sql.prepare("SELECT 1 FROM keepdirs WHERE path = ?").get(path) !== undefined;
  }

  /** Last accepted index of each repository. */
  repos(): Map<string, { serial: number; sha256: string; indexJson: string }> {
    const rows = this.sql.prepare("SELECT * FROM repos").all() as Row[];
    return new Map(rows.map((r) => [r.url as string, {
      serial: r.serial as number,
      sha256: r.sha256 as string,
      indexJson: r.index_json as string,
    }]));
  }

  /** Remember an accepted index. */
  setRepo(url: string, serial: number, sha256: string, indexJson: string): void {
    this.sql.prepare("INSERT OR REPLACE INTO repos VALUES (?,?,?,?)").run(
      url,
      serial,
      sha256,
      indexJson,
    );
  }
}

/** Open (creating if needed) the database of `root`. */
export function openDb(root: string): Db {
  ensureDir(root, "var/lib/ice-pkg");
  return new Db(join(dbDir(root), "db.sqlite"));
}
