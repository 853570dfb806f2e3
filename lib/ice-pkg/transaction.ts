/**
 * Applying a changeset to a root, following apk-tools' commit protocol, with a
 * journal that lets any interruption end at the old or the new package set:
 *
 * 1. plan (`plan.ts`): file operations and every check that can be made before
 *    writing (conflicts, types, symlinks, the kernel's name limits)
 * 2. journal the plan in the database (state "staging")
 * 3. stage (`staging.ts`): new directories, backups of replaced files, each package
 *    extracted (streaming, validated) under temporary names; fsync
 * 4. journal state "commit"
 * 5. forward (`commit.ts`): rename into place, delete, record in the database
 *    (journal → "cleanup"); if any of it fails, undo: old files back, journal dropped
 * 6. cleanup: backups and unowned empty directories deleted, journal dropped
 *
 * `recover` (recover.ts) runs first in every command: it rolls back "staging",
 * completes "commit" (or undoes it if it cannot be completed) and finishes
 * "cleanup". The database never records a file that is not in place, and a failure
 * never leaves a journal that fails the same way at every start.
 *
 * ```ts
 * await applyChanges({ root, db, log: console.log, command: "install foo" }, changes);
 * ```
 */
import { ExitCode, IcePkgError } from "./errors.ts";
import { step } from "./fault.ts";
import { compareVersions, fullVersion } from "./version.ts";
import { type ApplyContext, type Change, makePlan, type Plan } from "./plan.ts";
import { stageFiles } from "./staging.ts";
import { cleanup, forward, rollbackStaging, undo } from "./commit.ts";
export { recover, type Recovery } from "./recover.ts";

export type { ApplyContext, Change, NewPkg, PkgFile } from "./plan.ts";

/** Print the plan in apk's style. */
function showPlan(ctx: ApplyContext, changes: Change[]): void {
  changes.forEach((c, i) => {
    const n = `(${i + 1}/${changes.length})`;
    const nv = c.new ? fullVersion(c.new.pkg.meta) : "";
    if (!c.old) ctx.log(`${n} Installing ${c.name} (${nv})`);
    else if (!c.new) ctx.log(`${n} Removing ${c.name} (${c.old.version})`);
    else {
      const verb = compareVersions(nv, c.old.version) >= 0 ? "Upgrading" : "Downgrading";
      ctx.log(`${n} ${verb} ${c.name} (${c.old.version} -> ${nv})`);
    }
  });
}

/** Steps 5-6; an error in 5 is undone and reported as such. */
function complete(ctx: ApplyContext, plan: Plan): number {
  let id: number;
  try {
    id = forward(ctx, plan);
  } catch (e) {
    undo(ctx, plan);
    throw new IcePkgError(
      `${(e as Error).message}: the transaction was undone, the root is as before it`,
      ExitCode.Error,
    );
  }
  cleanup(ctx, plan);
  return id;
}

/**
 * Apply `changes` to the root (packages already validated by their metadata; their
 * content is validated again as it is extracted). Returns the new transaction id.
 */
export async function applyChanges(ctx: ApplyContext, changes: Change[]): Promise<number> {
  const plan = await makePlan(ctx, changes);
  showPlan(ctx, changes);
  ctx.db.setJournal("staging", JSON.stringify(plan));
  step("journal staging");
  try {
    await stageFiles(ctx, plan, changes);
  } catch (e) {
    rollbackStaging(ctx, plan);
    throw e;
  }
  ctx.db.setJournal("commit");
  step("journal commit");
  return complete(ctx, plan);
}
