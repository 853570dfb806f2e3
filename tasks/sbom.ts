/**
 * Stage "sbom": SPDX 2.3 documents of the board's image and repository, from what the
 * build already knows, checked with the SPDX schema before they are written.
 *
 * Output:
 *   image.spdx.json   the image: every package installed in its root (from the root's
 *                     package database), the kernel and its Debian source tree, the boot
 *                     loader's packages; sha256 of each file, license, source
 *   repo.spdx.json    the repository: every package the board builds, likewise
 *
 * A stage of its own, beside the ones it describes: they keep their keys, and an SBOM
 * is made only when asked for (`deno task build sbom --board zima`).
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Board } from "../lib/board.ts";
import { bootKind } from "../lib/boot/registry.ts";
import { runStandalone } from "../lib/cli.ts";
import type { Source } from "../lib/fetch/source.ts";
import { sha256File } from "../lib/hash.ts";
import { openDb } from "../lib/ice-pkg/db.ts";
import { parseIndex } from "../lib/ice-pkg/metadata.ts";
import { kernelSource } from "../lib/kernel_source.ts";
import { loadRecipes, recipeForBoard } from "../lib/recipe/load.ts";
import type { Recipe } from "../lib/recipe/schema.ts";
import { boardVars, expandRecipeVars } from "../lib/recipe/vars.ts";
import { imageDocument, repoDocument } from "../lib/sbom/documents.ts";
import type { BuiltPackage, PackageOrigin } from "../lib/sbom/packages.ts";
import { type SpdxDocument, spdxJson } from "../lib/sbom/spdx.ts";
import { validateSpdx } from "../lib/sbom/validate.ts";
import { defineStage, type Param, type Stage, type StageContext } from "../lib/stage.ts";

/** Plain JSON (no undefined fields), as a stage parameter must be. */
function param<T>(v: T): Param {
  return JSON.parse(JSON.stringify(v));
}

/** The stage named `name`, from `tasks/<name>.ts` (the project's naming of stage files). */
async function findStage(root: string, board: Board, name: string): Promise<Stage> {
  const file = join(root, "tasks", `${name}.ts`);
  const mod = await import(pathToFileURL(file).href).catch(() => ({}));
  const exp = (mod as { default?: unknown }).default;
  const list = typeof exp === "function" ? await exp(root, board) : exp;
  const found = [list].flat().find((s) => (s as Stage | undefined)?.name === name);
  if (!found) throw new Error(`sbom: no stage "${name}" in tasks/${name}.ts`);
  return found as Stage;
}

/** Where a recipe's package comes from: its pinned sources, or the stage it packages. */
async function recipeOrigin(root: string, board: Board, raw: Recipe): Promise<PackageOrigin> {
  const r = expandRecipeVars(raw, boardVars(board), raw.file);
  const base = { license: r.license, ...(r.url ? { homepage: r.url } : {}) };
  if (r.kind === "files") {
    return { ...base, sources: {}, note: `files of pkgs/${r.name}/ in the IceNet-OS tree` };
  }
  if (r.kind !== "stage") return { ...base, sources: r.sources };
  const stage = await findStage(root, board, r.stage);
  return {
    ...base,
    sources: stage.sources,
    note: `output of stage "${r.stage}" (tasks/${r.stage}.ts) in the IceNet-OS tree`,
  };
}

/** The packages installed in a root, from its package database. */
async function installedIn(ctx: StageContext, squashfs: string): Promise<BuiltPackage[]> {
  const tree = join(ctx.tmp, "root");
  await ctx.$`unsquashfs -no-xattrs -d ${tree} ${squashfs} var/lib/ice-pkg/db.sqlite`.quiet();
  const db = openDb(tree);
  try {
    return [...db.installed().values()].map((p) => ({
      name: p.name,
      version: p.version,
      arch: p.arch,
      sha256: p.sha256,
      description: p.description,
      depends: p.depends,
    }));
  } finally {
    db.close();
  }
}

