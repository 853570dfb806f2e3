/**
 * The ice-pkg stage (on armv7 the bundle on Node.js 20, see tasks/ice-pkg.ts), built
 * through the runner or taken from the store, for the tests and the benchmark that run
 * the shipped program.
 */
import { join } from "node:path";
import { stageOut } from "../userland/_build.ts";

/** A board's ice-pkg stage output directory (built, or taken from the store). */
export function icePkgStage(board: string): Promise<string> {
  return stageOut(board, "ice-pkg");
}

/** The bundle inside the armv7 stage's output. */
export function nodeBundle(out: string): string {
  return join(out, "usr/lib/ice-pkg/ice-pkg.mjs");
}
