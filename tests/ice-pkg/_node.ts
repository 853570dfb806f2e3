/**
 * The armv7 ice-pkg stage (the bundle on Node.js 20, see tasks/ice-pkg.ts), built
 * through the runner or taken from the store, for the tests and the benchmark that
 * run the shipped bundle under Node.
 */
import { join } from "node:path";

const PROJECT = new URL("../..", import.meta.url).pathname;

/** The armv7 ice-pkg stage's output directory. */
export function armv7IcePkgStage(): Promise<string> {
  return icePkgStage("rpi32");
}

/** A board's ice-pkg stage output directory (built, or taken from the store). */
export async function icePkgStage(board: string): Promise<string> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "bin/cli.ts", "stage", "ice-pkg", "--board", board],
    cwd: PROJECT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  const out = text.match(new RegExp(`ice-pkg@${board}: (/\\S+/objects/[0-9a-f]{64}/out)`))?.[1];
  if (!o.success || !out) throw new Error(`stage ice-pkg --board ${board} failed:\n${text}`);
  return out;
}

/** The bundle inside that output. */
export function nodeBundle(stageOut: string): string {
  return join(stageOut, "usr/lib/ice-pkg/ice-pkg.mjs");
}
