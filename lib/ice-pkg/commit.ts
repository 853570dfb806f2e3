/**
 * The end of a transaction, after staging: each step is idempotent, so a run
 * interrupted anywhere (crash, kill -9, power loss) is finished by the next one.
 *
 * - {@linkcode forward} (journal "commit"): rename every staged file into place,
 *   delete the files no longer owned, fsync, then record the new state in the
 *   database — which moves the journal to "cleanup" in the same SQLite transaction.
 * - {@linkcode undo}: if any step of `forward` fails, put the old files back from
 *   their backups, remove the new ones, and drop the journal: the root is as before.
 * - {@linkcode cleanup} (journal "cleanup"): delete the backups and the directories
 *   no package owns any more (if empty), then drop the journal. Best effort: what it
 *   cannot delete it reports and leaves.
 * - {@linkcode rollbackStaging} (journal "staging"): delete everything staging made.
 *
 * ```ts
 * try { forward(ctx, plan); } catch { undo(ctx, plan); }
 * cleanup(ctx, plan);
 * ```
 */
import { renameSync } from "node:fs";
import { isNotFound, removeSync } from "./_fs.ts";
import { dirname, join } from "./_path.ts";
import type { ApplyContext, Plan } from "./plan.ts";
import { exists, fsyncDir, removeIfExists } from "./_fs.ts";
import { step } from "./fault.ts";

function fsyncDirs(root: string, paths: string[]): void {
  for (const d of new Set(paths.map(dirname))) {
    try {
      fsyncDir(join(root, d));
    } catch { /* removed meanwhile */ }
  }
}

/** Rename, delete, record. Returns the transaction id. Throws on the first failure. */
export function forward(ctx: ApplyContext, plan: Plan): number {
  const { root } = ctx;
  for (const p of plan.puts) {
    try {
      renameSync(join(root, p.tmp), join(root, p.path));
    } catch (e) {
      // A missing temporary name was renamed by the run that was interrupted.
      if (!isNotFound(e) || !exists(join(root, p.path))) throw e;
    }
    step(`rename ${p.path}`);
  }
  for (const d of plan.dels) {
    removeIfExists(join(root, d.path));
    step(`delete ${d.path}`);
  }
  fsyncDirs(root, [...plan.puts.map((p) => p.path), ...plan.dels.map((d) => d.path)]);
  step("fsync directories");
  // With nothing to clean up (a fresh install), the journal goes in this commit.
  const id = ctx.db.commit(plan.db, hasCleanup(plan) ? "cleanup" : "done");
  step("database commit");
  return id;
}

/** Does the plan leave backups or directories for the cleanup step? */
export function hasCleanup(plan: Plan): boolean {
  return plan.rmdirs.length > 0 || plan.dels.length > 0 || plan.puts.some((p) => p.backup);
}

/**
 * Put the root back as it was before the transaction and drop the journal. A plan
 * from an older ice-pkg has no backups: it is abandoned instead (files not yet
 * renamed are dropped, those renamed keep their new content; `verify` names them).
 */
export function undo(ctx: ApplyContext, plan: Plan): void {
  const { root } = ctx;
  for (const p of [...plan.puts].reverse()) {
    const tmp = join(root, p.tmp);
    const applied = !exists(tmp);
    if (plan.format !== 2) {
      removeIfExists(tmp);
      continue;
    }
    if (p.backup && exists(join(root, p.backup))) {
      restore(join(root, p.backup), join(root, p.path));
    } else if (applied) {
      removeIfExists(join(root, p.path));
    }
    removeIfExists(tmp);
  }
  for (const d of plan.dels) {
    if (d.backup && exists(join(root, d.backup))) restore(join(root, d.backup), join(root, d.path));
  }
  removeNewDirs(ctx, plan);
  fsyncDirs(root, [...plan.puts.map((p) => p.path), ...plan.dels.map((d) => d.path)]);
  ctx.db.clearJournal();
}

/**
 * Move a backup back to its path. When the path still is the same file (the step
 * was not reached), rename(2) does nothing and leaves both names: drop the backup.
 */
function restore(backup: string, path: string): void {
  renameSync(backup, path);
  removeIfExists(backup);
}

/** Remove the directories the transaction created, deepest first, if still empty. */
function removeNewDirs(ctx: ApplyContext, plan: Plan): void {
  for (const d of [...plan.mkdirs].reverse()) {
    try {
      removeSync(join(ctx.root, d.path));
    } catch { /* not empty (someone else's files) or gone: keep */ }
  }
}

/** Delete what staging made (temporary files, backups, new directories); drop the journal. */
export function rollbackStaging(ctx: ApplyContext, plan: Plan): void {
  const { root } = ctx;
  for (const p of plan.puts) {
    removeIfExists(join(root, p.tmp));
    if (p.backup) removeIfExists(join(root, p.backup));
  }
  for (const d of plan.dels) if (d.backup) removeIfExists(join(root, d.backup));
  removeNewDirs(ctx, plan);
  ctx.db.clearJournal();
}

/** Delete backups and unowned empty directories; drop the journal (see the module doc). */
export function cleanup(ctx: ApplyContext, plan: Plan): void {
  const { root, db } = ctx;
  if (!hasCleanup(plan)) {
    if (db.journal()) db.clearJournal();
    step("cleanup");
    return;
  }
  const backups = [...plan.puts, ...plan.dels].map((x) => x.backup).filter((b) => b !== undefined);
  for (const b of backups) {
    try {
      removeIfExists(join(root, b));
    } catch (e) {
      ctx.log(`ice-pkg: warning: could not remove /${b}: ${(e as Error).message}`);
    }
  }
  for (const d of plan.rmdirs) {
    if (db.ownersOf(d).length || db.isKeptDir(d)) continue;
    try {
      removeSync(join(root, d));
    } catch { /* not empty (files no package owns) or gone: keep it */ }
  }
  db.clearJournal();
  step("cleanup");
}
