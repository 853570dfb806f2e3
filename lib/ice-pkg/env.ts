/**
 * The per-run environment of a command: root, database, options and output.
 * Opening it takes the root's lock and recovers an interrupted transaction.
 */
import { readFileSync } from "node:fs";
import { isNotFound } from "./_fs.ts";
import { join } from "./_path.ts";
import { ensureDir } from "./_dirs.ts";
import { type Db, openDb } from "./db.ts";
import { acquireLock } from "./lock.ts";
import { recover } from "./recover.ts";
import { IcePkgError } from "./errors.ts";

/** Options shared by all commands. */
export interface Options {
  root: string;
  json: boolean;
  allowInsecure: boolean;
  /** Use an expired, future-dated or overlong index (with a warning): for recovery. */
  allowExpired?: boolean;
  force: boolean;
  purgeDeps: boolean;
  /** Extra repositories (`--repo`), after those of `<root>/etc/icenet/repositories`. */
  repos: string[];
  /** Milliseconds to wait for the lock. */
  lockWait: number;
  /** Command line, recorded in the history. */
  command: string;
  /** Time recorded in the history (seconds since the epoch); default: SOURCE_DATE_EPOCH or now. */
  time?: number;
}

/** Where output goes; tests capture it. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

/** An open root. */
export interface Env {
  opts: Options;
  db: Db;
  io: Output;
  /** Progress/plan lines: stdout for humans, stderr with --json. */
  log(line: string): void;
  close(): void;
}

/**
 * Lock the root, open its database and finish any interrupted transaction. If even
 * undoing it fails (the file system refuses changes), a read-only command goes on
 * with a warning and a changing one (`readOnly` false) is refused with the reason.
 */
export async function openEnv(opts: Options, io: Output, readOnly = false): Promise<Env> {
  const lock = await acquireLock(opts.root, opts.lockWait);
  let db: Db;
  try {
    db = openDb(opts.root);
  } catch (e) {
    lock.close();
    throw new IcePkgError(
      `${join(opts.root, "var/lib/ice-pkg/db.sqlite")}: cannot open the package database: ${
        (e as Error).message
      }`,
    );
  }
  const log = (line: string) => (opts.json ? io.err(line) : io.out(line));
  try {
    recover({ root: opts.root, db, log, command: opts.command });
  } catch (e) {
    const msg = `${opts.root}: an interrupted transaction could neither be completed nor undone: ${
      (e as Error).message
    }`;
    if (!readOnly) {
      db.close();
      lock.close();
      throw new IcePkgError(`${msg} (it is tried again at every start; fix the cause first)`);
    }
    io.err(`ice-pkg: warning: ${msg}; showing the last recorded state`);
  }
  return {
    opts,
    db,
    io,
    log,
    close() {
      db.close();
      lock.close();
    },
  };
}

/** Path of a file under the root's ice-pkg configuration or state. */
export const paths = {
  keys: (root: string) => join(root, "etc/icenet/keys"),
  repositories: (root: string) => join(root, "etc/icenet/repositories"),
  cache: (root: string) => join(root, "var/cache/ice-pkg"),
};

/** The package cache of the root, created (0755) if needed. */
export function cacheDir(root: string): string {
  return ensureDir(root, "var/cache/ice-pkg");
}

/** Configured repositories: `<root>/etc/icenet/repositories` then `--repo`. */
export function repoUrls(env: Env): string[] {
  let lines: string[] = [];
  try {
    lines = readFileSync(paths.repositories(env.opts.root), "utf8").split("\n");
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  const urls = lines.map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  return [...new Set([...urls, ...env.opts.repos])];
}
