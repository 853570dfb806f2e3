/**
 * Package and repository stages through the real runner, on a throw-away project
 * with two small recipes (one `make`, one `files`) compiled for real. The "musl"
 * stage here is a stand-in that wraps Debian's musl-gcc (musl-tools): the real musl
 * stage takes minutes and is tested by its own issue; the recipes under pkgs/ use
 * the real one.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBoard } from "../../lib/board.ts";
import { generateKeyFiles, loadTrustedKeys } from "../../lib/ice-pkg/keys.ts";
import { readPackage } from "../../lib/ice-pkg/package.ts";
import { fetchIndex } from "../../lib/ice-pkg/repo.ts";
import { build } from "../../lib/runner.ts";
import { defineStage } from "../../lib/stage.ts";
import { Store } from "../../lib/store.ts";
import pkgStages from "../../tasks/pkgs.ts";
import { makeProgress } from "../../lib/progress.ts";

const HELLO_C = `#include <stdio.h>
int main(void) { puts("hello from musl"); return 0; }
`;
const MAKEFILE = `all: hello
hello: hello.c
\t$(CC) $(CFLAGS) $(LDFLAGS) -o hello hello.c
install:
\tinstall -D -m 0755 hello $(DESTDIR)/usr/bin/hello
\tinstall -D -m 0644 hello.c $(DESTDIR)/usr/share/doc/hello/hello.c
`;

/** A stand-in "musl" stage: `<out>/bin/<triple>-gcc` wrapping Debian's musl-gcc. */
const muslStandIn = defineStage({
  name: "musl",
  boardFields: ["triple"],
  tools: ["musl-gcc"],
  async run({ board, out }) {
    await Deno.mkdir(join(out, "bin"));
    const w = join(out, "bin", `${board.triple}-gcc`);
    await Deno.writeTextFile(w, '#!/bin/sh\nexec musl-gcc "$@"\n');
    await Deno.chmod(w, 0o755);
  },
});

async function project() {
  const root = await Deno.makeTempDir({ prefix: "icenet-pkgs-" });
  const w = async (rel: string, text: string) => {
    await Deno.mkdir(join(root, rel, ".."), { recursive: true });
    await Deno.writeTextFile(join(root, rel), text);
  };
  // The source tarball sits in a local mirror directory.
  const src = join(root, "src", "hello-1.0");
  await w("src/hello-1.0/hello.c", HELLO_C);
  await w("src/hello-1.0/Makefile", MAKEFILE);
  await Deno.mkdir(join(root, "mirror"));
  const tarball = join(root, "mirror", "hello-1.0.tar.gz");
  await new Deno.Command("tar", {
    args: [
      "-czf",
      tarball,
      "--sort=name",
      "--mtime=@0",
      "--owner=0",
      "--group=0",
      "-C",
      join(src, ".."),
      "hello-1.0",
    ],
  }).output();
  const sha = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(tarball))),
  ).map((b) => b.toString(16).padStart(2, "0")).join("");
  await w(
    "boards/zima.yaml",
    await Deno.readTextFile(new URL("../../boards/zima.yaml", import.meta.url)),
  );
  await w(
    "pkgs/hello/recipe.yaml",
    `version: "1.0"
release: 1
description: Says hello
license: MIT
kind: make
sources:
  main:
    url: https://example.invalid/hello-1.0.tar.gz
    sha256: ${sha}
    mirrors: [${join(root, "mirror")}]
add:
  usr/lib/icenet/services/hello: hello.service
remove: [usr/share/doc]
services: [hello]
`,
  );
  await w("pkgs/hello/hello.service", "command = /usr/bin/hello\ntype = oneshot\n");
  await w(
    "pkgs/notes/recipe.yaml",
    `version: "2"
release: 0
description: Some files
license: MIT
kind: files
modes:
  etc/secret: "0600"
`,
  );
  await w("pkgs/notes/files/etc/notes.txt", "notes\n");
  await w("pkgs/notes/files/etc/secret", "s\n");
  const key = await generateKeyFiles();
  await w("repo.key", key.privateFile);
  await w("keys/" + key.keyId + ".pub", key.publicLine);
  return { root, store: new Store(join(root, ".store")), key };
}

