import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBoard } from "../board.ts";
import { loadRecipe, loadRecipes, parseRecipe, recipeForBoard, recipeNames } from "./load.ts";
import { boardVars, expandRecipeVars } from "./vars.ts";

const root = new URL("../..", import.meta.url).pathname;
const FILE = "pkgs/demo/recipe.yaml";

const GOOD = `version: "1.2.3"
release: 1
description: A demo
license: MIT
kind: autotools
depends: [base-files, musl>=1.2]
sources:
  main:
    url: https://example.org/demo-1.2.3.tar.gz
    sha256: ${"ab".repeat(32)}
configure: [--disable-nls]
`;

function parse(text: string) {
  return parseRecipe(FILE, text, "demo", "/nowhere/pkgs/demo");
}

Deno.test("loadRecipes() loads every recipe under pkgs/", async () => {
  const recipes = await loadRecipes(root);
  assert.deepEqual(recipes.map((r) => r.name), recipeNames(root));
  for (
    const want of ["base-files", "busybox", "chrony", "dropbear", "ice-pkg", "icenet-init", "musl"]
  ) {
    assert.ok(recipes.some((r) => r.name === want), `recipe ${want} is missing`);
  }
  // Every source is pinned and every recipe stays short.
  for (const r of recipes) {
    for (const s of Object.values(r.sources)) assert.match(s.sha256, /^[0-9a-f]{64}$/);
    const lines = Deno.readTextFileSync(join(r.dir, "recipe.yaml")).split("\n").length;
    assert.ok(lines <= 60, `${r.file} has ${lines} lines`);
  }
});

Deno.test("recipeForBoard() follows the recipe's arches, not board names", async (t) => {
  const any = parse(GOOD);
  const some = parse(GOOD + "arches: [x86_64, aarch64]\n");
  assert.deepEqual(some.arches, ["x86_64", "aarch64"]);
  const rows: [string, boolean][] = [["x86_64", true], ["aarch64", true], ["armv7", false]];
  for (const [arch, built] of rows) {
    await t.step(arch, () => {
      assert.equal(recipeForBoard(any, { arch: arch as "armv7" }), true);
      assert.equal(recipeForBoard(some, { arch: arch as "armv7" }), built);
    });
  }
  assert.throws(
    () => parse(GOOD + "arches: [rpi]\n"),
    /recipe\.yaml:\d+: arches\.0: Invalid option: expected one of "x86_64"\|"aarch64"\|"armv7"/,
  );
  // ice-pkg is built for every board (Node.js on armv7, where Deno has no build).
  const icePkg = await loadRecipe(root, "ice-pkg");
  assert.equal(recipeForBoard(icePkg, await loadBoard(root, "rpi32")), true);
  assert.equal(recipeForBoard(icePkg, await loadBoard(root, "rpi")), true);
});

Deno.test("parseRecipe() applies the defaults of a kind", () => {
  const r = parse(GOOD);
  assert.equal(r.kind, "autotools");
  assert.equal(r.name, "demo");
  if (r.kind !== "autotools") throw new Error("kind");
  assert.deepEqual(r.install, ["install"]);
  assert.equal(r.strip, true);
  assert.deepEqual(r.depends, ["base-files", "musl>=1.2"]);
});

Deno.test("icenet-init takes /sbin/init over from base-files releases that still own it", async () => {
  // Upgrading icenet-init alone on a device whose base-files still lists sbin/init
  // was refused as a conflict.
  const init = await loadRecipe(root, "icenet-init");
  assert.deepEqual(init.replaces, ["base-files"]);
  assert.throws(() => parse(GOOD + 'replaces: ["two words"]\n'), /replaces\.0: bad dependency/);
});

