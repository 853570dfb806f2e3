import assert from "node:assert/strict";
import { join } from "node:path";
import type { StageContext } from "../stage.ts";
import { kindNeeds, kindTools } from "./build.ts";
import { parseRecipe } from "./load.ts";
import type { BuildRecipe } from "./schema.ts";
import { assembleSysroot, runtimeDepends, stageDevFiles, sysrootEnv } from "./sysroot.ts";

const HEAD = `version: "1.0"
release: 1
description: A demo
license: MIT
kind: autotools
sources:
  main: { url: https://example.org/demo-1.0.tar.gz, sha256: "${"ab".repeat(32)}" }
`;

function parse(extra: string): BuildRecipe {
  return parseRecipe("pkgs/demo/recipe.yaml", HEAD + extra, "demo", "/nowhere") as BuildRecipe;
}

/** Write `files` (path -> text, or "->target" for a symlink) under `dir`. */
async function tree(dir: string, files: Record<string, string>): Promise<void> {
  for (const [p, v] of Object.entries(files)) {
    await Deno.mkdir(join(dir, p, ".."), { recursive: true });
    if (v.startsWith("->")) await Deno.symlink(v.slice(2), join(dir, p));
    else await Deno.writeTextFile(join(dir, p), v);
  }
}

/** Every path under `dir`, sorted, symlinks as `path -> target`. */
function list(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const e of [...Deno.readDirSync(join(dir, rel))].sort((a, b) => a.name < b.name ? -1 : 1)) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isSymlink) out.push(`${r} -> ${Deno.readLinkSync(join(dir, r))}`);
    else if (e.isDirectory) out.push(...list(dir, r));
    else out.push(r);
  }
  return out;
}

Deno.test("runtimeDepends() adds musl and the libraries of a shared build, not of a static one", async (t) => {
  const rows: [string, string, string[]][] = [
    ["no libraries, shared", "", ["musl"]],
    ["libraries, shared", "libs: [zlib, mbedtls]\n", ["musl", "zlib", "mbedtls"]],
    ["a library already named", "depends: [zlib>=1.2]\nlibs: [zlib]\n", ["zlib>=1.2", "musl"]],
    ["static", "link: static\nlibs: [zlib]\n", []],
  ];
  for (const [name, extra, want] of rows) {
    await t.step(name, () => assert.deepEqual(runtimeDepends(parse(extra)), want));
  }
});

Deno.test("kindNeeds() and kindTools() name the libraries' stages and pkg-config", () => {
  const r = parse("libs: [zlib, ncurses]\n");
  assert.deepEqual(kindNeeds(r), ["musl", "pkg:zlib", "pkg:ncurses"]);
  const board = { cross: "" } as Parameters<typeof kindTools>[1];
  assert.ok(kindTools(r, board).includes("pkg-config"));
  assert.ok(!kindTools(parse(""), board).includes("pkg-config"));
  assert.throws(() => parse("hostTools: [frobnicate]\n"), /hostTools\.0: not a host tool/);
  assert.throws(() => parse("libs: [Zlib]\n"), /libs\.0: a package name of pkgs\//);
});

Deno.test("sysrootEnv() points pkg-config at the sysroot only, and the compiler when there are libraries", () => {
  assert.deepEqual(sysrootEnv("/s", false), {
    PKG_CONFIG: "pkg-config",
    PKG_CONFIG_LIBDIR: "/s/usr/lib/pkgconfig:/s/usr/share/pkgconfig",
    PKG_CONFIG_SYSROOT_DIR: "/s",
  });
  const env = sysrootEnv("/s", true);
  assert.equal(env.CPPFLAGS, "-I/s/usr/include");
  assert.equal(env.LDFLAGS, "-L/s/usr/lib -Wl,-rpath-link,/s/usr/lib");
  assert.equal(sysrootEnv("/s", true, "static").PKG_CONFIG, "pkg-config --static");
});

Deno.test("stageDevFiles() stages headers, libraries and .pc files on top of the sysroot, and keeps only run-time files in the package", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const pkg = join(dir, "pkg"), sys = join(dir, "sys"), staging = join(dir, "out", "staging");
    await tree(pkg, {
      "usr/bin/tool": "elf",
      "usr/include/demo.h": "/build/x/src/include/Caps generated this",
      "usr/lib/libdemo.so.1.0": "so",
      "usr/lib/libdemo.so.1": "->libdemo.so.1.0",
      "usr/lib/libdemo.so": "->libdemo.so.1.0",
      "usr/lib/libdemo.a": "a",
      "usr/lib/libdemo.la": "la",
      "usr/lib/pkgconfig/demo.pc": "pc",
    });
    await tree(sys, { "usr/include/zlib.h": "z", "usr/lib/libz.so": "->libz.so.1" });
    await stageDevFiles(pkg, sys, staging, { from: "/build/x/src", to: "/usr/src/demo" });
    assert.deepEqual(list(pkg), [
      "usr/bin/tool",
      "usr/lib/libdemo.so.1 -> libdemo.so.1.0",
      "usr/lib/libdemo.so.1.0",
    ]);
    assert.deepEqual(list(staging), [
      "usr/include/demo.h",
      "usr/include/zlib.h",
      "usr/lib/libdemo.a",
      "usr/lib/libdemo.so -> libdemo.so.1.0",
      "usr/lib/libdemo.so.1 -> libdemo.so.1.0",
      "usr/lib/libdemo.so.1.0",
      "usr/lib/libz.so -> libz.so.1",
      "usr/lib/pkgconfig/demo.pc",
    ]);
    // No build directory in a staged header.
    assert.equal(
      await Deno.readTextFile(join(staging, "usr/include/demo.h")),
      "/usr/src/demo/include/Caps generated this",
    );
    // A program's package stages nothing.
    const prog = join(dir, "prog");
    await tree(prog, { "usr/bin/prog": "elf" });
    await stageDevFiles(prog, sys, join(dir, "out2", "staging"));
    assert.equal(await Deno.lstat(join(dir, "out2")).catch(() => undefined), undefined);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("assembleSysroot() merges the libraries' staging trees; one file staged differently is an error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await tree(join(dir, "a"), { "staging/usr/include/a.h": "a", "staging/usr/include/m.h": "m" });
    await tree(join(dir, "b"), { "staging/usr/include/b.h": "b", "staging/usr/include/m.h": "m" });
    await tree(join(dir, "c"), { "staging/usr/include/m.h": "other" });
    await tree(join(dir, "p"), { "prog.ice": "" });
    const ctx = {
      deps: {
        "pkg:a": join(dir, "a"),
        "pkg:b": join(dir, "b"),
        "pkg:c": join(dir, "c"),
        "pkg:p": join(dir, "p"),
      },
    } as unknown as StageContext;
    const sys = await assembleSysroot(ctx, parse("libs: [a, b]\n"), join(dir, "s1"));
    assert.deepEqual(list(sys), ["usr/include/a.h", "usr/include/b.h", "usr/include/m.h"]);
    await assert.rejects(
      assembleSysroot(ctx, parse("libs: [a, c]\n"), join(dir, "s2")),
      /pkgs\/demo\/recipe\.yaml: libs: c: .*usr\/include\/m\.h is staged twice, differently/,
    );
    await assert.rejects(
      assembleSysroot(ctx, parse("libs: [p]\n"), join(dir, "s3")),
      /libs: p: its package stages no headers or libraries \(not a library\)/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
