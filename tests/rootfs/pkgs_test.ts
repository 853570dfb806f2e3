/**
 * Package and repository stages through the real runner, on a throw-away project
 * (tests/rootfs/_project.ts) with two small recipes compiled and packed for real.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadTrustedKeys } from "../../lib/ice-pkg/keys.ts";
import { readPackage } from "../../lib/ice-pkg/package.ts";
import { fetchIndex } from "../../lib/ice-pkg/repo.ts";
import { buildProject, project } from "./_project.ts";

Deno.test("pkgs stages build packages and a signed repository; one recipe change rebuilds that package and the repo", async () => {
  const { root, store, key } = await project();
  Deno.env.set("ICENET_REPO_KEY", join(root, "repo.key"));
  try {
    const first = await buildProject(root, store);
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
    const tool = await readPackage(
      await Deno.readFile(join(first.get("pkg:tool")!.out!, "tool-1-r0.x86_64.ice")),
      { where: "tool" },
    );
    assert.deepEqual(
      tool.meta.files.map((f) => `${f.path} ${f.type} ${f.mode.toString(8)} ${f.target ?? ""}`),
      [
        "usr dir 755 ",
        "usr/lib dir 755 ",
        "usr/lib/tool dir 755 ",
        "usr/lib/tool/bin dir 755 ",
        "usr/lib/tool/bin/cc symlink 777 x86_64-icenet-linux-musl-gcc",
        "usr/lib/tool/bin/x86_64-icenet-linux-musl-gcc file 755 ",
      ],
    );

    // The repository verifies with the public key, and lists both packages.
    const repoOut = first.get("repo")!.out!;
    const { index } = await fetchIndex(join(repoOut, "repo"), {
      keys: await loadTrustedKeys(join(root, "keys")),
    });
    assert.deepEqual(index.packages.map((p) => `${p.name}-${p.version}`), [
      "hello-1.0-r1",
      "notes-2-r0",
      "tool-1-r0",
    ]);
    assert.deepEqual([...Deno.readDirSync(join(repoOut, "keys"))].map((e) => e.name), [
      `${key.keyId}.pub`,
    ]);

    // Nothing changed: everything cached.
    const again = await buildProject(root, store);
    assert.deepEqual(
      [...again.values()].map((x) => `${x.name}:${x.outcome}`).sort(),
      ["musl:cached", "pkg:hello:cached", "pkg:notes:cached", "pkg:tool:cached", "repo:cached"],
    );
    // One recipe changes: that package and the repository rebuild, nothing else.
    const notesRecipe = join(root, "pkgs/notes/recipe.yaml");
    await Deno.writeTextFile(
      notesRecipe,
      (await Deno.readTextFile(notesRecipe)).replace("Some files", "Some other files"),
    );
    const third = await buildProject(root, store);
    assert.deepEqual(
      [...third.values()].map((x) => `${x.name}:${x.outcome}`).sort(),
      ["musl:cached", "pkg:hello:cached", "pkg:notes:built", "pkg:tool:cached", "repo:built"],
    );
  } finally {
    Deno.env.delete("ICENET_REPO_KEY");
    await Deno.remove(root, { recursive: true });
  }
});