Deno.test("parseRecipe() names file, line and field of a bad recipe", async (t) => {
  const cases: [string, string, RegExp][] = [
    [
      "unknown field",
      GOOD.replace("configure:", "configur:"),
      /pkgs\/demo\/recipe\.yaml:11: configur: unknown field \(allowed: version, release,.*configure/,
    ],
    [
      "field of another kind",
      GOOD.replace("kind: autotools", "kind: files"),
      /recipe\.yaml:11: configure: unknown field \(allowed: .*tree/,
    ],
    [
      "missing sha256",
      GOOD.replace(/ {4}sha256: .*\n/, ""),
      /recipe\.yaml:8: sources\.main\.sha256: expected string, received undefined/,
    ],
    [
      "short sha256",
      GOOD.replace(/sha256: .*/, "sha256: abc"),
      /recipe\.yaml:10: sources\.main\.sha256: must be 64 lowercase hex digits/,
    ],
    [
      "bad version",
      GOOD.replace('version: "1.2.3"', 'version: "v1.2"'),
      /recipe\.yaml:1: version: bad version/,
    ],
    [
      "unquoted version",
      GOOD.replace('version: "1.2.3"', "version: 1.10"),
      /recipe\.yaml:1: version: must be a quoted string/,
    ],
    [
      "bad dependency",
      GOOD.replace("musl>=1.2", "musl >> 1"),
      /recipe\.yaml:6: depends\.1: bad dependency/,
    ],
    ["unknown kind", GOOD.replace("kind: autotools", "kind: scons"), /recipe\.yaml:5: kind: /],
    [
      "path leaving the package",
      GOOD + "add:\n  ../etc/passwd: passwd\n",
      /recipe\.yaml:13: add\.\.\.\/etc\/passwd: Invalid key in record/,
    ],
    ["mode as a number", GOOD + "modes:\n  etc/x: 0600\n", /recipe\.yaml:13: modes\.etc\/x: /],
    ["bad yaml", GOOD + "make: [a\n", /recipe\.yaml:1[23]: /],
  ];
  for (const [name, text, re] of cases) {
    await t.step(name, () => assert.throws(() => parse(text), re));
  }
});

const DEB = `version: "1.0"
release: 1
description: Data from Debian
license: ISC
kind: deb
sources:
  main:
    url: "debian:pool/main/d/demo/demo_1.0-1_all.deb"
    sha256: ${"cd".repeat(32)}
    debian: { package: demo, version: 1.0-1, arch: all }
files:
  lib/firmware/demo.db: lib/firmware/demo.db-upstream
  usr/share/doc/demo/copyright: usr/share/doc/demo/copyright
`;

Deno.test("parseRecipe() loads a deb recipe: package path -> path in the .deb", async (t) => {
  const r = parse(DEB);
  if (r.kind !== "deb") throw new Error("kind");
  assert.deepEqual(r.files, {
    "lib/firmware/demo.db": "lib/firmware/demo.db-upstream",
    "usr/share/doc/demo/copyright": "usr/share/doc/demo/copyright",
  });
  assert.equal(r.sources.main.debian && "package" in r.sources.main.debian, true);
  const cases: [string, string, RegExp][] = [
    [
      "no files",
      DEB.replace(/files:\n( {2}.*\n)+/, "files: {}\n"),
      /recipe\.yaml:11: files: takes no file/,
    ],
    [
      "a .deb path leaving its data",
      DEB.replace("lib/firmware/demo.db-upstream", "../etc/shadow"),
      /recipe\.yaml:12: files\.lib\/firmware\/demo\.db: a relative path in the \.deb's data/,
    ],
    [
      "an absolute package path",
      DEB.replace("  lib/firmware/demo.db:", "  /lib/firmware/demo.db:"),
      /recipe\.yaml:12: files\.\/lib\/firmware\/demo\.db: Invalid key in record/,
    ],
    [
      "a field of the compiled kinds",
      DEB + "strip: false\n",
      /recipe\.yaml:14: strip: unknown field \(allowed: .*files/,
    ],
    [
      "files as a list",
      DEB.replace(/files:\n( {2}.*\n)+/, "files: [a]\n"),
      /recipe\.yaml:11: files: /,
    ],
  ];
  for (const [name, text, re] of cases) {
    await t.step(name, () => assert.throws(() => parse(text), re));
  }
});

Deno.test("the deb recipes of pkgs/: Pi firmware for the Pi arches, regdb everywhere", async () => {
  const fw = await loadRecipe(root, "firmware-brcm80211");
  const regdb = await loadRecipe(root, "wireless-regdb");
  assert.equal(fw.kind, "deb");
  assert.equal(regdb.kind, "deb");
  assert.deepEqual(fw.arches, ["aarch64", "armv7"]);
  assert.equal(regdb.arches, undefined);
  if (regdb.kind !== "deb") throw new Error("kind");
  assert.equal(regdb.files["lib/firmware/regulatory.db"], "lib/firmware/regulatory.db-upstream");
});

Deno.test("loadRecipe() names an unknown package", async () => {
  await assert.rejects(loadRecipe(root, "no-such-pkg"), /unknown package "no-such-pkg"/);
});

Deno.test("expandRecipeVars() substitutes board variables and rejects unknown ones", async () => {
  const zima = await loadBoard(root, "zima");
  const rpi32 = await loadBoard(root, "rpi32");
  const musl = await loadRecipe(root, "musl");
  const z = expandRecipeVars(musl, boardVars(zima), musl.file);
  assert.ok("lib/ld-musl-x86_64.so.1" in z.symlinks);
  const a = expandRecipeVars(musl, boardVars(rpi32), musl.file);
  assert.ok("lib/ld-musl-armhf.so.1" in a.symlinks);
  assert.equal(a.dir, musl.dir);
  const bad = parse(GOOD.replace("--disable-nls", '"--with-${CPU}"'));
  assert.throws(
    () => expandRecipeVars(bad, boardVars(zima), bad.file),
    /pkgs\/demo\/recipe\.yaml: configure\.0: unknown variable \$\{CPU\} \(have: ARCH, TRIPLE, LDARCH\)/,
  );
});
