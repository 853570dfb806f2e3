/**
 * Out-of-tree recipes: a recipe directory anywhere on disk (`<dir>/recipe.yaml` and the
 * files it names), loaded with the in-tree schema and built as the stage `pkg:<name>`
 * beside the in-tree stages it needs (musl, ...), so it is keyed, cached and logged
 * like any stage. Used by `deno task pkg build` (bin/pkg.ts).
 *
 * ```ts
 * const oot = await loadOutOfTree("../hello");
 * const stage = outOfTreeStage(oot, board);  // pkg:hello, needs musl
 * ```
 *
 * This module is not imported by tasks/: a change here rebuilds no in-tree stage.
 */
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Board } from "../board.ts";
import { sha256, sha256File } from "../hash.ts";
import type { Stage } from "../stage.ts";
import { parseRecipe, recipeForBoard } from "./load.ts";
import type { Recipe } from "./schema.ts";
import { recipeStage } from "./stages.ts";
import { isCompiled } from "./sysroot.ts";

/** This module: its import graph is the out-of-tree stage's code (hence key). */
const MODULE = fileURLToPath(import.meta.url);

/** A loaded out-of-tree recipe and the fingerprint of its directory. */
export interface OutOfTree {
  recipe: Recipe;
  /** sha256 of every file under the directory (symlinks by target), by relative path. */
  files: Record<string, string>;
}

/**
 * Load `<dir>/recipe.yaml`. The package name is the directory's name, as in pkgs/.
 * Errors name the file as the user wrote it (`shown`, default `dir`), e.g.
 * `../hello/recipe.yaml:7: sources.main.sha256: ...`. `skip` is a path under `dir`
 * left out of the fingerprint (the output repository, when it is made there).
 */
export async function loadOutOfTree(
  dir: string,
  opts: { shown?: string; skip?: string } = {},
): Promise<OutOfTree> {
  const abs = resolve(dir);
  const file = join(opts.shown ?? dir, "recipe.yaml");
  let text: string;
  try {
    text = await Deno.readTextFile(join(abs, "recipe.yaml"));
  } catch {
    throw new Error(`${file}: no recipe here (a recipe directory holds recipe.yaml)`);
  }
  const recipe = localMirrors(parseRecipe(file, text, basename(abs), abs));
  checkInside(recipe);
  return { recipe, files: await fingerprint(abs, opts.skip && resolve(opts.skip)) };
}

/**
 * The stage that builds `oot` for `board`: the in-tree recipe stage, keyed by the
 * directory's content instead of `pkgs/<name>/**`. The content enters as parameters,
 * not as absolute input paths, so the key does not depend on where the directory is
 * (two checkouts of the same recipe share outputs, also through a remote cache).
 */
export function outOfTreeStage(oot: OutOfTree, board: Board): Stage {
  const r = oot.recipe;
  if (!recipeForBoard(r, board)) {
    throw new Error(
      `${r.file}: arches: ${r.name} builds for ${
        r.arches!.join(", ")
      }, not ${board.arch} (board ${board.name})`,
    );
  }
  const params = Object.fromEntries(
    Object.entries(oot.files).map(([path, hash]) => [`file:${path}`, hash]),
  );
  return { ...recipeStage(r, board), inputs: [], params, module: MODULE };
}

/**
 * A source's mirror that is a relative directory is the recipe directory's (`mirrors:
 * ["."]`: the tarball of one's own software beside the recipe). Only a source's sha256
 * enters the key, so where it is found changes nothing else.
 */
function localMirrors(r: Recipe): Recipe {
  const local = (m: string) => /^[a-z]+:\/\//.test(m) || isAbsolute(m) ? m : resolve(r.dir, m);
  const sources = Object.fromEntries(
    Object.entries(r.sources).map(([n, s]) => [n, { ...s, mirrors: s.mirrors?.map(local) }]),
  );
  return { ...r, sources };
}

/**
 * Files a recipe reads from its directory must be in it: the fingerprint covers only
 * the directory, so a `../x` would change the package without changing its key.
 */
function checkInside(r: Recipe): void {
  const refs: [field: string, path: string][] = [];
  for (const [dst, spec] of Object.entries(r.add)) {
    refs.push([`add.${dst}`, typeof spec === "string" ? spec : spec.from]);
  }
  if (r.kind === "files") refs.push(["tree", r.tree]);
  if (isCompiled(r)) {
    for (const [dst, f] of Object.entries(r.sourceFiles)) refs.push([`sourceFiles.${dst}`, f]);
    r.patches.forEach((p, i) => refs.push([`patches.${i}`, p]));
  }
  for (const [field, path] of refs) {
    const rel = relative(r.dir, resolve(r.dir, path));
    if (rel === ".." || rel.startsWith("../")) {
      throw new Error(`${r.file}: ${field}: ${path} is outside the recipe directory`);
    }
  }
}

/** sha256 of each file under `dir` (sorted walk; .git and `skip` left out). */
async function fingerprint(dir: string, skip?: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    const names = [...Deno.readDirSync(join(dir, rel))].map((e) => e.name).sort();
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      const abs = join(dir, r);
      if (n === ".git" || abs === skip) continue;
      const st = await Deno.lstat(abs);
      if (st.isSymlink) out[r] = sha256(`symlink:${await Deno.readLink(abs)}`);
      else if (st.isDirectory) await walk(r);
      else if (st.isFile) out[r] = await sha256File(abs);
    }
  };
  await walk("");
  return out;
}
