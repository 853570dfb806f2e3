/**
 * Build (or reuse from the store) a stage of a board and return its output directory:
 * what `deno task boot`, the boot tests and the boot benchmark start from.
 */
import { join } from "node:path";
import type { Board } from "../board.ts";
import { makeProgress } from "../progress.ts";
import { build } from "../runner.ts";
import { defaultStoreDir, Store } from "../store.ts";

/** Output directory of `target` for `board`, built through the store. */
export async function buildStage(
  root: string,
  board: Board,
  target: string,
  quiet = false,
): Promise<string> {
  const { loadStages } = await import("../registry.ts");
  const progress = makeProgress(quiet);
  const result = await build({
    root,
    board,
    stages: await loadStages(board, root),
    targets: [target],
    store: new Store(defaultStoreDir()),
    progress,
  });
  progress.summary();
  const out = result.results.get(target)?.out;
  if (!result.ok || !out) {
    throw new Error(`building ${target} for ${board.name} failed (see above)`);
  }
  return out;
}

/**
 * Run `f` with the image definition `defFile` in effect (ICENET_IMAGE, which the rootfs
 * and image stages read), restoring what was set before.
 */
export async function withImageDef<T>(defFile: string, f: () => Promise<T>): Promise<T> {
  const before = Deno.env.get("ICENET_IMAGE");
  Deno.env.set("ICENET_IMAGE", defFile);
  try {
    return await f();
  } finally {
    if (before === undefined) Deno.env.delete("ICENET_IMAGE");
    else Deno.env.set("ICENET_IMAGE", before);
  }
}

/** Path of `icenet-<board>.img`, built through the store. */
export async function buildImage(root: string, board: Board, quiet = false): Promise<string> {
  return join(await buildStage(root, board, "image", quiet), `icenet-${board.name}.img`);
}
