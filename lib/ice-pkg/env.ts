/**
 * The per-run environment of a command: root, database, options and output.
 * Opening it takes the root's lock and recovers an interrupted transaction.
 */
import { join } from "./_path.ts";
import { type Db, openDb } from "./db.ts";
import { acquireLock } from "./lock.ts";
import { recover } from "./transaction.ts";

/** Options shared by all commands. */
export interface Options {
  root: string;
  json: boolean;
  allowInsecure: boolean;
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

/** Lock the root, open its database and finish any interrupted transaction. */
export async function openEnv(opts: Options, io: Output): Promise<Env> {
  const lock = await acquireLock(opts.root, opts.lockWait);
  const db = openDb(opts.root);
  const log = (line: string) => (opts.json ? io.err(line) : io.out(line));
  recover({ root: opts.root, db, log, command: opts.command });
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

/** Configured repositories: `<root>/etc/icenet/repositories` then `--repo`. */
export function repoUrls(env: Env): string[] {
  let lines: string[] = [];
  try {
    lines = Deno.readTextFileSync(paths.repositories(env.opts.root)).split("\n");
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  const urls = lines.map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  return [...new Set([...urls, ...env.opts.repos])];
}
