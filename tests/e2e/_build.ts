/**
 * Build real stages for the e2e tests through the runner and the shared store (so a
 * second run of the tests is cheap), failing the test with the stage's log tail.
 */
import { type Board, loadBoard } from "../../lib/board.ts";
import { makeProgress } from "../../lib/progress.ts";
import { build, type BuildOptions, type StageResult } from "../../lib/runner.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { loadStages, ROOT } from "../../lib/registry.ts";
import { kernelStage, type Lsm } from "../../tasks/kernel.ts";
import type { Stage } from "../../lib/stage.ts";

/** `board`'s stages, with its kernel built with the opt-in `lsm` fragments. */
export async function stagesWithLsm(board: Board, lsm: Lsm[], root = ROOT): Promise<Stage[]> {
  const stages = await loadStages(board, root);
  if (!lsm.length) return stages;
  return stages.map((s) => s.name === "kernel" ? kernelStage(board, lsm, root) : s);
}

/** Build `targets` for `board`; returns each stage's result. Throws on failure. */
export async function buildStages(
  board: string,
  targets: string[],
  opts: Partial<BuildOptions> & { root?: string; storeDir?: string } = {},
): Promise<Map<string, StageResult>> {
  const root = opts.root ?? ROOT;
  const b = await loadBoard(root, board);
  const r = await build({
    root,
    board: b,
    stages: await loadStages(b, root),
    targets,
    store: opts.store ?? new Store(opts.storeDir ?? defaultStoreDir()),
    progress: opts.progress ?? makeProgress(),
    ...opts,
  });
  if (!r.ok) {
    const bad = [...r.results.values()].filter((x) => x.outcome === "failed");
    throw new Error(
      `build of ${targets.join(", ")}@${board} failed: ${
        bad.map((x) => `${x.name}: ${x.error} (log ${x.log})`).join("; ")
      }`,
    );
  }
  return r.results;
}
