/**
 * Load `pkgs/<name>/recipe.yaml`. The package name comes from the directory. Errors
 * name file, line and field (through lib/yaml_file.ts), e.g.
 * `pkgs/dropbear/recipe.yaml:9: sources.main.sha256: must be 64 lowercase hex digits`.
 *
 * ```ts
 * const r = await loadRecipe(root, "dropbear");
 * const all = await loadRecipes(root);
 * ```
 */
import { join } from "node:path";
import type { Board } from "../board.ts";
import { NAME_RE } from "../ice-pkg/dep.ts";
import { parseYaml } from "../yaml_file.ts";
import { KIND_SCHEMAS, KindOnly, type Recipe } from "./schema.ts";

/** Parse a recipe's text; `file` names it in errors, `name` is its package name. */
export function parseRecipe(file: string, text: string, name: string, dir: string): Recipe {
  if (!NAME_RE.test(name)) {
    throw new Error(`${file}: package name "${name}" (the directory) must match ${NAME_RE}`);
  }
  // Two passes: the kind first, then that kind's strict schema, so an unknown
  // field is reported against the fields this kind allows.
  const { kind } = parseYaml(file, text, KindOnly);
  const recipe = parseYaml(file, text, KIND_SCHEMAS[kind]);
  return { ...recipe, name, dir, file } as Recipe;
}

/** Load one recipe by package name. */
export async function loadRecipe(root: string, name: string): Promise<Recipe> {
  const dir = join(root, "pkgs", name);
  const file = join(dir, "recipe.yaml");
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch {
    throw new Error(`unknown package "${name}": ${file} does not exist`);
  }
  return parseRecipe(join("pkgs", name, "recipe.yaml"), text, name, dir);
}

/** Names of all packages with a recipe, sorted. */
export function recipeNames(root: string): string[] {
  const names: string[] = [];
  for (const e of Deno.readDirSync(join(root, "pkgs"))) {
    if (!e.isDirectory) continue;
    try {
      Deno.statSync(join(root, "pkgs", e.name, "recipe.yaml"));
      names.push(e.name);
    } catch {
      // A directory without a recipe (work in progress) is not a package.
    }
  }
  return names.sort();
}

/** Load every recipe; the first invalid one is an error naming its file and line. */
export async function loadRecipes(root: string): Promise<Recipe[]> {
  const out: Recipe[] = [];
  for (const n of recipeNames(root)) out.push(await loadRecipe(root, n));
  return out;
}

/** Does this recipe build for `board`'s architecture? */
export function recipeForBoard(r: Recipe, board: Pick<Board, "arch">): boolean {
  return !r.arches || r.arches.includes(board.arch);
}
