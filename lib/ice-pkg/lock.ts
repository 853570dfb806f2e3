/**
 * One ice-pkg at a time per root: an exclusive flock on
 * `<root>/var/lib/ice-pkg/lock`, released when the process exits (even on SIGKILL).
 * A second instance waits up to `waitMs`, then fails with a message.
 *
 * ```ts
 * const lock = await acquireLock(root, 3000);
 * try { ... } finally { lock.close(); }
 * ```
 */
import { join } from "./_path.ts";
import { dbDir } from "./db.ts";
import { ensureDir } from "./_dirs.ts";
import { ExitCode, IcePkgError } from "./errors.ts";

/** Take the lock of `root`, waiting at most `waitMs` milliseconds. */
export async function acquireLock(root: string, waitMs: number): Promise<Deno.FsFile> {
  ensureDir(root, "var/lib/ice-pkg");
  const path = join(dbDir(root), "lock");
  const file = Deno.openSync(path, { read: true, write: true, create: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Deno has no non-blocking flock: the lock call runs on a worker thread, so even
  // "do not wait" gets a short grace period for that thread to answer.
  const limit = Math.max(waitMs, 500);
  const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), limit));
  const got = await Promise.race([file.lock(true).then(() => "locked" as const), timeout]);
  clearTimeout(timer);
  if (got === "timeout") {
    throw new IcePkgError(
      `${root}: another ice-pkg is running (lock ${path} held for more than ${limit / 1000} s)`,
      ExitCode.Locked,
    );
  }
  return file;
}
