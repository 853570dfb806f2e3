/**
 * Source patches a stage applies in name order (`<dir>/0001-subject.patch`), as
 * Buildroot's per-package patch directories: each file is a declared input of the stage,
 * so adding or editing one rebuilds exactly the stages that apply it.
 */
import { join } from "node:path";
import type { StageContext } from "./stage.ts";

/** The `.patch` files under `dir` (relative to `root`), sorted; none if it is absent. */
export function listPatches(root: string, dir: string): string[] {
  try {
    return [...Deno.readDirSync(join(root, dir))]
      .filter((e) => e.isFile && e.name.endsWith(".patch"))
      .map((e) => `${dir}/${e.name}`)
      .sort();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
}

/** Apply `patches` (declared inputs) to the source tree `tree`, in order. */
export async function applyPatches(
  ctx: StageContext,
  tree: string,
  patches: string[],
): Promise<void> {
  for (const p of patches) {
    await ctx.$`patch -p1 --forward --no-backup-if-mismatch -i ${ctx.inputs[p]}`.cwd(tree);
  }
}
