/**
 * One ice-pkg at a time per root. A second instance waits up to `waitMs`, then fails
 * with a message.
 *
 * - Deno: an exclusive flock on `<root>/var/lib/ice-pkg/lock`, released when the
 *   process exits (even on SIGKILL).
 * - Node (32-bit ARM boards) has no flock: `<root>/var/lib/ice-pkg/lock.pid` is
 *   created exclusively and names its process (pid, boot id, start time); a file whose
 *   process is gone (killed, or the device rebooted) is stale and taken over.
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

/** This boot's id: a lock file from an earlier boot is stale whatever its pid. */
function bootId(): string {
  try {
    return readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim();
  } catch {
    return "";
  }
}

/** The start time of process `pid` (clock ticks since boot), or undefined if it is gone. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22; the command name (field 2) may hold spaces and parentheses.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** `pid boot-id start-time`: names one process of one boot (pids are reused). */
function owner(pid: number): string {
  return `${pid} ${bootId()} ${startTime(pid) ?? ""}`;
}

/**
 * Take `path` as a pid lock, waiting at most `limit` ms. A lock whose process is gone
 * (killed, or from before a reboot: the file is on the data partition) is taken over.
 */
export async function pidLock(path: string, limit: number): Promise<Lock | undefined> {
  const deadline = Date.now() + limit;
  while (true) {
    try {
      const fd = openSync(path, "wx", 0o644);
      writeSync(fd, `${owner(process.pid)}\n`);
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
    let held: string;
    try {
      held = readFileSync(path, "utf8");
    } catch (e) {
      if (isNotFound(e)) continue; // released meanwhile
      throw e;
    }
    // A file without its line yet is one being written: only a complete one can be stale.
    if (held.endsWith("\n")) {
      const pid = Number(held.split(" ")[0]);
      const stale = !Number.isInteger(pid) || pid <= 0 || !alive(pid) ||
        held.trim() !== owner(pid).trim();
      if (stale) {
        try {
          unlinkSync(path);
        } catch { /* taken over meanwhile */ }
        continue;
      }
    }
    if (Date.now() >= deadline) return undefined;
    await new Promise((r) => setTimeout(r, 50));
  }
}
