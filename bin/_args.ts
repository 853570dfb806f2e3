/**
 * Argument parsing shared by the entry points that take one board (bundle, release).
 * Kept out of lib/cli.ts, which stages import: a change here rebuilds nothing.
 */
import { parseArgs } from "node:util";

/** String options of an entry point that takes one board: `<task> <board> [--name value]`. */
export interface BoardArgs {
  board: string;
  values: Record<string, string | undefined>;
}

/**
 * Parse `args` as one board and string `options` (names); on a usage error print it
 * with `usage` (prefixed by `task`) and return undefined (exit code EXIT.usage).
 */
export function parseBoardArgs(
  task: string,
  usage: string,
  args: string[],
  options: string[],
): BoardArgs | undefined {
  try {
    const { values, positionals } = parseArgs({
      args,
      allowPositionals: true,
      options: Object.fromEntries(options.map((o) => [o, { type: "string" as const }])),
    });
    if (positionals.length === 1) {
      return { board: positionals[0], values: values as Record<string, string | undefined> };
    }
    console.error(usage);
  } catch (e) {
    console.error(`${task}: ${(e as Error).message}\n${usage}`);
  }
  return undefined;
}
