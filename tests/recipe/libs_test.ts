/**
 * `libs:` in a recipe outside the tree (`deno task pkg build <dir>`): a small C
 * program using zlib, built against the in-tree zlib package's staging tree, once
 * `link: static` (a self-contained binary that runs on the host, no run-time
 * dependency) and once shared (musl's loader and libz.so.1, depending on musl and
 * zlib, run in a root of those packages).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readPackageMeta } from "../../lib/ice-pkg/package.ts";
import { buildReal, packageIn } from "../rootfs/_real.ts";
import { BOARDS, makeRoot, run as runIn } from "../pkgs/_root.ts";
import { elfInfo, ROOT, run } from "../userland/_build.ts";
import { reproducibleTarball } from "./_tarball.ts";

const PKG = join(ROOT, "bin", "pkg.ts");

// zlib's pkg-config file gives the flags, as in any project that uses it.
const MAKEFILE = `zround: zround.c
\t$(CC) $(CFLAGS) $(CPPFLAGS) $$($(PKG_CONFIG) --cflags zlib) -o zround zround.c \\
\t  $(LDFLAGS) $$($(PKG_CONFIG) --libs zlib)
install: zround
\tinstall -D -m 0755 zround $(DESTDIR)/usr/bin/zround
`;
const ZROUND_C = `#include <stdio.h>
#include <string.h>
#include <zlib.h>
int main(void) {
  const char *text = "IceNet-OS IceNet-OS IceNet-OS IceNet-OS";
  unsigned char packed[128], back[128];
  uLongf n = sizeof packed, m = sizeof back;
  if (compress(packed, &n, (const Bytef *)text, strlen(text)) != Z_OK) return 1;
  if (uncompress(back, &m, packed, n) != Z_OK) return 2;
  printf("zlib %s: %lu -> %lu -> %.*s\\n", zlibVersion(), (unsigned long)strlen(text),
         (unsigned long)n, (int)m, back);
  return 0;
}
`;

/** Write recipe `name` (its source tarball beside it) under `dir`. */
async function writeRecipe(dir: string, name: string, link: string): Promise<void> {
  const src = join(dir, "src", "zround-1.0");
  await Deno.mkdir(src, { recursive: true });
  await Deno.writeTextFile(join(src, "Makefile"), MAKEFILE);
  await Deno.writeTextFile(join(src, "zround.c"), ZROUND_C);
  await Deno.mkdir(join(dir, name));
  const tarball = join(dir, name, "oot-zround-1.0.tar.gz");
  const sha = await reproducibleTarball(join(dir, "src"), "zround-1.0", tarball);
  await Deno.writeTextFile(
    join(dir, name, "recipe.yaml"),
    `version: "1.0"
release: 0
description: zlib round trip
license: MIT
kind: make
sources:
  main:
    url: https://example.invalid/oot-zround-1.0.tar.gz
    sha256: "${sha}"
    mirrors: ["."]
libs: [zlib]
link: ${link}
`,
  );
}

Deno.test("pkg build: a recipe with libs: [zlib] links it statically or shared, and records it", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "icenet-libs-oot-" });
  const want = /^zlib 1\.2\.13: 39 -> \d+ -> IceNet-OS IceNet-OS IceNet-OS IceNet-OS\n$/;
  try {
    await writeRecipe(dir, "zround-static", "static");
    await writeRecipe(dir, "zround", "shared");
    for (const name of ["zround-static", "zround"]) {
      const r = await run([Deno.execPath(), "run", "-A", PKG, "build", name, "--board", "zima"], {
        cwd: dir,
        env: { INIT_CWD: dir },
      });
      assert.equal(r.code, 0, r.stderr + r.stdout);
    }
    const pkg = (name: string) => join(dir, "repo-zima", `${name}-1.0-r0.ice`);

    await t.step("static: no interpreter, no run-time dependency, runs on the host", async () => {
      assert.deepEqual((await readPackageMeta(pkg("zround-static"), { where: "z" })).depends, []);
      const x = join(dir, "x");
      await Deno.mkdir(x);
      const tar = await run(["tar", "-xJf", pkg("zround-static"), "-C", x]);
      assert.equal(tar.code, 0, tar.stderr);
      const bin = join(x, "usr/bin/zround");
      assert.equal((await elfInfo(bin)).interp, undefined);
      const r = await run([bin]);
      assert.match(r.stdout, want, r.stderr);
    });

    await t.step("shared: musl's loader and libz.so.1, depends on musl and zlib", async () => {
      const meta = await readPackageMeta(pkg("zround"), { where: "z" });
      assert.deepEqual(meta.depends, ["musl", "zlib"]);
      const res = await buildReal(["pkg:musl", "pkg:zlib"], "zima");
      const root = await makeRoot(BOARDS[0], [
        packageIn(res.get("pkg:musl")!.out!),
        packageIn(res.get("pkg:zlib")!.out!),
        pkg("zround"),
      ], join(dir, "shared"));
      assert.equal((await elfInfo(join(root.tree, "usr/bin/zround"))).interp, BOARDS[0].loader);
      const needed = await run(["readelf", "-d", join(root.tree, "usr/bin/zround")]);
      assert.match(needed.stdout, /Shared library: \[libz\.so\.1\]/);
      const r = await runIn(root.argv(["/usr/bin/zround"]));
      assert.match(r.out, want, r.err);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
