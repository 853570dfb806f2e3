/**
 * Shell-outs for stages, through dax: each stage gets a `$` whose commands run in
 * the stage's scratch directory, log to the stage log and die with the stage. The
 * environment is cleared to the stage's own (PATH, HOME, the reproducibility
 * variables), so nothing undeclared from the caller's shell leaks into a build.
 */
import $, { KillController } from "dax";

/** The dax shell type handed to stages. */
export type Shell = typeof $;

/** Options for a stage-bound shell. */
export interface ShellOptions {
  cwd: string;
  env: Record<string, string>;
  /** Receives both stdout and stderr of every command. */
  log: { writeSync(p: Uint8Array): number };
  signal: AbortSignal;
}

/** A dax shell bound to a stage: cwd, env, logging and cancellation. */
export function stageShell(opts: ShellOptions): Shell {
  const kill = new KillController();
  opts.signal.addEventListener("abort", () => kill.kill("SIGTERM"), { once: true });
  return $.build$({
    commandBuilder: (b) =>
      b.cwd(opts.cwd)
        .clearEnv()
        .env(opts.env)
        .stdout(opts.log)
        .stderr(opts.log)
        .signal(kill.signal),
  });
}

export { $ };
