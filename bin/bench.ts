/**
 * `deno task bench [group...]`: runs tests/bench/<group>.ts (all groups when none is
 * given). Each group prints `bench: <name> <value> <unit>` lines.
 */
import { join } from "node:path";
import { pathToFileURL } from "node:url";
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
  try {
    await mod.default();
  } catch (e) {
    console.error(`bench ${g}: ${(e as Error).stack}`);
    failed = true;
  }
}
Deno.exit(failed ? 1 : 0);
