/**
 * How Deno runs ice-pkg: the device launcher (tasks/ice-pkg.ts), the tests and the
 * benchmark all use these flags, so what is measured is what ships.
 *
 * `--no-config`: ice-pkg imports nothing through the project's import map, so no
 * deno.json or lock file is read (about 2 MB and some milliseconds per start).
 *
 * `--lite-mode` turns V8's optimizing compilers off. ice-pkg's heavy work is native
 * (xz in a child process, sha256 in node:crypto, SQLite, file I/O); the compilers
 * would only add ~8 MB of code and heap, which a 1 GB Pi running services needs more
 * than the few milliseconds they save here (`deno task bench ice-pkg` shows both).
 */
export const DENO_FLAGS = ["--no-config", "--v8-flags=--lite-mode"];

/**
 * How Node runs ice-pkg on armv7: no warnings on stderr (a few web-stream adapters are
 * still marked experimental in Node 20). Not --lite-mode: in Node 20's V8 it implies
 * --jitless, which turns WebAssembly off, and SQLite is WebAssembly there.
 */
export const NODE_FLAGS = ["--no-warnings"];
