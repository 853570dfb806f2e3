/**
 * A throw-away project for runner tests: a temp dir with one board and a few input
 * files, and a store beside it.
 */
import { join } from "node:path";
import { type Board, loadBoard } from "../../lib/board.ts";
import { Store } from "../../lib/store.ts";

export interface TestProject {
  root: string;
  store: Store;
  board: Board;
  write(rel: string, text: string): void;
  cleanup(): Promise<void>;
}

const BOARD = new URL("../../boards/zima.yaml", import.meta.url);

/** Make a project with boards/test.yaml and the given input files. */
export async function testProject(files: Record<string, string> = {}): Promise<TestProject> {
  const root = await Deno.makeTempDir({ prefix: "icenet-proj-" });
  await Deno.mkdir(join(root, "boards"));
  const yaml = (await Deno.readTextFile(BOARD)).replace(/^name: zima$/m, "name: test");
  await Deno.writeTextFile(join(root, "boards", "test.yaml"), yaml);
  const write = (rel: string, text: string) => {
    Deno.mkdirSync(join(root, rel, ".."), { recursive: true });
    Deno.writeTextFileSync(join(root, rel), text);
    // Age the file so the stat cache can trust it (see lib/hash_cache.ts).
    const old = new Date(Date.now() - 10_000);
    Deno.utimeSync(join(root, rel), old, old);
  };
  for (const [rel, text] of Object.entries(files)) write(rel, text);
  const store = new Store(join(root, ".store"));
  return {
    root,
    store,
    board: await loadBoard(root, "test"),
    write,
    cleanup: () => Deno.remove(root, { recursive: true }),
  };
}

/** Names of stages with a given outcome in a build result. */
export function outcomes(results: Map<string, { outcome: string }>): Record<string, string> {
  return Object.fromEntries([...results].map(([n, r]) => [n, r.outcome]));
}
