// The zima image built twice from clean stores, from two copies of the project in
// different directories (every stage rebuilt; only the download dir shared), has the
// same sha256. A cold build of everything, twice: run by `deno task test:repro`
// (ICENET_REPRO=1), not by the ordinary e2e tier.
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { sha256File } from "../../lib/hash.ts";
import { defaultDownloadDir } from "../../lib/fetch/mod.ts";
import { defaultStoreDir } from "../../lib/store.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

Deno.test({
  name: "zima image: two clean builds in different directories are bit-identical",
  ignore: Deno.env.get("ICENET_REPRO") !== "1",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const base = await Deno.makeTempDir({ prefix: "icenet-repro-" });
    const downloads = defaultDownloadDir(defaultStoreDir());
    const hashes: string[] = [];
    for (const name of ["a", "b/deeper"]) {
      const tree = join(base, name, "icenet");
      await Deno.mkdir(tree, { recursive: true });
      // The project as git knows it (tracked files only), not the working dir's leftovers.
      await $`git -C ${ROOT} archive --format=tar HEAD | tar -x -C ${tree}`;
      const t0 = performance.now();
      const out = (await $`deno run -A tasks/cli.ts build image --board zima --quiet`
        .cwd(tree)
        .env({ ICENET_HOME: join(base, name, "store"), ICENET_SOURCES: downloads })
        .text()).match(/^image: (.+)$/m)?.[1];
      assert.ok(out, "the build printed its image path");
      hashes.push(await sha256File(out));
      console.log(
        `repro: ${name}: ${hashes.at(-1)} (${((performance.now() - t0) / 1000).toFixed(0)} s)`,
      );
    }
    assert.equal(hashes[0], hashes[1]);
    await Deno.remove(base, { recursive: true });
  },
});
