/**
 * The stage API: a stage is a declaration (name, inputs, dependencies, host tools,
 * sources) plus a run function that fills a fresh output directory.
 *
 * ```ts
 * // tasks/busybox.ts
 * export default defineStage({
 *   name: "busybox",
 *   needs: ["musl"],
 *   inputs: ["pkgs/busybox/busybox.config"],
 *   tools: ["make"],
 *   async run({ board, deps, sources, out, $ }) {},
 * });
 * ```
 */
import type { Arch } from "./arch.ts";
import type { Board } from "./board.ts";
import type { Source } from "./fetch/source.ts";
import type { Shell } from "./shell.ts";

// What every run() executes besides its own module: the environment and the shell a
// stage gets. Re-exported so that they are part of every stage's code, hence key
// (lib/code_graph.ts follows this module's imports).
export { SOURCE_DATE_EPOCH, stageEnv } from "./stage_env.ts";
export { stageShell } from "./shell.ts";

/** JSON-like values allowed as stage parameters (they enter the cache key). */
export type Param = string | number | boolean | null | Param[] | { [k: string]: Param };

/** What run() receives: only what the stage declared. */
export interface StageContext {
  /** The board being built (only the fields named in `boardFields` enter the key). */
  board: Board;
  /** Output directory of each dependency, by stage name (read-only). */
  deps: Record<string, string>;
  /** Local path of each declared source, by source name (verified by sha256). */
  sources: Record<string, string>;
  /** Absolute path of each declared input, by the path as declared (globs expanded). */
  inputs: Record<string, string>;
  /** The stage parameters as declared. */
  params: Record<string, Param>;
  /** Fresh, empty output directory; its content becomes the stage output. */
  out: string;
  /** Fresh scratch directory, removed after the stage. */
  tmp: string;
  /** Project root (where `inputs` are resolved). */
  root: string;
  /** Shell bound to the stage: cwd = tmp, output goes to the stage log, killed on abort. */
  $: Shell;
  /** Append a line to the stage log (and the progress display). */
  log(line: string): void;
  /** Record a fact (a size, a version) in the output's manifest under `info`. */
  record(name: string, value: unknown): void;
  /** Aborted on Ctrl-C / SIGTERM / a failing sibling without --keep-going. */
  signal: AbortSignal;
  /** Number of parallel jobs the stage may use (make -j). */
  jobs: number;
  /** Environment that makes builds reproducible (SOURCE_DATE_EPOCH, TZ, LC_ALL, ...). */
  env: Record<string, string>;
}

/** A stage declaration. */
export interface StageDef {
  /** Unique name; `pkg:<name>` for recipe stages. */
  name: string;
  /** One line saying what the stage makes. */
  description?: string;
  /** Names of stages whose outputs this one needs (same board). */
  needs?: string[];
  /** Files or globs relative to the project root; their content enters the key. */
  inputs?: string[];
  /** Host programs the stage runs; their path and `--version` enter the key. */
  tools?: string[];
  /** Sources fetched (and verified) before run(); only their sha256 enters the key. */
  sources?: Record<string, Source>;
  /** Parameters; their canonical JSON enters the key. */
  params?: Record<string, Param>;
  /**
   * Board fields that enter the key. Default: the whole board. A stage that only
   * depends on the architecture (musl) lists `["arch", "triple"]`, so boards that
   * share an architecture share its output.
   */
  boardFields?: (keyof Board)[];
  /** Architectures this stage builds for (default: all); boards of others lack it. */
  arches?: Arch[];
  /**
   * The module that exports the stage (a sandbox imports it to find the stage) and whose
   * import graph is the stage's code, hence its key. Default: the caller of defineStage.
   */
  module?: string;
  /** Fill `ctx.out`. Throw to fail; the output is then discarded. */
  run(ctx: StageContext): Promise<void>;
}

/** A declared stage, with the module that defined it (its code enters the key). */
export interface Stage extends StageDef {
  needs: string[];
  inputs: string[];
  tools: string[];
  sources: Record<string, Source>;
  params: Record<string, Param>;
  /** The run function's text, used for the key when no module file is known. */
  codeText: string;
}

/** Declare a stage. The calling module and all it imports become part of the stage's key. */
export function defineStage(def: StageDef): Stage {
  if (!/^[a-z0-9][a-z0-9:._-]*$/.test(def.name)) {
    throw new Error(
      `stage name ${JSON.stringify(def.name)}: use lowercase letters, digits, ":._-"`,
    );
  }
  return {
    ...def,
    module: def.module ?? callerModule(),
    needs: def.needs ?? [],
    inputs: def.inputs ?? [],
    tools: def.tools ?? [],
    sources: def.sources ?? {},
    params: def.params ?? {},
    codeText: def.run.toString(),
  };
}

/** The file path of the module that called defineStage (from the stack trace). */
function callerModule(): string | undefined {
  const lines = (new Error().stack ?? "").split("\n").slice(1);
  const self = new URL(import.meta.url).pathname;
  for (const line of lines) {
    const m = line.match(/(file:\/\/[^\s)]+?):\d+:\d+\)?$/);
    if (!m) continue;
    const path = decodeURIComponent(new URL(m[1]).pathname);
    if (path !== self) return path;
  }
  return undefined;
}
