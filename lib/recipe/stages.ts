/**
 * Package stages: one stage `pkg:<name>` per recipe under pkgs/ (for each board the
 * recipe applies to), producing `<out>/<name>-<version>-r<release>.<arch>.ice`, and
 * one stage `repo` that collects them into a signed repository
 * (`<out>/repo/{INDEX.json,INDEX.json.sig,*.ice}` and `<out>/keys/<keyId>.pub`).
 *
 * The signing key comes from the file named by ICENET_REPO_KEY; without it the
 * build makes a development key once under the store and says so. The key's id
 * enters the repo stage's key, so changing keys re-signs.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Board } from "../board.ts";
import { writePackage } from "../ice-pkg/package.ts";
import { buildRepo } from "../ice-pkg/repo.ts";
import { buildTree, kindNeeds, kindTools } from "./build.ts";
import { loadRecipes, recipeForBoard } from "./load.ts";
import type { Recipe } from "./schema.ts";
import { runtimeDepends } from "./sysroot.ts";
import { boardVars, expandRecipeVars } from "./vars.ts";
import { repoKey } from "./repo_key.ts";
import { defineStage, type Stage } from "../stage.ts";
import { SOURCE_DATE_EPOCH } from "../stage_env.ts";

const LIB = dirname(fileURLToPath(import.meta.url));
/** The module that exports these stages (a sandbox imports it to find them). */
const TASK = join(LIB, "..", "..", "tasks", "pkgs.ts");

/** Kinds whose packages are the same on every architecture (no binaries of ours). */
function isNoarch(r: Recipe): boolean {
  return r.kind === "files" || r.kind === "deb";
}

/** The package architecture: arch-independent kinds make "noarch" packages. */
export function packageArch(r: Recipe, board: Board): string {
  return isNoarch(r) ? "noarch" : board.arch;
}

/** File name of a recipe's package. */
export function packageFile(r: Recipe, board: Board): string {
  return `${r.name}-${r.version}-r${r.release}.${packageArch(r, board)}.ice`;
}

/** The stage that builds one recipe's package for `board`. */
export function recipeStage(raw: Recipe, board: Board): Stage {
  const r = expandRecipeVars(raw, boardVars(board), raw.file);
  const needs = [...new Set([...kindNeeds(r), ...r.buildNeeds])];
  return defineStage({
    name: `pkg:${r.name}`,
    description: `${r.name} ${r.version}-r${r.release} package`,
    needs,
    inputs: [`pkgs/${r.name}/**`],
    tools: kindTools(r, board),
    sources: r.sources,
    // A noarch package is the same for every board; others follow the toolchain.
    boardFields: isNoarch(r) ? [] : ["arch", "triple", "cflags", "cross"],
    module: TASK,
    async run(ctx) {
      const tree = join(ctx.tmp, "pkg");
      await buildTree(r, ctx, tree);
      const file = packageFile(r, ctx.board);
      // Streamed to the file; world-writable directories only where dirs: declares them.
      await writePackage(
        tree,
        {
          name: r.name,
          version: r.version,
          release: r.release,
          arch: packageArch(r, ctx.board) as "noarch",
          description: r.description,
          license: r.license,
          depends: runtimeDepends(r),
          provides: r.provides,
          conflicts: r.conflicts,
          replaces: r.replaces,
          conffiles: r.conffiles,
        },
        join(ctx.out, file),
        Number(ctx.env.SOURCE_DATE_EPOCH ?? 0),
        {
          where: r.file,
          declaredDirs: Object.keys(r.dirs),
        },
      );
      const bytes = (await Deno.stat(join(ctx.out, file))).size;
      ctx.log(`${file}: ${bytes} bytes`);
      ctx.record("package_bytes", bytes);
    },
  });
}

/** Validity of the build's own repository (see the repo stage). */
const BUILD_REPO_VALID_DAYS = 3650;

/** The stage that signs every package of the board into one repository. */
export function repoStage(
  recipes: Recipe[],
  keyId: string,
  keyPath: string,
  privateKey: () => Promise<string>,
): Stage {
  const needs = recipes.map((r) => `pkg:${r.name}`);
  return defineStage({
    name: "repo",
    description: "signed package repository",
    needs,
    // The key file is an input: a new key re-signs, and the sandbox lets it be read.
    inputs: [keyPath],
    params: { keyId, time: Number(Deno.env.get("ICENET_REPO_TIME") ?? SOURCE_DATE_EPOCH) },
    boardFields: ["arch"],
    module: TASK,
    async run(ctx) {
      const packages: string[] = [];
      for (const n of needs) {
        for await (const e of Deno.readDir(ctx.deps[n])) {
          if (e.name.endsWith(".ice")) packages.push(join(ctx.deps[n], e.name));
        }
      }
      // Signed "at" a fixed time so that two builds give the same bytes: the serial is
      // that time (ICENET_REPO_TIME, default SOURCE_DATE_EPOCH) and the validity long.
      // This repository feeds image builds; one published to devices is re-signed with
      // the current time and a short expiry by `deno task repo`.
      const time = Number(ctx.params.time);
      const created = new Date(time * 1000);
      const index = await buildRepo({
        packages: packages.sort(),
        outDir: join(ctx.out, "repo"),
        privateKey: await privateKey(),
        serial: time,
        created,
        expires: new Date((time + BUILD_REPO_VALID_DAYS * 86400) * 1000),
      });
      const key = await repoKey();
      await Deno.mkdir(join(ctx.out, "keys"));
      await Deno.writeTextFile(join(ctx.out, "keys", `${key.keyId}.pub`), key.publicLine);
      ctx.log(`repository: ${index.packages.length} packages, signed by key ${key.keyId}`);
    },
  });
}

/** All package stages and the repo stage of `board`. */
export async function packageStages(root: string, board: Board): Promise<Stage[]> {
  const recipes = (await loadRecipes(root)).filter((r) => recipeForBoard(r, board));
  const key = await repoKey();
  return [
    ...recipes.map((r) => recipeStage(r, board)),
    repoStage(recipes, key.keyId, key.path, async () => (await repoKey()).privateFile),
  ];
}
