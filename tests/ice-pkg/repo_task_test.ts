import assert from "node:assert/strict";
import { join } from "node:path";
import { main } from "../../bin/repo.ts";
import { fetchIndex, INDEX_FILE } from "../../lib/ice-pkg/repo.ts";
import { loadTrustedKeys } from "../../lib/ice-pkg/keys.ts";
import { withTempDir, writeTree } from "./_helpers.ts";

Deno.test("deno task repo: keygen, pack and build make a repository ice-pkg trusts", async () => {
  await withTempDir(async (dir) => {
    const key = join(dir, "k");
    assert.equal(await main(["keygen", key]), 0);
    assert.equal((Deno.statSync(key).mode ?? 0) & 0o777, 0o600);
    writeTree(join(dir, "tree"), { "usr/bin/x": "x\n" });
    Deno.writeTextFileSync(
      join(dir, "meta.json"),
      JSON.stringify({ name: "x", version: "1.2", release: 3, arch: "noarch" }),
    );
    assert.equal(
      await main(["pack", join(dir, "tree"), join(dir, "meta.json"), join(dir, "x.ice")]),
      0,
    );
    const out = join(dir, "repo");
    const args = ["build", "--key", key, "--out", out, "--created", "2030-01-01T00:00:00Z"];
    assert.equal(await main([...args, "--serial", "7", join(dir, "x.ice")]), 0);
    const first = Deno.readFileSync(join(out, INDEX_FILE));
    assert.equal(await main([...args, "--serial", "7", join(dir, "x.ice")]), 0);
    assert.deepEqual(Deno.readFileSync(join(out, INDEX_FILE)), first, "same inputs, same index");
    Deno.mkdirSync(join(dir, "keys"));
    Deno.copyFileSync(`${key}.pub`, join(dir, "keys/k.pub"));
    const { index } = await fetchIndex(out, {
      keys: await loadTrustedKeys(join(dir, "keys")),
      now: new Date("2030-01-02T00:00:00Z"),
    });
    assert.equal(index.serial, 7);
    assert.equal(index.expires, "2030-01-31T00:00:00.000Z");
    assert.deepEqual(index.packages.map((p) => [p.name, p.version, p.file]), [[
      "x",
      "1.2-r3",
      "x-1.2-r3.ice",
    ]]);
    assert.equal(await main(["build", "--out", out]), 2);
  });
});