async function buildRepo(root: string, store: Store) {
  const board = await loadBoard(root, "zima");
  const stages = [muslStandIn, ...await pkgStages(root, board)];
  const r = await build({
    root,
    board,
    stages,
    targets: ["repo"],
    store,
    progress: makeProgress(true),
  });
  const failed = [...r.results.values()].find((x) => x.outcome === "failed");
  assert.ok(r.ok, `build failed: ${failed?.name}: ${failed?.error}`);
  return r.results;
}

Deno.test("pkgs stages build packages and a signed repository; one recipe change rebuilds that package and the repo", async () => {
  const { root, store, key } = await project();
  Deno.env.set("ICENET_REPO_KEY", join(root, "repo.key"));
  try {
    const first = await buildRepo(root, store);
    const helloOut = first.get("pkg:hello")!.out!;
    const bytes = await Deno.readFile(join(helloOut, "hello-1.0-r1.x86_64.ice"));
    const pkg = await readPackage(bytes, { where: "hello" });
    assert.equal(pkg.meta.arch, "x86_64");
    assert.deepEqual(
      pkg.meta.files.map((f) => `${f.path} ${f.type} ${f.mode.toString(8)}`),
      [
        "usr dir 755",
        "usr/bin dir 755",
        "usr/bin/hello file 755",
        "usr/lib dir 755",
        "usr/lib/icenet dir 755",
        "usr/lib/icenet/services dir 755",
        "usr/lib/icenet/services/hello file 644",
      ],
    );
    // The binary is static, stripped, and runs.
    const tree = await Deno.makeTempDir();
    await Deno.writeFile(join(tree, "hello"), pkg.data.get("usr/bin/hello")!, { mode: 0o755 });
    const run = await new Deno.Command(join(tree, "hello")).output();
    assert.equal(new TextDecoder().decode(run.stdout), "hello from musl\n");
    const file = new TextDecoder().decode(
      (await new Deno.Command("file", { args: [join(tree, "hello")] }).output()).stdout,
    );
    assert.match(file, /statically linked/);
    assert.match(file, /stripped/);
    assert.doesNotMatch(file, /not stripped/);

    const notes = await readPackage(
      await Deno.readFile(join(first.get("pkg:notes")!.out!, "notes-2-r0.noarch.ice")),
      { where: "notes" },
    );
    assert.equal(notes.meta.files.find((f) => f.path === "etc/secret")!.mode, 0o600);
    assert.equal(notes.meta.files.find((f) => f.path === "etc/notes.txt")!.mode, 0o644);

    // The repository verifies with the public key, and lists both packages.
    const repoOut = first.get("repo")!.out!;
    const { index } = await fetchIndex(join(repoOut, "repo"), {
      keys: loadTrustedKeys(join(root, "keys")),
    });
    assert.deepEqual(index.packages.map((p) => `${p.name}-${p.version}`), [
      "hello-1.0-r1",
      "notes-2-r0",
    ]);
    assert.deepEqual([...Deno.readDirSync(join(repoOut, "keys"))].map((e) => e.name), [
      `${key.keyId}.pub`,
    ]);

    // Nothing changed: everything cached.
    const again = await buildRepo(root, store);
    assert.deepEqual(
      [...again.values()].map((x) => `${x.name}:${x.outcome}`).sort(),
      ["musl:cached", "pkg:hello:cached", "pkg:notes:cached", "repo:cached"],
    );
    // One recipe changes: that package and the repository rebuild, nothing else.
    const notesRecipe = join(root, "pkgs/notes/recipe.yaml");
    await Deno.writeTextFile(
      notesRecipe,
      (await Deno.readTextFile(notesRecipe)).replace("Some files", "Some other files"),
    );
    const third = await buildRepo(root, store);
    assert.deepEqual(
      [...third.values()].map((x) => `${x.name}:${x.outcome}`).sort(),
      ["musl:cached", "pkg:hello:cached", "pkg:notes:built", "repo:built"],
    );
  } finally {
    Deno.env.delete("ICENET_REPO_KEY");
    await Deno.remove(root, { recursive: true });
  }
});
