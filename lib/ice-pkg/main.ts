/**
 * `ice-pkg` entry point (device program and `deno task ice-pkg`). Kept tiny:
 * `--version` answers without loading anything else, `owner PATH` with the database
 * alone (owner.ts); the rest is imported lazily.
 *
 * ```sh
 * deno task ice-pkg -- --root /tmp/root install busybox
 * ```
 */
import { ICE_PKG_VERSION } from "./version_info.ts";
import { fastOwner, fastOwnerRequest } from "./owner.ts";

/** What the entry point needs from the runtime. */
interface Sys {
  args: string[];
  write(fd: 1 | 2, bytes: Uint8Array, offset: number): number;
  exists(path: string): boolean;
  exit(code: number): never;
}

/**
 * Deno's own calls under Deno: node:fs and node:process cost Deno 35 ms to load, which
 * `--version` and `owner` should not pay (the CLI proper loads them anyway). Node (32-bit
 * ARM boards) has them built in.
 */
async function runtime(): Promise<Sys> {
  const deno = (globalThis as { Deno?: typeof Deno }).Deno;
  if (deno) {
    return {
      args: deno.args,
      write: (fd, b, off) => (fd === 1 ? deno.stdout : deno.stderr).writeSync(b.subarray(off)),
      exists: (p) => {
        try {
          deno.statSync(p);
          return true;
        } catch {
          return false;
        }
      },
      exit: deno.exit,
    };
  }
  const fs = await import("node:fs");
  const { default: process } = await import("node:process");
  return {
    args: process.argv.slice(2),
    write: (fd, b, off) => fs.writeSync(fd, b, off),
    exists: (p) => fs.existsSync(p),
    exit: (code) => process.exit(code),
  };
}

// Node 20 (the runtime of 32-bit ARM boards) has no import.meta.main: undefined there
// means the bundle is being run; Deno sets false when a test imports this module.
if (import.meta.main !== false) {
  const sys = await runtime();
  /** A line to stdout or stderr, synchronously (nothing is lost on exit). */
  const writeLine = (fd: 1 | 2, line: string) => {
    const b = new TextEncoder().encode(line + "\n");
    for (let off = 0; off < b.length;) off += sys.write(fd, b, off);
  };
  const args = sys.args;
  if (args.length === 1 && args[0] === "--version") {
    writeLine(1, `ice-pkg ${ICE_PKG_VERSION}`);
    sys.exit(0);
  }
  const owner = fastOwnerRequest(args);
  if (owner) {
    const code = fastOwner(owner, (l) => writeLine(1, l), sys.exists);
    if (code !== undefined) sys.exit(code);
  }
  const { runCli } = await import("./cli.ts");
  const code = await runCli(args, {
    out: (l) => writeLine(1, l),
    err: (l) => writeLine(2, l),
  });
  sys.exit(code);
}
