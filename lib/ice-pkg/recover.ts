/**
 * Recovery of an interrupted transaction, run first by every command (kept apart
 * from the rest of the transaction code so that a query loads only this): a
 * "staging" journal is rolled back, a "commit" one completed — or undone if it
 * cannot be completed — and a "cleanup" one finished. No failure leaves a journal
 * that fails the same way at every start.
 *
 * ```ts
 * recover({ root, db, log: console.log, command: "list" }); // "completed", ...
 * ```
 */
import type { ApplyContext, Del, Plan } from "./plan.ts";
import { cleanup, forward, rollbackStaging, undo } from "./commit.ts";

/** A journaled plan, including one written by an older ice-pkg (deletes as plain paths). */
function readPlan(text: string): Plan {
  const raw = JSON.parse(text) as Plan & { dels: (Del | string)[] };
  return {
    ...raw,
    dels: raw.dels.map((d) => (typeof d === "string" ? { path: d } : d)),
    mkdirs: raw.mkdirs ?? [],
    rmdirs: raw.rmdirs ?? [],
  };
}

/** What {@linkcode recover} did. */
export type Recovery = "rolled back" | "completed" | "undone" | undefined;

/**
 * Complete, undo or roll back a transaction interrupted by a crash. Returns what was
 * done, or undefined when there was nothing to recover. Throws only if even undoing
 * fails (the file system refuses changes), leaving the journal for the next run.
 */
export function recover(ctx: ApplyContext): Recovery {
  const j = ctx.db.journal();
  if (!j) return undefined;
  const plan = readPlan(j.plan);
  if (j.state === "staging") {
    rollbackStaging(ctx, plan);
    ctx.log("ice-pkg: rolled back an interrupted transaction");
    return "rolled back";
  }
  if (j.state === "commit") {
    try {
      forward(ctx, plan);
    } catch (e) {
      undo(ctx, plan);
      ctx.log(
        plan.format === 2
          ? `ice-pkg: could not complete an interrupted transaction (${
            (e as Error).message
          }): undone, the root is as before it`
          : `ice-pkg: could not complete an interrupted transaction of an older ice-pkg (${
            (e as Error).message
          }): abandoned; files it had already replaced keep their new content (ice-pkg verify lists them)`,
      );
      return "undone";
    }
  }
  cleanup(ctx, plan);
  ctx.log("ice-pkg: completed an interrupted transaction");
  return "completed";
}
