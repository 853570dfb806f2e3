/**
 * `deno task pkg build <dir> --board B [--repo OUT]`: package your own software
 * without forking. Builds the recipe directory `<dir>` (`recipe.yaml`, the schema of
 * pkgs/README.md; the package is named after the directory) as the stage `pkg:<name>`
 * against the board's toolchain, through the store (cached by the directory's
 * content), then adds the package to the signed repository OUT (default
 * `./repo-<board>`), signed with the repository key (ICENET_REPO_KEY, else the
 * development key): lib/recipe/own_repo.ts.
 *
 *   deno task pkg build ~/src/hello --board zima
 *   deno task pkg build ~/src/hello --board rpi --repo /srv/www/icenet/rpi
 */
import { isAbsolute, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { boardNames, loadBoard } from "../lib/board.ts";
import { cacheFromConfig } from "../lib/cache/config.ts";
import { formatStats } from "../lib/cache/stats.ts";
import { EXIT } from "../lib/cli.ts";
import { makeProgress } from "../lib/progress.ts";
import { packageFile } from "../lib/recipe/stages.ts";
import { loadOutOfTree, outOfTreeStage } from "../lib/recipe/out_of_tree.ts";
import { publishPackage } from "../lib/recipe/own_repo.ts";
import { repoKey } from "../lib/recipe/repo_key.ts";
import { loadStages, ROOT } from "../lib/registry.ts";
import { build } from "../lib/runner.ts";
import { defaultStoreDir, Store } from "../lib/store.ts";

const USAGE = `usage: deno task pkg build <dir> --board B [--repo OUT] [--jobs N] [--force]
                      [--dry-run] [--quiet] [--valid-days N]
  <dir>           a recipe directory: recipe.yaml and its files (pkgs/README.md)
  --repo OUT      the repository to add the package to (default ./repo-<board>)
  --valid-days N  days the re-signed index stays valid (default 30)`;

/** `deno task` runs in the project root; paths on the command line are the caller's. */
function callerPath(p: string): string {
  return isAbsolute(p) ? p : resolve(Deno.env.get("INIT_CWD") ?? Deno.cwd(), p);
}

/** Run `pkg`; returns the exit code (0 ok, 1 build failed, 2 usage or recipe error). */
export async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        board: { type: "string", short: "b" },
        repo: { type: "string" },
        jobs: { type: "string", short: "j" },
        force: { type: "boolean", short: "f" },
        "dry-run": { type: "boolean", short: "n" },
        quiet: { type: "boolean", short: "q" },
        "valid-days": { type: "string" },
      },
    });
  } catch (e) {
    console.error(`pkg: ${(e as Error).message}\n${USAGE}`);
    return EXIT.usage;
  }
  const { values: v, positionals } = parsed;
  if (positionals[0] !== "build" || positionals.length !== 2 || !v.board) {
    console.error(USAGE);
    return EXIT.usage;
  }
  try {
    return await buildCmd(positionals[1], { ...v, board: v.board });
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return EXIT.usage;
  }
}

interface Flags {
  board: string;
  repo?: string;
  jobs?: string;
  force?: boolean;
  "dry-run"?: boolean;
  quiet?: boolean;
  "valid-days"?: string;
}

async function buildCmd(dirArg: string, v: Flags): Promise<number> {
  if (!boardNames(ROOT).includes(v.board)) {
    throw new Error(`--board ${v.board}: no such board (boards: ${boardNames(ROOT).join(", ")})`);
  }
  const validDays = Number(v["valid-days"] ?? 30);
  if (!(validDays > 0 && validDays <= 3650)) throw new Error("--valid-days: 1 to 3650");
  const board = await loadBoard(ROOT, v.board);
  const repoDir = callerPath(v.repo ?? `repo-${board.name}`);
  // Everything that can be wrong with the recipe is found before anything builds.
  const oot = await loadOutOfTree(callerPath(dirArg), { shown: dirArg, skip: repoDir });
  const stage = outOfTreeStage(oot, board);
  const stages = await loadStages(board, ROOT);
  const intree = stages.find((s) => s.name === stage.name);
  if (intree) {
    throw new Error(
      `${oot.recipe.file}: package name "${oot.recipe.name}" (the directory) is an in-tree ` +
        `package (pkgs/${oot.recipe.name}); rename the directory`,
    );
  }
  if (Deno.env.get("ICENET_SANDBOX") === "1" || Deno.env.get("ICENET_CONTAINER")) {
    console.error("pkg: out-of-tree recipes build on the host (no --sandbox or --container yet)");
  }
  const progress = makeProgress(Boolean(v.quiet));
  const cache = v["dry-run"] ? undefined : await cacheFromConfig({}, (m) => console.error(m));
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  let result;
  try {
    result = await build({
      root: ROOT,
      board,
      stages: [...stages, stage],
      targets: [stage.name],
      store: new Store(defaultStoreDir()),
      jobs: v.jobs ? Number(v.jobs) : undefined,
      force: v.force ? [stage.name] : undefined,
      dryRun: Boolean(v["dry-run"]),
      progress,
      signal: abort.signal,
      cache,
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  progress.summary(cache && formatStats(cache.stats));
  if (abort.signal.aborted) return EXIT.interrupted;
  const r = result.results.get(stage.name)!;
  const id = `${stage.name}@${board.name}`;
  if (!result.ok) return EXIT.failed;
  if (v["dry-run"]) {
    console.log(`${id}: ${r.outcome}`);
    return EXIT.ok;
  }
  const pkg = join(r.out!, packageFile(oot.recipe, board));
  console.log(`${id}: ${r.outcome}: ${pkg}`);
  const p = await publishPackage({
    repoDir,
    pkg,
    arch: board.arch,
    key: await repoKey(),
    validDays,
  });
  const rest = p.replaced.length ? ` (replacing ${p.replaced.join(", ")})` : "";
  console.log(
    `${repoDir}: ${p.added}${rest}; serial ${p.index.serial}, ${p.index.packages.length} ` +
      `package(s), expires ${p.index.expires}`,
  );
  console.log(
    `on the device: ice-pkg --repo <URL of ${repoDir}> install ${oot.recipe.name}` +
      ` (or add the URL to /etc/icenet/repositories)`,
  );
  return EXIT.ok;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
