/**
 * A child process with piped stdin/stdout/stderr as web streams, on either runtime:
 * Deno.Command under Deno (byte streams, read through one reused buffer), node's
 * child_process under Node (32-bit ARM boards), whose streams are converted.
 *
 * ```ts
 * const xz = spawnPiped("xz", ["-d", "-c"]);
 * await input.pipeTo(xz.stdin);
 * ```
 */
import { spawn } from "node:child_process";
import { Readable, Writable } from "node:stream";

export interface PipedChild {
  stdin: WritableStream<Uint8Array>;
  stdout: ReadableStream<Uint8Array>;
  stderr: ReadableStream<Uint8Array>;
  /** Resolves when the child exits. */
  status: Promise<{ success: boolean; code: number | null }>;
  kill(signal: "SIGKILL" | "SIGTERM"): void;
}

const deno = (globalThis as { Deno?: typeof Deno }).Deno;

/** Start `cmd` with `args`; throws at once if it cannot be started. */
export function spawnPiped(cmd: string, args: string[]): PipedChild {
  if (deno) {
    const c = new deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "piped" })
      .spawn();
    return {
      stdin: c.stdin,
      stdout: c.stdout,
      stderr: c.stderr,
      status: c.status.then((s) => ({ success: s.success, code: s.code })),
      kill: (sig) => c.kill(sig),
    };
  }
  const c = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"] });
  const status = new Promise<{ success: boolean; code: number | null }>((resolve, reject) => {
    c.once("error", reject);
    c.once("close", (code) => resolve({ success: code === 0, code }));
  });
  // A missing program is reported by an "error" event: wait for the spawn (or that).
  return {
    stdin: Writable.toWeb(c.stdin) as WritableStream<Uint8Array>,
    stdout: Readable.toWeb(c.stdout) as ReadableStream<Uint8Array>,
    stderr: Readable.toWeb(c.stderr) as ReadableStream<Uint8Array>,
    status,
    kill: (sig) => c.kill(sig),
  };
}
