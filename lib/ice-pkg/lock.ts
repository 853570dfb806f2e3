/**
 * One ice-pkg at a time per root. A second instance waits up to `waitMs`, then fails
 * with a message.
 *
 * - Deno: an exclusive flock on `<root>/var/lib/ice-pkg/lock`, released when the
 *   process exits (even on SIGKILL).
 * - Node (32-bit ARM boards) has no flock: `<root>/var/lib/ice-pkg/lock.pid` is
 *   created exclusively and holds the owner's pid; a file whose process is gone
 *   (killed) is stale and taken over.
 *
 * ```ts
 * const lock = await acquireLock(root, 3000);
 * try { ... } finally { lock.close(); }
 * ```
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import process from "node:process";
import { join } from "./_path.ts";
import { dbDir } from "./db.ts";
import { ensureDir } from "./_dirs.ts";
import { isAlreadyExists, isNotFound } from "./_fs.ts";
import { ExitCode, IcePkgError } from "./errors.ts";

export interface Lock {
  close(): void;
}

const deno = (globalThis as { Deno?: typeof Deno }).Deno;

/** Take the lock of `root`, waiting at most `waitMs` milliseconds. */
export async function acquireLock(root: string, waitMs: number): Promise<Lock> {
  ensureDir(root, "var/lib/ice-pkg");
  const path = join(dbDir(root), "lock");
  // Deno has no non-blocking flock: the lock call runs on a worker thread, so even
  // "do not wait" gets a short grace period for that thread to answer.
  const limit = Math.max(waitMs, 500);
  const lock = deno ? await flock(deno, path, limit) : await pidLock(`${path}.pid`, limit);
  if (!lock) {
    throw new IcePkgError(
      `${root}: another ice-pkg is running (lock ${path} held for more than ${limit / 1000} s)`,
      ExitCode.Locked,
    );
  }
  return lock;
}

async function flock(d: typeof Deno, path: string, limit: number): Promise<Lock | undefined> {
  const file = d.openSync(path, { read: true, write: true, create: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), limit));
  const got = await Promise.race([file.lock(true).then(() => "locked" as const), timeout]);
  clearTimeout(timer);
  if (got === "timeout") {
    file.close();
    return undefined;
  }
  return file;
}

/** Is the process `pid` alive? (EPERM: alive, someone else's.) */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === "EPERM";
  }
}

async function pidLock(path: string, limit: number): Promise<Lock | undefined> {
  const deadline = Date.now() + limit;
  while (true) {
    try {
      const fd = openSync(path, "wx", 0o644);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return {
        close: () => {
          try {
            unlinkSync(path);
          } catch { /* gone */ }
        },
      };
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(path, "utf8").trim());
    } catch (e) {
      if (isNotFound(e)) continue; // released meanwhile
      throw e;
    }
    // An empty file is one being written: only a number naming a dead process is stale.
    if (Number.isInteger(owner) && owner > 0 && !alive(owner)) {
      try {
        unlinkSync(path);
      } catch { /* taken over meanwhile */ }
      continue;
    }
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, 50));
  }
}
