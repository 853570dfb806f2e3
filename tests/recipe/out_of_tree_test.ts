/**
 * `deno task pkg build <dir>`: recipes outside the repository, built with the real
 * toolchain through the user's store (the musl stage is reused), signed into a
 * repository of their own and installed from it by ice-pkg over HTTP.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBoard } from "../../lib/board.ts";
import { explain } from "../../lib/explain.ts";
import { fetchIndex } from "../../lib/ice-pkg/repo.ts";
import { loadTrustedKeys } from "../../lib/ice-pkg/keys.ts";
import { DENO_FLAGS } from "../../lib/ice-pkg/runtime.ts";
import { publishPackage } from "../../lib/recipe/own_repo.ts";
import { repoKey } from "../../lib/recipe/repo_key.ts";
import { loadStages } from "../../lib/registry.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { buildFor, elfInfo, ROOT, run } from "../userland/_build.ts";
import { reproducibleTarball } from "./_tarball.ts";

const PKG = join(ROOT, "bin", "pkg.ts");
const ICE_PKG = join(ROOT, "lib", "ice-pkg", "main.ts");

const MAKEFILE = `hello: hello.c greeting.h
\t$(CC) $(CFLAGS) $(LDFLAGS) -o hello hello.c
install: hello
\tinstall -D -m 0755 hello $(DESTDIR)/usr/bin/hello
`;
const HELLO_C = `#include <stdio.h>
#include "greeting.h"
int main(void) { puts(GREETING); return 0; }
`;

/**
 * Write the recipe directories under `dir`: `hello` (kind make: a C program whose
 * source tarball sits beside the recipe, its greeting a source file carrying `nonce`
 * so that each run builds it anew) and `hello-conf` (kind files).
 */
async function writeRecipes(dir: string, nonce: string): Promise<void> {
  const src = join(dir, "src", "hello-1.0");
  await Deno.mkdir(src, { recursive: true });
  await Deno.writeTextFile(join(src, "Makefile"), MAKEFILE);
  await Deno.writeTextFile(join(src, "hello.c"), HELLO_C);
  const hello = join(dir, "hello");
  await Deno.mkdir(hello);
  const sha = await reproducibleTarball(
    join(dir, "src"),
    "hello-1.0",
    join(hello, "oot-test-hello-1.0.tar.gz"),
  );
  await Deno.writeTextFile(join(hello, "greeting.h"), `#define GREETING "hello ${nonce}"\n`);
  await Deno.writeTextFile(
    join(hello, "recipe.yaml"),
    `version: "1.0"
release: 0
description: Says hello
license: MIT
kind: make
depends: [busybox]
link: static
sources:
  main:
    url: https://example.invalid/oot-test-hello-1.0.tar.gz
    sha256: "${sha}"
    mirrors: ["."]
sourceFiles:
  greeting.h: greeting.h
`,
  );
  await Deno.mkdir(join(dir, "hello-conf", "files", "etc"), { recursive: true });
  await Deno.writeTextFile(join(dir, "hello-conf", "files", "etc", "hello.conf"), "loud = 1\n");
  await Deno.writeTextFile(
    join(dir, "hello-conf", "recipe.yaml"),
    `version: "1"\nrelease: 0\ndescription: Hello's settings\nlicense: MIT\nkind: files\n` +
      // etc/hello.conf was once in a package of another name.
      `provides: [hello-settings]\nreplaces: [hello-legacy]\n`,
  );
}

/** `deno run bin/pkg.ts build ...` in `cwd`, as a user would; with its wall time. */
async function pkgBuild(cwd: string, ...args: string[]) {
  const t0 = performance.now();
  // INIT_CWD is where `deno task pkg` was typed; under `deno task test` it would name the
  // test runner's directory, so it says `cwd` here.
  const r = await run([Deno.execPath(), "run", "-A", PKG, "build", ...args], {
    cwd,
    env: { INIT_CWD: cwd },
  });
  return { ...r, seconds: (performance.now() - t0) / 1000 };
}

