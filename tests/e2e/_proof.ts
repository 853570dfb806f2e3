/**
 * Kept proofs of the long reproducibility checks (a second kernel build, two clean
 * image builds). Like Bazel's cached test results: a check that passed is recorded
 * under a digest of every stage key it covered (and the build image it used), so a
 * warm test run skips it until any input of any of those stages changes.
 * ICENET_RECHECK=1 runs every check again.
 *
 * Cold, these checks take longer than CI has (about 80 minutes on 2 cores, besides the
 * README's test command). Under a deadline (ICENET_DEADLINE, epoch seconds, set by
 * .ci/run) an unproven check runs only if its expected duration — its last measured
 * one, else the figure measured when it was written — fits in the time left; otherwise
 * it prints `long check deferred: <check> ...` and returns, and bin/test.ts counts it
 * as deferred, not passed. Later runs, with the main tier warm, prove what is left.
 */
import { dirname, join } from "node:path";
import { sha256 } from "../../lib/hash.ts";
import { SilentProgress } from "../../lib/progress.ts";
import type { StageResult } from "../../lib/runner.ts";
import { defaultStoreDir } from "../../lib/store.ts";
import { DEFERRED } from "../_deferred.ts";
import { buildStages } from "./_build.ts";

/** The file that records a proven check, in the user's store. */
function proofPath(check: string, digest: string): string {
  return join(defaultStoreDir(), "checks", `${check}-${digest}`);
}

/** The digest of every stage key in `results`, with `extra` (e.g. a build image id). */
export function digestOf(results: Map<string, StageResult>, extra: string[] = []): string {
  const keys = [...results.values()].map((r) => `${r.name}=${r.key}`).sort();
  return sha256([...keys, ...extra].join("\n"));
}

/**
 * The digest of the stages `targets` need on `board`, as the user's store has them
 * (a dry run). Undefined when some stage is not built there: then no proof applies.
 */
export async function storeDigest(
  board: string,
  targets: string[],
  extra: string[] = [],
): Promise<string | undefined> {
  const plan = await buildStages(board, targets, { dryRun: true, progress: new SilentProgress() });
  if ([...plan.values()].some((r) => !r.key)) return undefined;
  return digestOf(plan, extra);
}

/** The proof recorded for `check` at `digest`, if any (and not ICENET_RECHECK). */
export async function provenBefore(
  check: string,
  digest: string | undefined,
): Promise<string | undefined> {
  if (!digest || Deno.env.get("ICENET_RECHECK")) return undefined;
  try {
    return await Deno.readTextFile(proofPath(check, digest));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
}

/** Record that `check` passed at `digest`, with what it showed and how long it took. */
export async function recordProof(
  check: string,
  digest: string,
  shown: string,
  seconds?: number,
): Promise<void> {
  const path = proofPath(check, digest);
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, `${new Date().toISOString()} ${shown}\n`);
  if (seconds !== undefined) {
    await Deno.writeTextFile(durationPath(check), `${Math.round(seconds)}\n`);
  }
}

/**
 * Whether an unproven check may start now (see the top): true without a deadline, or
 * when its expected duration fits before it. Prints the deferral line when not.
 */
export async function timeFor(check: string, measuredSeconds: number): Promise<boolean> {
  const deadline = Number(Deno.env.get("ICENET_DEADLINE") ?? NaN);
  if (!Number.isFinite(deadline)) return true;
  const last = Number(await Deno.readTextFile(durationPath(check)).catch(() => NaN));
  const expected = Number.isFinite(last) ? last : measuredSeconds;
  const left = Math.round(deadline - Date.now() / 1000);
  if (expected <= left) return true;
  console.log(
    `${DEFERRED} ${check}: not proven for these inputs; it takes about ${
      Math.round(expected / 60)
    } min and ${Math.max(0, Math.round(left / 60))} min are left (run \`deno task test:long\`)`,
  );
  return false;
}

/** Where the last passing run of `check` recorded its duration. */
function durationPath(check: string): string {
  return join(defaultStoreDir(), "checks", `${check}.seconds`);
}
