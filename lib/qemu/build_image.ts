/**
 * Build (or reuse from the store) a board's image and return its path: what
 * `deno task boot`, the boot tests and the boot benchmark start from.
 */
import { join } from "node:path";
import type { Board } from "../board.ts";
import { makeProgress } from "../progress.ts";
import { build } from "../runner.ts";
import { defaultStoreDir, Store } from "../store.ts";

/** Path of `<out>/icenet-<board>.img` after building the image stage. */
export async function buildImage(root: string, board: Board, quiet = false): Promise<string> {
  const { loadStages } = await import("../../tasks/registry.ts");
  const progress = makeProgress(quiet);
  const result = await build({
    root,
    board,
    stages: await loadStages(board, root),
    targets: ["image"],
    store: new Store(defaultStoreDir()),
    progress,
  });
  progress.summary();
  const out = result.results.get("image")?.out;
  if (!result.ok || !out) throw new Error(`building the ${board.name} image failed (see above)`);
  return join(out, `icenet-${board.name}.img`);
}
