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

if (import.meta.main) {
  const args = Deno.args;
  if (args.length === 1 && args[0] === "--version") {
    console.log(`ice-pkg ${ICE_PKG_VERSION}`);
    Deno.exit(0);
  }
  const enc = new TextEncoder();
  const owner = fastOwnerRequest(args);
  if (owner) {
    const code = await fastOwner(owner, (l) => Deno.stdout.writeSync(enc.encode(l + "\n")));
    if (code !== undefined) Deno.exit(code);
  }
  const { runCli } = await import("./cli.ts");
  const code = await runCli(args, {
    out: (l) => Deno.stdout.writeSync(enc.encode(l + "\n")),
    err: (l) => Deno.stderr.writeSync(enc.encode(l + "\n")),
  });
  Deno.exit(code);
}
