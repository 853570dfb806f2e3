/**
 * The `deb` kind through `deno task pkg build <dir>`: files of a small Debian binary
 * package made here with dpkg-deb (the same bytes every run: the download dir keeps
 * sources by file name) land at the paths the recipe maps them to, with modes
 * normalised and symlinks kept; a path the .deb lacks, or a symlink whose target is not
 * taken, is an error naming the recipe file, the field and the path.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readPackageMeta } from "../../lib/ice-pkg/package.ts";
import { ROOT, run } from "../userland/_build.ts";

const PKG = join(ROOT, "bin", "pkg.ts");

/** A .deb (arch all) of a data tree, reproducible; returns its sha256. */
async function makeDeb(dir: string, out: string): Promise<string> {
  const root = join(dir, "debroot");
  const w = (p: string, text: string, mode: number) => {
    Deno.mkdirSync(join(root, p, ".."), { recursive: true });
    Deno.writeTextFileSync(join(root, p), text);
    Deno.chmodSync(join(root, p), mode);
  };
  w(
    "DEBIAN/control",
    "Package: demo-data\nVersion: 1.0-1\nArchitecture: all\n" +
      "Maintainer: nobody <nobody@example.invalid>\nDescription: demo\n",
    0o644,
  );
  w("usr/share/demo/a.txt", "a\n", 0o600);
  w("usr/share/demo/tree/x", "x\n", 0o640);
  w("usr/share/demo/tree/y", "y\n", 0o700);
  w("usr/share/demo/other.txt", "other\n", 0o644);
  Deno.symlinkSync("../a.txt", join(root, "usr/share/demo/tree/to-a"));
  Deno.symlinkSync("other.txt", join(root, "usr/share/demo/to-other"));
  const touch = await run(["find", root, "-exec", "touch", "-h", "-d", "@0", "{}", "+"]);
  assert.equal(touch.code, 0, touch.stderr);
  const env = { SOURCE_DATE_EPOCH: "0", PATH: Deno.env.get("PATH")! };
  const b = await run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", root, out], { env });
  assert.equal(b.code, 0, b.stderr);
  return (await run(["sha256sum", out])).stdout.split(" ")[0];
}

/** A `deb` recipe `name` under `dir` taking `files` from the .deb beside it. */
async function writeRecipe(dir: string, name: string, sha: string, files: string) {
  await Deno.mkdir(join(dir, name));
  const deb = "oot-demo-data_1.0-1_all.deb";
  await Deno.copyFile(join(dir, deb), join(dir, name, deb));
  await Deno.writeTextFile(
    join(dir, name, "recipe.yaml"),
    `version: "1.0"
release: 0
description: Data from a .deb
license: MIT
kind: deb
sources:
  main:
    url: https://example.invalid/oot-demo-data_1.0-1_all.deb
    sha256: "${sha}"
    mirrors: ["."]
files:
${files}`,
  );
}

async function build(dir: string, name: string) {
  return await run([Deno.execPath(), "run", "-A", PKG, "build", name, "--board", "zima"], {
    cwd: dir,
    env: { INIT_CWD: dir },
  });
}

Deno.test("kind deb: mapped paths, normalised modes, symlinks kept; missing and dangling paths named", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "icenet-deb-kind-" });
  try {
    const sha = await makeDeb(dir, join(dir, "oot-demo-data_1.0-1_all.deb"));
    const again = await makeDeb(join(dir, "again"), join(dir, "again.deb"));
    assert.equal(again, sha, "the test .deb is not reproducible");

    await t.step("a good recipe", async () => {
      await writeRecipe(
        dir,
        "demo-data",
        sha,
        `  usr/share/demo/a.txt: usr/share/demo/a.txt
  lib/demo/renamed.txt: usr/share/demo/other.txt
  usr/share/demo/tree: usr/share/demo/tree
`,
      );
      const r = await build(dir, "demo-data");
      assert.equal(r.code, 0, r.stderr + r.stdout);
      const ice = join(dir, "repo-zima", "demo-data-1.0-r0.ice");
      assert.equal((await readPackageMeta(ice, { where: ice })).arch, "noarch");
      const list = await run(["tar", "-tvJf", ice]);
      assert.equal(list.code, 0, list.stderr);
      const entries = list.stdout.trim().split("\n").map((l) => {
        const f = l.split(/\s+/);
        return `${f[0]} ${f.slice(5).join(" ")}`;
      }).filter((e) => !e.endsWith("/") && !e.includes(".ice-meta.json"));
      assert.deepEqual(entries.sort(), [
        "-rw-r--r-- lib/demo/renamed.txt",
        "-rw-r--r-- usr/share/demo/a.txt",
        "-rw-r--r-- usr/share/demo/tree/x",
        "-rwxr-xr-x usr/share/demo/tree/y",
        "lrwxrwxrwx usr/share/demo/tree/to-a -> ../a.txt",
      ]);
    });

    await t.step("a path the .deb lacks", async () => {
      await writeRecipe(dir, "demo-missing", sha, "  usr/share/demo/b.txt: usr/share/demo/b.txt\n");
      const r = await build(dir, "demo-missing");
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr + r.stdout,
        /demo-missing\/recipe\.yaml: files: usr\/share\/demo\/b\.txt: usr\/share\/demo\/b\.txt is not in oot-demo-data_1\.0-1_all\.deb/,
      );
    });

    await t.step("a symlink whose target is not taken", async () => {
      await writeRecipe(
        dir,
        "demo-dangling",
        sha,
        "  usr/share/demo/to-other: usr/share/demo/to-other\n",
      );
      const r = await build(dir, "demo-dangling");
      assert.notEqual(r.code, 0);
      assert.match(
        r.stderr + r.stdout,
        /demo-dangling\/recipe\.yaml: files: usr\/share\/demo\/to-other: usr\/share\/demo\/to-other links to other\.txt, which is not taken/,
      );
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
