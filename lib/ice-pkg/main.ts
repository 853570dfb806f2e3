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
import { writeSync } from "node:fs";
import process from "node:process";
import { fastOwner, fastOwnerRequest } from "./owner.ts";

/** A line to a file descriptor, synchronously (nothing is lost on exit). */
function writeLine(fd: number, line: string): void {
  const b = new TextEncoder().encode(line + "\n");
  for (let off = 0; off < b.length;) off += writeSync(fd, b, off);
}

// Node 20 (the runtime of 32-bit ARM boards) has no import.meta.main: undefined there
// means the bundle is being run; Deno sets false when a test imports this module.
if (import.meta.main !== false) {
  const args = process.argv.slice(2);
  if (args.length === 1 && args[0] === "--version") {
    writeLine(1, `ice-pkg ${ICE_PKG_VERSION}`);
    process.exit(0);
  }
  const owner = fastOwnerRequest(args);
  if (owner) {
    const code = fastOwner(owner, (l) => writeLine(1, l));
    if (code !== undefined) process.exit(code);
  }
  const { runCli } = await import("./cli.ts");
  const code = await runCli(args, {
    out: (l) => writeLine(1, l),
    err: (l) => writeLine(2, l),
  });
  process.exit(code);
}