/** Each installed package must be the repository's file of that name (same sha256). */
function checkInstalledFromRepo(installed: BuiltPackage[], repo: BuiltPackage[]): void {
  const byName = new Map(repo.map((p) => [p.name, p]));
  for (const p of installed) {
    const r = byName.get(p.name);
    if (!r || r.sha256 !== p.sha256) {
      throw new Error(
        `sbom: installed ${p.name} ${p.version} (${p.sha256.slice(0, 12)}) is not the ` +
          `repository's ${r ? `${r.version} (${r.sha256.slice(0, 12)})` : "(absent)"}`,
      );
    }
    p.file = r.file;
  }
}

async function write(ctx: StageContext, file: string, doc: SpdxDocument): Promise<void> {
  const problems = validateSpdx(doc);
  if (problems.length) {
    throw new Error(`sbom: ${file} is not valid SPDX 2.3:\n${problems.join("\n")}`);
  }
  await Deno.writeTextFile(join(ctx.out, file), spdxJson(doc));
  ctx.log(
    `${file}: ${doc.packages.length} SPDX packages, ${doc.relationships.length} relationships`,
  );
}

async function run(ctx: StageContext): Promise<void> {
  const { deps, board } = ctx;
  const epoch = Number(ctx.env.SOURCE_DATE_EPOCH);
  const origins = ctx.params.origins as unknown as Record<string, PackageOrigin>;
  const indexFile = join(deps.repo, "repo", "INDEX.json");
  const index = parseIndex(JSON.parse(await Deno.readTextFile(indexFile)), indexFile);
  const repo: BuiltPackage[] = index.packages.map((p) => ({ ...p }));
  const installed = await installedIn(ctx, join(deps.rootfs, "root.squashfs"));
  checkInstalledFromRepo(installed, repo);

  const k = JSON.parse(await Deno.readTextFile(join(deps.kernel, "kernel.json")));
  const img = [...Deno.readDirSync(deps.image)].find((e) => e.name.endsWith(".img"));
  if (!img) throw new Error(`sbom: no .img in the image stage's output ${deps.image}`);
  const kernelPin = ctx.params.kernel as unknown as { version: string; source: Source };

  await write(
    ctx,
    "image.spdx.json",
    imageDocument({
      board: board.name,
      epoch,
      image: { file: img.name, sha256: await sha256File(join(deps.image, img.name)) },
      installed,
      origins,
      kernel: {
        version: k.version ?? kernelPin.version,
        release: k.release,
        file: k.image,
        sha256: await sha256File(join(deps.kernel, k.image)),
        source: kernelPin.source,
      },
      boot: ctx.params.boot as unknown as Record<string, Source>,
    }),
  );
  await write(
    ctx,
    "repo.spdx.json",
    repoDocument({
      board: board.name,
      epoch,
      packages: repo,
      indexSha256: await sha256File(indexFile),
      origins,
    }),
  );
  ctx.record("image_packages", installed.length);
  ctx.record("repo_packages", repo.length);
}

/** The sbom stage of `board`; what the recipes and pins say enters its key as parameters. */
export async function sbomStage(root: string, board: Board): Promise<Stage> {
  const recipes = (await loadRecipes(root)).filter((r) => recipeForBoard(r, board));
  const origins: Record<string, PackageOrigin> = {};
  for (const r of recipes) origins[r.name] = await recipeOrigin(root, board, r);
  const pin = kernelSource(board);
  return defineStage({
    name: "sbom",
    description: "SPDX 2.3 documents of the image and the repository",
    needs: ["repo", "rootfs", "kernel", "image"],
    tools: ["unsquashfs"],
    params: {
      origins: param(origins),
      kernel: param({ version: pin.version, source: pin.source }),
      boot: param(bootKind(board).sources(board)),
    },
    boardFields: ["name"],
    run,
  });
}

/** One sbom stage per board: the registry calls this with the board being built. */
export default async function sbom(root: string, board: Board): Promise<Stage[]> {
  return [await sbomStage(root, board)];
}

if (import.meta.main) await runStandalone({ name: "sbom" } as Stage);
