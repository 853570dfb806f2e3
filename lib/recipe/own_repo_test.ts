import assert from "node:assert/strict";
import { join } from "node:path";
import { generateKeyFiles } from "../ice-pkg/keys.ts";
import { fetchIndex, INDEX_FILE } from "../ice-pkg/repo.ts";
import { loadTrustedKeys } from "../ice-pkg/keys.ts";
import { makePackage, withTempDir } from "../../tests/ice-pkg/_helpers.ts";
import { parseKeyFile, type RepoKey } from "./repo_key.ts";
import { publishPackage } from "./own_repo.ts";

async function testKey(): Promise<RepoKey> {
  const { privateFile } = await generateKeyFiles();
  return { ...parseKeyFile("test.key", privateFile), path: "test.key", development: false };
}

/** Write a package `name-version-r0` of `arch` under `dir`; returns its path. */
async function pkg(dir: string, name: string, version: string, arch = "x86_64", text = "x") {
  const path = join(dir, `${name}-${version}-${arch}-${text.length}.ice`);
  const meta = { name, version, arch: arch as "noarch" };
  await Deno.writeFile(path, await makePackage(meta, { [`usr/share/${name}`]: text }));
  return path;
}

/** The names and versions the repository's signed index lists (checked like ice-pkg does). */
async function listed(repo: string): Promise<{ serial: number; pkgs: string[] }> {
  const { index } = await fetchIndex(repo, {
    keys: await loadTrustedKeys(join(repo, "keys")),
    now: new Date("2030-01-01T00:01:00Z"),
  });
  return { serial: index.serial, pkgs: index.packages.map((p) => `${p.name}-${p.version}`) };
}

Deno.test("publishPackage() adds, replaces the older version, and raises the serial", async () => {
  await withTempDir(async (dir) => {
    const key = await testKey();
    const repo = join(dir, "repo");
    const now = new Date("2030-01-01T00:00:00Z");
    const add = (p: string, s = 0) =>
      publishPackage({
        repoDir: repo,
        pkg: p,
        arch: "x86_64",
        key,
        now: new Date(now.getTime() + s * 1000),
      });
    await add(await pkg(dir, "a", "1.0"));
    await add(await pkg(dir, "b", "1.0", "noarch"));
    const first = await listed(repo);
    assert.deepEqual(first.pkgs, ["a-1.0-r0", "b-1.0-r0"]);
    assert.equal(first.serial, 1893456001, "not below the time, and up by one at the same time");
    const p = await add(await pkg(dir, "a", "1.1"));
    assert.deepEqual(p.replaced, ["a-1.0-r0"]);
    const second = await listed(repo);
    assert.deepEqual(second.pkgs, ["a-1.1-r0", "b-1.0-r0"]);
    assert.ok(second.serial > first.serial);
    const files = [...Deno.readDirSync(repo)].map((e) => e.name).filter((n) => n.endsWith(".ice"));
    assert.deepEqual(files.sort(), ["a-1.1-r0.ice", "b-1.0-r0.ice"], "the old version is gone");
  });
});

Deno.test("publishPackage() refuses and leaves the repository as it was", async (t) => {
  // Each case starts from a repository holding a-1.0-r0 for x86_64.
  const cases: {
    name: string;
    pkg: (dir: string) => Promise<string>;
    arch?: "aarch64";
    otherKey?: boolean;
    error: RegExp;
  }[] = [
    {
      name: "a package for another architecture",
      pkg: (dir) => pkg(dir, "c", "1.0", "aarch64"),
      arch: "aarch64",
      error: /holds a for x86_64, not aarch64: a repository serves one architecture/,
    },
    {
      name: "the same version with other content",
      pkg: (dir) => pkg(dir, "a", "1.0", "x86_64", "other"),
      error: /a-1\.0-r0 is already there with other content; raise "release"/,
    },
    {
      name: "an index signed by another key",
      pkg: (dir) => pkg(dir, "d", "1.0"),
      otherKey: true,
      error: /INDEX\.json: signed by key \w+, not by \w+ \(test\.key\)/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () =>
      withTempDir(async (dir) => {
        const key = await testKey();
        const repo = join(dir, "repo");
        await publishPackage({
          repoDir: repo,
          pkg: await pkg(dir, "a", "1.0"),
          arch: "x86_64",
          key,
        });
        const before = Deno.readFileSync(join(repo, INDEX_FILE));
        const p = await c.pkg(dir);
        await assert.rejects(
          async () =>
            publishPackage({
              repoDir: repo,
              pkg: p,
              arch: c.arch ?? "x86_64",
              key: c.otherKey ? await testKey() : key,
            }),
          c.error,
        );
        assert.deepEqual(Deno.readFileSync(join(repo, INDEX_FILE)), before);
        const names = [...Deno.readDirSync(repo)].map((e) => e.name).sort();
        assert.deepEqual(names, [".lock", "INDEX.json", "INDEX.json.sig", "a-1.0-r0.ice", "keys"]);
      }));
  }
});