/** The repository's index, verified as ice-pkg verifies it, against the repository key. */
async function verifiedIndex(repo: string) {
  const keys = await loadTrustedKeys(join(repo, "keys"));
  assert.deepEqual([...keys.keys()], [(await repoKey()).keyId], "signed with the repo key");
  return (await fetchIndex(repo, { keys })).index;
}

/** Serve `dir` on 127.0.0.1 (a random port) for the duration of `fn`. */
async function serve<T>(dir: string, fn: (url: string) => Promise<T>): Promise<T> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    try {
      return new Response(
        await Deno.readFile(join(dir, decodeURIComponent(new URL(req.url).pathname))),
      );
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  try {
    return await fn(`http://127.0.0.1:${server.addr.port}`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("pkg build: recipes outside the tree are built, signed, cached and installed over HTTP", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "icenet-oot-" });
  const nonce = crypto.randomUUID().slice(0, 8);
  const repo = join(dir, "repo-zima");
  try {
    await writeRecipes(dir, nonce);

    await t.step("a make recipe builds for zima and lands in ./repo-zima, signed", async () => {
      const r = await pkgBuild(dir, "hello", "--board", "zima", "--quiet");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /pkg:hello@zima: built: /);
      console.log(`cold build of hello: ${r.seconds.toFixed(1)} s`);
      const index = await verifiedIndex(repo);
      assert.deepEqual(index.packages.map((p) => [p.name, p.version, p.arch, p.depends]), [
        ["hello", "1.0-r0", "x86_64", ["busybox"]],
      ]);
    });

    await t.step("the second build is cached and re-signs with a higher serial", async () => {
      const before = (await verifiedIndex(repo)).serial;
      const r = await pkgBuild(dir, "hello", "--board", "zima", "--quiet");
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /pkg:hello@zima: cached: /);
      console.log(`cached build of hello: ${r.seconds.toFixed(1)} s`);
      assert.ok((await verifiedIndex(repo)).serial > before);
    });

    await t.step("a files recipe is added to the same repository", async () => {
      const r = await pkgBuild(dir, "hello-conf", "--board", "zima", "--quiet");
      assert.equal(r.code, 0, r.stderr);
      const index = await verifiedIndex(repo);
      assert.deepEqual(index.packages.map((p) => `${p.name} ${p.arch}`), [
        "hello x86_64",
        "hello-conf noarch",
      ]);
      const conf = index.packages.find((p) => p.name === "hello-conf")!;
      assert.deepEqual([conf.provides, conf.replaces], [["hello-settings"], ["hello-legacy"]]);
    });

    await t.step(
      "ice-pkg installs it over HTTP, busybox coming from the board's repository",
      async () => {
        // The board's repository, as the repo stage signs it: here only busybox.
        const busybox = (await buildFor("zima", ["pkg:busybox"])).get("pkg:busybox")!.out!;
        const ice = [...Deno.readDirSync(busybox)].find((e) => e.name.endsWith(".ice"))!.name;
        await publishPackage({
          repoDir: join(dir, "board"),
          pkg: join(busybox, ice),
          arch: "x86_64",
          key: await repoKey(),
        });
        const root = join(dir, "root");
        await Deno.mkdir(join(root, "etc/icenet/keys"), { recursive: true });
        for (const e of Deno.readDirSync(join(repo, "keys"))) {
          await Deno.copyFile(join(repo, "keys", e.name), join(root, "etc/icenet/keys", e.name));
        }
        const icePkg = (...args: string[]) =>
          run([Deno.execPath(), "run", "-A", ...DENO_FLAGS, ICE_PKG, "--root", root, ...args]);
        await serve(dir, async (url) => {
          const alone = await icePkg("--repo", `${url}/repo-zima`, "install", "hello");
          assert.equal(alone.code, 3, "busybox is in no repository given");
          assert.match(alone.stderr + alone.stdout, /busybox/);
          const r = await icePkg(
            "--repo",
            `${url}/board`,
            "--repo",
            `${url}/repo-zima`,
            "install",
            "hello",
            "hello-conf",
          );
          assert.equal(r.code, 0, r.stderr);
          assert.match(r.stdout, /Installing busybox /);
          assert.match(r.stdout, /Installing hello \(1\.0-r0\)/);
        });
        const bin = join(root, "usr/bin/hello");
        const elf = await elfInfo(bin);
        assert.equal(elf.machine, "Advanced Micro Devices X86-64");
        assert.equal(elf.interp, undefined, "static: no program interpreter");
        assert.equal((await run([bin])).stdout, `hello ${nonce}\n`);
        assert.equal(await Deno.readTextFile(join(root, "etc/hello.conf")), "loud = 1\n");
      },
    );

    // The cross toolchain, if its musl stage is in the store (never built here).
    const rpi = await loadBoard(ROOT, "rpi");
    const musl = await explain(
      await loadStages(rpi, ROOT),
      "musl",
      rpi,
      ROOT,
      new Store(defaultStoreDir()),
    );
    await t.step({
      name: "it builds for rpi (aarch64) with the cross toolchain",
      ignore: musl.rebuild,
      fn: async () => {
        const r = await pkgBuild(dir, "hello", "--board", "rpi", "--quiet");
        assert.equal(r.code, 0, r.stderr);
        const index = await verifiedIndex(join(dir, "repo-rpi"));
        assert.deepEqual(index.packages.map((p) => p.arch), ["aarch64"]);
        const x = join(dir, "x");
        await Deno.mkdir(x);
        const tar = await run(["tar", "-xJf", join(dir, "repo-rpi", "hello-1.0-r0.ice"), "-C", x]);
        assert.equal(tar.code, 0, tar.stderr);
        const elf = await elfInfo(join(x, "usr/bin/hello"));
        assert.equal(elf.machine, "AArch64");
        assert.equal(elf.interp, undefined);
      },
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pkg build: a bad recipe fails naming file, line and field, and changes no repository", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "icenet-oot-" });
  try {
    await writeRecipes(dir, "bad");
    const good = await pkgBuild(dir, "hello-conf", "--board", "zima", "--quiet");
    assert.equal(good.code, 0, good.stderr);
    const snapshot = () =>
      [...Deno.readDirSync(join(dir, "repo-zima"))].map((e) => e.name).sort().join(" ") +
      Deno.readTextFileSync(join(dir, "repo-zima", "INDEX.json"));
    const before = snapshot();
    const base = `version: "1.0"\nrelease: 0\ndescription: Bad\nlicense: MIT\n`;
    const cases = [
      {
        name: "a source without sha256",
        recipe: `${base}kind: make\nsources:\n  main: { url: https://example.invalid/x.tar.gz }\n`,
        error: /^error: bad\/recipe\.yaml:7: sources\.main\.sha256: /m,
      },
      {
        name: "an unknown field",
        recipe: `${base}kind: files\ncolour: blue\n`,
        error: /^error: bad\/recipe\.yaml:6: colour: unknown field/m,
      },
      {
        name: "a file outside the recipe directory",
        recipe: `${base}kind: files\nadd:\n  etc/x: ../hello/greeting.h\n`,
        error: /^error: bad\/recipe\.yaml: add\.etc\/x: \.\.\/hello\/greeting\.h is outside/m,
      },
    ];
    await Deno.mkdir(join(dir, "bad", "files"), { recursive: true });
    for (const c of cases) {
      await t.step(c.name, async () => {
        await Deno.writeTextFile(join(dir, "bad", "recipe.yaml"), c.recipe);
        const r = await pkgBuild(dir, "bad", "--board", "zima", "--quiet");
        assert.equal(r.code, 2, r.stderr);
        assert.match(r.stderr, c.error);
        assert.equal(snapshot(), before);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
