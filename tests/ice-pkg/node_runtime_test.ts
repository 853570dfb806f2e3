/**
 * ice-pkg on 32-bit ARM: the armv7 ice-pkg stage ships the same bundle on Node.js 20
 * with SQLite as WebAssembly (tasks/ice-pkg.ts). Two checks on what the stage built:
 *
 * - The CLI test suites (install, remove, rollback, hostile packages, freshness,
 *   repositories) run again with every `cli()` call going to the shipped bundle under
 *   the host's Node.js (the machine's v20, as on the device) instead of in-process
 *   Deno: same assertions, other runtime.
 * - The shipped armv7 node itself, under qemu-arm with the package's own glibc, installs
 *   a package from a signed repository, answers `owner` and `verify`, and removes it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fixture, withTempDir } from "./_helpers.ts";
import { INDEX_FILE } from "../../lib/ice-pkg/repo.ts";
import { icePkgStage, nodeBundle } from "./_node.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const o = await new Deno.Command(cmd, {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: o.code, out: dec(o.stdout), err: dec(o.stderr) };
}

Deno.test("ice-pkg on Node (armv7 bundle): the CLI suites pass with the shipped bundle", async () => {
  const out = await icePkgStage("rpi32");
  const suites = ["cli_test.ts", "hostile_test.ts", "freshness_test.ts", "repo_test.ts"];
  const r = await run(
    Deno.execPath(),
    ["test", "-A", ...suites.map((s) => `tests/ice-pkg/${s}`)],
    { ICE_PKG_NODE_BUNDLE: nodeBundle(out) },
  );
  const summary = (r.out + r.err).match(/(\d+) passed.*\| (\d+) failed/);
  assert.equal(r.code, 0, r.out + r.err);
  assert.ok(summary && Number(summary[1]) >= 30 && summary[2] === "0", r.out);
});

Deno.test("ice-pkg on Node (armv7): the shipped node installs and removes a signed package", async () => {
  const out = await icePkgStage("rpi32");
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [
      {
        meta: { name: "hello", version: "2.1" },
        files: { "usr/bin/hello": "#!/bin/sh\necho hi\n" },
      },
    ]);
    // qemu-arm with `-L out`: the ELF interpreter /usr/lib/ice-pkg/lib/ld-linux-armhf.so.3
    // and its libraries resolve inside the package, as on the device.
    const icePkg = (...args: string[]) =>
      run("qemu-arm-static", [
        "-L",
        out,
        join(out, "usr/lib/ice-pkg/node"),
        "--no-warnings",
        nodeBundle(out),
        "--root",
        f.root,
        ...args,
      ]);
    const version = await icePkg("--version");
    assert.match(version.out, /^ice-pkg \d/, version.err);
    for (const args of [["update"], ["install", "hello"]]) {
      const r = await icePkg(...args);
      assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
    }
    assert.equal(Deno.readTextFileSync(join(f.root, "usr/bin/hello")), "#!/bin/sh\necho hi\n");
    const owner = await icePkg("owner", "/usr/bin/hello");
    assert.match(owner.out, /hello-2\.1-r0/, owner.err);
    assert.equal((await icePkg("verify")).code, 0);
    const list = await icePkg("list");
    assert.match(list.out, /^hello-2\.1-r0$/m, list.err);
    const rm = await icePkg("remove", "hello");
    assert.equal(rm.code, 0, rm.err);
    assert.throws(() => Deno.statSync(join(f.root, "usr/bin/hello")));
    // A tampered index is refused by the armv7 build too (Ed25519 through WebCrypto).
    const index = join(f.repo, INDEX_FILE);
    Deno.writeTextFileSync(
      index,
      Deno.readTextFileSync(index).replace('"serial": 1', '"serial": 9'),
    );
    const bad = await icePkg("update");
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /signature/i);
  });
});
