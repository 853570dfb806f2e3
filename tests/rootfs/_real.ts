/**
 * Build stages of the real project (tasks/ through the registry) into the user's
 * store, as `deno task build` does: warm runs reuse it, a cold store builds musl,
 * busybox and the packages first (minutes).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBoard } from "../../lib/board.ts";
import { makeProgress } from "../../lib/progress.ts";
import { build, type StageResult } from "../../lib/runner.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { loadStages, ROOT } from "../../lib/registry.ts";

/** Build `targets` for `board`; returns each stage's result (the build must succeed). */
export async function buildReal(
  targets: string[],
  board = "zima",
  force: string[] = [],
): Promise<Map<string, StageResult>> {
  const b = await loadBoard(ROOT, board);
  const r = await build({
    root: ROOT,
    board: b,
    stages: await loadStages(b, ROOT),
    targets,
    store: new Store(defaultStoreDir()),
    jobs: 2,
    force,
    progress: makeProgress(true),
  });
  const failed = [...r.results.values()].find((x) => x.outcome === "failed");
  assert.ok(r.ok, `build failed: ${failed?.name}: ${failed?.error} (log: ${failed?.log})`);
  return r.results;
}

/** Unpack the payload of `.ice` files into `dir` (tar + xz, metadata member skipped). */
export async function unpackPackages(files: string[], dir: string): Promise<void> {
  for (const f of files) {
    const r = await new Deno.Command("sh", {
      args: ["-c", 'xz -dc "$1" | tar -xf - -C "$2" --exclude=.ice-meta.json', "sh", f, dir],
    }).output();
    assert.ok(r.success, `${f}: ${new TextDecoder().decode(r.stderr)}`);
  }
}

/** The single `.ice` file in a package stage's output. */
export function packageIn(out: string): string {
  const ice = [...Deno.readDirSync(out)].filter((e) => e.name.endsWith(".ice"));
  assert.equal(ice.length, 1, `${out}: expected one .ice`);
  return join(out, ice[0].name);
}

export { ROOT };

/** bubblewrap "chroot" into `tree` with /dev, /proc and tmpfs /run, /tmp. */
export function inRoot(tree: string, argv: string[]): string[] {
  return [
    "--bind",
    tree,
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--tmpfs",
    "/run",
    "--tmpfs",
    "/tmp",
    "--unshare-pid",
    "--die-with-parent",
    ...argv,
  ];
}
