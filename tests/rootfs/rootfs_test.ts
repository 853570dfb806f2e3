/**
 * The rootfs stage on a throw-away project (tests/rootfs/_project.ts): the real
 * base-files recipe plus two small packages, installed by ice-pkg's library into a
 * tree, packed into a squashfs. Checks ownership of every file, generated files,
 * secure defaults and byte-identical rebuilds from two stores.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { parseImageDef } from "../../lib/image_def.ts";
import { openDb } from "../../lib/ice-pkg/db.ts";
import { Store } from "../../lib/store.ts";
import { rootfsStage } from "../../lib/rootfs/stage.ts";
import { buildProject, project } from "./_project.ts";

const KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1y2M4n6ZkR0kq2vX1p4qf8Qm3m4f0T8b3k2W9y5m1A test@icenet";
const IMAGE = `description: test image
packages: [base-files, hello, notes, ice-pkg]
services: [hello]
hostname: testbox
users:
  - name: root
    keys: ["${KEY}"]
  - name: admin
    uid: 1000
    groups: [wheel]
    keys: ["${KEY}"]
`;

/** The real base-files recipe and tree, minus its run-time dependencies. */
async function baseFiles(): Promise<Record<string, string>> {
  const src = new URL("../../pkgs/base-files/", import.meta.url).pathname;
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(join(src, rel))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(r);
      else out[`pkgs/base-files/${r}`] = await Deno.readTextFile(join(src, r));
    }
  };
  await walk("");
  out["pkgs/base-files/recipe.yaml"] = out["pkgs/base-files/recipe.yaml"].replace(
    /^depends: .*\n/m,
    "",
  );
  // An arch-excluded package: the image lists it, this board (x86_64) skips it.
  out["pkgs/ice-pkg/recipe.yaml"] =
    'version: "1"\nrelease: 0\ndescription: x\nlicense: MIT\nkind: files\narches: [aarch64]\n';
  return out;
}

async function unsquash(img: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "icenet-unsquash-" });
  const r = await new Deno.Command("unsquashfs", {
    args: ["-no-xattrs", "-f", "-d", join(dir, "root"), img],
    stdout: "null",
  }).output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
  return join(dir, "root");
}

