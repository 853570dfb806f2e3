/**
 * `deno task bench [group...]`: runs tests/bench/<group>.ts (all groups when none is
 * given). Each group prints `bench: <name> <value> <unit>` lines; each line gets the
 * figure of the group's previous run beside it (lib/bench_history.ts).
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadFigures, saveFigures, withPrevious } from "../lib/bench_history.ts";
import { ROOT } from "../lib/registry.ts";

const dir = join(ROOT, "tests", "bench");
const all = [...Deno.readDirSync(dir)].filter((e) =>
  e.name.endsWith(".ts") && !e.name.startsWith("_")
)
  .map((e) => e.name.slice(0, -3)).sort();
const groups = Deno.args.length ? Deno.args : all;
let failed = false;
for (const g of groups) {
  if (!all.includes(g)) {
    console.error(`bench: unknown group ${g} (have: ${all.join(", ")})`);
    Deno.exit(2);
  }
  const mod = await import(pathToFileURL(join(dir, `${g}.ts`)).href);
  const previous = await loadFigures(g);
  const seen = {};
  const date = new Date().toISOString().slice(0, 10);
  const log = console.log;
  console.log = (...args: unknown[]) =>
    args.length === 1 && typeof args[0] === "string"
      ? log(withPrevious(args[0], previous, seen, date))
      : log(...args);
  try {
    await mod.default();
  } catch (e) {
    console.error(`bench ${g}: ${(e as Error).stack}`);
    failed = true;
  } finally {
    console.log = log;
    await saveFigures(g, seen);
  }
}
Deno.exit(failed ? 1 : 0);
