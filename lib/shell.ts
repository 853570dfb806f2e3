/**
 * Shell-outs for stages, through dax: each stage gets a `$` whose commands run in
 * the stage's scratch directory, log to the stage log and die with the stage.
 */
import $, { KillController } from "dax";

/** The dax shell type handed to stages. */
export type Shell = typeof $;

/** Options for a stage-bound shell. */
export interface ShellOptions {
  cwd: string;
  env: Record<string, string>;
  /** Writer that receives both stdout and stderr of every command. */
  log: WritableStream<Uint8Array>;
  signal: AbortSignal;
}

/** A dax shell bound to a stage: cwd, env, logging and cancellation. */
export function stageShell(opts: ShellOptions): Shell {
  const kill = new KillController();
  opts.signal.addEventListener("abort", () => kill.kill("SIGTERM"), { once: true });
  return $.build$({
    commandBuilder: (b) =>
      b.cwd(opts.cwd)
        .env(opts.env)
        .stdout(opts.log)
        .stderr(opts.log)
        .signal(kill.signal)
        .printCommand(true),
  });
}

export { $ };
