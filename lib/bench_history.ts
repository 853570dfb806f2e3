/**
 * The figures of the last `deno task bench` run of each group, kept in the store, so a
 * run prints the previous figure beside each new one:
 *
 *     bench: boot_to_login_zima 2.186 s (before: 2.236 s, 2026-12-04)
 */
import { join } from "node:path";
import { defaultStoreDir } from "./store.ts";

/** One figure of a `bench: <name> <value> <unit>` line. */
export interface Figure {
  value: number;
  unit: string;
  date: string;
}

const LINE = /^bench: (\S+) (-?[\d.]+) (\S+)/;

function historyFile(group: string, dir = defaultStoreDir()): string {
  return join(dir, "bench", `${group}.json`);
}

/** The figures the last run of `group` printed (empty when it never ran). */
export async function loadFigures(group: string, dir?: string): Promise<Record<string, Figure>> {
  try {
    return JSON.parse(await Deno.readTextFile(historyFile(group, dir)));
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return {};
    throw e;
  }
}

/** Keep `figures` as the last run of `group` (merged: a partial run keeps the others). */
export async function saveFigures(
  group: string,
  figures: Record<string, Figure>,
  dir?: string,
): Promise<void> {
  const file = historyFile(group, dir);
  await Deno.mkdir(join(file, ".."), { recursive: true });
  const all = { ...await loadFigures(group, dir), ...figures };
  await Deno.writeTextFile(`${file}.tmp`, JSON.stringify(all, null, 1) + "\n");
  await Deno.rename(`${file}.tmp`, file);
}

/**
 * `line` with the previous figure of the same name appended, and the new figure noted
 * in `seen`; other lines are returned as they are.
 */
export function withPrevious(
  line: string,
  previous: Record<string, Figure>,
  seen: Record<string, Figure>,
  date: string,
): string {
  const m = LINE.exec(line);
  if (!m) return line;
  seen[m[1]] = { value: Number(m[2]), unit: m[3], date };
  const p = previous[m[1]];
  return p ? `${line} (before: ${p.value} ${p.unit}, ${p.date})` : line;
}
