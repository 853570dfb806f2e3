/**
 * A throw-away project for the package and rootfs tests: boards/zima.yaml, two small
 * recipes (`hello`, kind make, compiled for real; `notes`, kind files), a signing key,
 * and a store. The "musl" stage here is a stand-in that wraps Debian's musl-gcc
 * (musl-tools): the real musl stage takes minutes and is tested by its own issue;
 * the recipes under pkgs/ use the real one.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBoard } from "../../lib/board.ts";
import { generateKeyFiles } from "../../lib/ice-pkg/keys.ts";
import { makeProgress } from "../../lib/progress.ts";
import { build } from "../../lib/runner.ts";
import { defineStage, type Stage } from "../../lib/stage.ts";
import { Store } from "../../lib/store.ts";
import { packageStages as pkgStages } from "../../lib/recipe/stages.ts";

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
    await Deno.symlink(`${board.triple}-gcc`, join(out, "bin", "cc"));
  },
});

/** Make the project; `extra` files are written too. */
export async function project(extra: Record<string, string> = {}) {
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
link: static
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
  // A `stage` package: part of another stage's output (here the stand-in toolchain).
  await w(
    "pkgs/tool/recipe.yaml",
    'version: "1"\nrelease: 0\ndescription: A stage output\nlicense: MIT\nkind: stage\n' +
      "stage: musl\ncopy:\n  bin: usr/lib/tool/bin\n",
  );
  await w("pkgs/notes/files/etc/secret", "s\n");
  for (const [rel, text] of Object.entries(extra)) await w(rel, text);
  const key = await generateKeyFiles();
  await w("repo.key", key.privateFile);
  await w("keys/" + key.keyId + ".pub", key.publicLine);
  return { root, store: new Store(join(root, ".store")), key };
}

/** Build `targets` of the project (default: the repo); the build must succeed. */
export async function buildProject(
  root: string,
  store: Store,
  targets = ["repo"],
  more: (root: string) => Promise<Stage[]> = () => Promise.resolve([]),
) {
  const board = await loadBoard(root, "zima");
  const stages = [muslStandIn, ...await pkgStages(root, board), ...await more(root)];
  const r = await build({
    root,
    board,
    stages,
    targets,
    store,
    progress: makeProgress(true),
  });
  const failed = [...r.results.values()].find((x) => x.outcome === "failed");
  assert.ok(r.ok, `build failed: ${failed?.name}: ${failed?.error}`);
  return r.results;
}