Deno.test("rootfs stage installs the image's packages with a database that owns every file", async () => {
  const files = await baseFiles();
  const a = await project(files);
  const b = await project(files);
  const def = parseImageDef("images/test.yaml", IMAGE);
  const more = () => Promise.resolve([rootfsStage(def, "images/test.yaml", ["ice-pkg"])]);
  // Both projects sign with the same key: the image holds its public half.
  const keyText = await Deno.readTextFile(join(a.root, "repo.key"));
  await Deno.writeTextFile(join(b.root, "repo.key"), keyText);
  const t0 = Date.now();
  try {
    Deno.env.set("ICENET_REPO_KEY", join(a.root, "repo.key"));
    const ra = await buildProject(a.root, a.store, ["rootfs"], more);
    const seconds = (Date.now() - t0) / 1000;
    Deno.env.set("ICENET_REPO_KEY", join(b.root, "repo.key"));
    const rb = await buildProject(b.root, new Store(join(b.root, ".store")), ["rootfs"], more);
    const imgA = join(ra.get("rootfs")!.out!, "root.squashfs");
    const imgB = join(rb.get("rootfs")!.out!, "root.squashfs");
    assert.deepEqual(await Deno.readFile(imgA), await Deno.readFile(imgB), "squashfs differs");
    assert.ok(seconds < 120, `rootfs of 3 packages took ${seconds} s`);

    const root = await unsquash(imgA);
    const generated: { path: string }[] = JSON.parse(
      await Deno.readTextFile(join(ra.get("rootfs")!.out!, "generated.json")),
    );
    const gen = new Set(generated.map((g) => g.path));
    const db = openDb(root);
    const owned = new Set(db.allFiles().map((f) => f.path));
    const pkgs = [...db.installed().keys()].sort();
    db.close();
    assert.deepEqual(pkgs, ["base-files", "hello", "notes"]);
    // Every path of the squashfs is owned by a package or generated.
    const lls = new TextDecoder().decode(
      (await new Deno.Command("unsquashfs", { args: ["-lls", "-d", "", imgA] }).output()).stdout,
    );
    const paths = lls.split("\n").filter((l) => /^[-dlrwxst]{10} /.test(l))
      .map((l) => l.replace(/^.*? \d{4}-\d\d-\d\d \d\d:\d\d /, "").replace(/ -> .*$/, ""))
      .map((p) => p.replace(/^\//, "")).filter(Boolean);
    assert.ok(paths.length > 40, `only ${paths.length} paths in the squashfs`);
    const stray = paths.filter((p) => !owned.has(p) && !gen.has(p));
    assert.deepEqual(stray, [], "files owned by no package and not generated");
    // Everything is root's, with the image's fixed time.
    assert.ok(lls.split("\n").filter((l) => /^[-dl]/.test(l)).every((l) => / root\/root /.test(l)));

    // Generated files and secure defaults.
    assert.equal(
      await Deno.readLink(join(root, "etc/icenet/services/hello")),
      "/usr/lib/icenet/services/hello",
    );
    assert.deepEqual([...Deno.readDirSync(join(root, "etc/icenet/services"))].map((e) => e.name), [
      "hello",
    ]);
    assert.equal(await Deno.readTextFile(join(root, "etc/hostname")), "testbox\n");
    assert.equal(await Deno.readTextFile(join(root, "root/.ssh/authorized_keys")), KEY + "\n");
    assert.equal((await Deno.stat(join(root, "root/.ssh/authorized_keys"))).mode! & 0o777, 0o600);
    const shadow = await Deno.readTextFile(join(root, "etc/shadow"));
    for (const line of shadow.trim().split("\n")) {
      assert.match(line.split(":")[1], /^[!*]/, `usable password in shadow: ${line}`);
    }
    assert.match(await Deno.readTextFile(join(root, "etc/group")), /^wheel:x:10:root,admin$/m);
    assert.match(await Deno.readTextFile(join(root, "etc/passwd")), /^admin:x:1000:1000:/m);
    const keys = [...Deno.readDirSync(join(root, "etc/icenet/keys"))].map((e) => e.name);
    assert.equal(keys.length, 1);
    // No trace of the build's repository or package cache.
    assert.deepEqual([...Deno.readDirSync(join(root, "var/lib/ice-pkg"))].map((e) => e.name), [
      "db.sqlite",
    ]);
    const sql = new DatabaseSync(join(root, "var/lib/ice-pkg/db.sqlite"));
    assert.equal(sql.prepare("SELECT count(*) AS n FROM repos").get()!.n, 0);
    sql.close();
    await assert.rejects(Deno.stat(join(root, "var/cache/ice-pkg")));
    await Deno.remove(join(root, ".."), { recursive: true });

    // One recipe changes: that package, the repository and the rootfs rebuild.
    Deno.env.set("ICENET_REPO_KEY", join(a.root, "repo.key"));
    const notes = join(a.root, "pkgs/notes/recipe.yaml");
    await Deno.writeTextFile(
      notes,
      (await Deno.readTextFile(notes)).replace("release: 0", "release: 1"),
    );
    const rc = await buildProject(a.root, a.store, ["rootfs"], more);
    assert.deepEqual(
      [...rc.values()].map((x) => `${x.name}:${x.outcome}`).sort(),
      [
        "musl:cached",
        "pkg:base-files:cached",
        "pkg:hello:cached",
        "pkg:notes:built",
        "pkg:tool:cached",
        "repo:built",
        "rootfs:built",
      ],
    );
  } finally {
    Deno.env.delete("ICENET_REPO_KEY");
    if (!Deno.env.get("KEEP")) await Deno.remove(a.root, { recursive: true });
    await Deno.remove(b.root, { recursive: true });
  }
});
