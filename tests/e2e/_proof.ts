/**
 * Kept proofs of the long reproducibility checks (a second kernel build, two clean
 * image builds). Like Bazel's cached test results: a check that passed is recorded
 * under a digest of every stage key it covered (and the build image it used), so a
 * warm test run skips it until any input of any of those stages changes.
 * ICENET_RECHECK=1 runs every check again.
 */
import { dirname, join } from "node:path";
import { sha256 } from "../../lib/hash.ts";
import { SilentProgress } from "../../lib/progress.ts";
import type { StageResult } from "../../lib/runner.ts";
import { defaultStoreDir } from "../../lib/store.ts";
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

/** Record that `check` passed at `digest`, with what it showed. */
export async function recordProof(check: string, digest: string, shown: string): Promise<void> {
  const path = proofPath(check, digest);
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, `${new Date().toISOString()} ${shown}\n`);
}
