/**
 * The stage registry: every `tasks/<name>.ts` (tasks/ holds stages only) whose default
 * export is a stage, a list of stages, or a function returning stages (recipes make one
 * stage per package). Loaded lazily so a stage file can be added without touching a list.
 */
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Board } from "./board.ts";
import type { Stage } from "./stage.ts";

/** The project root (the directory above lib/). */
export const ROOT = dirname(dirname(fileURLToPath(import.meta.url)));

type StageExport = Stage | Stage[] | ((root: string, board: Board) => Promise<Stage[]> | Stage[]);

/** All stages that apply to `board`. */
export async function loadStages(board: Board, root = ROOT): Promise<Stage[]> {
  const names = [...Deno.readDirSync(join(root, "tasks"))]
    .filter((e) => e.isFile && e.name.endsWith(".ts") && !e.name.endsWith("_test.ts"))
    .map((e) => e.name.slice(0, -3))
    .sort();
  const stages: Stage[] = [];
  for (const n of names) {
    const mod = await import(pathToFileURL(join(root, "tasks", `${n}.ts`)).href);
    const exp = mod.default as StageExport | undefined;
    if (!exp) continue;
    const list = typeof exp === "function"
      ? await exp(root, board)
      : Array.isArray(exp)
      ? exp
      : [exp];
    stages.push(...list);
  }
  const seen = new Set<string>();
  for (const s of stages) {
    if (seen.has(s.name)) throw new Error(`stage "${s.name}" is defined twice under tasks/`);
    seen.add(s.name);
  }
  return stages.filter((s) => !s.arches || s.arches.includes(board.arch));
}
