/**
 * The remote build cache on zima's real stages, through the CLI, against Debian's
 * nginx (WebDAV PUT) on loopback: `build image --board zima --cache URL --cache-push`
 * fills an empty cache (with what the build makes, and what the store already had);
 * then a build in an empty store, with no sources at hand, gets every stage from the
 * cache — nothing compiles — and the image is bit-identical, down to its holes.
 *
 * The first build uses the user's store (warm after the other e2e tests; cold it is
 * a full zima build, about 15 minutes on 2 cores, the kernel most of it).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dataExtents } from "../../lib/image/extents.ts";
import { defaultStoreDir } from "../../lib/store.ts";
import { startNginx } from "../cache/_nginx.ts";
import { keyFiles } from "../cache/_setup.ts";
import { e2eBoards } from "./_boards.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

async function cli(args: string[], env: Record<string, string>) {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "bin", "cli.ts"), ...args],
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

/** The summary table's rows: stage -> result. */
function table(err: string): Record<string, string> {
  const rows: Record<string, string> = {};
  for (
    const m of err.matchAll(
      /^(?:\d\d:\d\d:\d\d )?(\S+@zima) +(cached|fetched|built|failed|skipped) +[\d.]+ s$/gm,
    )
  ) {
    rows[m[1]] = m[2];
  }
  return rows;
}

Deno.test({
  name:
    "cache: zima's stages pushed to nginx come back into an empty store: all hits, the image bit-identical",
  ignore: !e2eBoards().includes("zima"),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const work = await Deno.makeTempDir({ prefix: "icenet-cache-e2e-" });
    const server = await startNginx();
    try {
      const k = await keyFiles(work, "ci");
      const storeA = defaultStoreDir();
      // The same repository, update and Secure Boot keys in both builds (the development
      // keys are per store, and made by the first build if need be; the root trusts both).
      const repoKey = Deno.env.get("ICENET_REPO_KEY") ??
        join(storeA, "repo-key", "development.key");
      const updateKey = Deno.env.get("ICENET_UPDATE_KEY") ??
        join(storeA, "update-key", "development.key");
      // And the Secure Boot key set that signs zima's boot files.
      const secureBootKeys = Deno.env.get("ICENET_SECUREBOOT_KEYS") ??
        join(storeA, "secureboot-keys", "development");
      const a = await cli(
        ["build", "image", "--board", "zima", "--cache", server.url, "--cache-push"],
        { ICENET_CACHE_SIGNING_KEY: k.priv },
      );
      assert.equal(a.code, 0, a.err);
      const stagesA = table(a.err);
      assert.ok(Object.keys(stagesA).length >= 10, a.err);
      const up = a.err.match(/cache: 0 hits, \d+ miss(?:es)?, .* up, (\d+) results? uploaded/);
      assert.ok(up, a.err);
      assert.equal(Number(up[1]), Object.keys(stagesA).length, "every stage uploaded");

      const storeB = join(work, "store");
      const noSources = join(work, "no-sources");
      await Deno.mkdir(noSources);
      const b = await cli(["build", "image", "--board", "zima"], {
        ICENET_HOME: storeB,
        ICENET_SOURCES: noSources,
        ICENET_CACHE: server.url,
        ICENET_CACHE_KEYS: k.pub,
        ICENET_REPO_KEY: repoKey,
        ICENET_UPDATE_KEY: updateKey,
        ICENET_SECUREBOOT_KEYS: secureBootKeys,
      });
      assert.equal(b.code, 0, b.err);
      const stagesB = table(b.err);
      assert.deepEqual(Object.keys(stagesB).sort(), Object.keys(stagesA).sort());
      for (const [s, r] of Object.entries(stagesB)) assert.equal(r, "fetched", `${s}: ${r}`);
      assert.doesNotMatch(b.err, /: building$/m, "nothing compiled");
      assert.match(b.err, new RegExp(`cache: ${Object.keys(stagesA).length} hits, 0 misses`));
      assert.deepEqual([...Deno.readDirSync(noSources)], [], "no source was needed");

      // Bit-identical: the same image bytes, the same holes, every stage's same output.
      const sha = (out: string) => out.match(/^sha256: ([0-9a-f]{64})$/m)?.[1];
      assert.ok(sha(a.out));
      assert.equal(sha(b.out), sha(a.out));
      const img = (out: string) => out.match(/^image: (.+\.img)$/m)![1];
      assert.deepEqual(dataExtents(img(b.out)), dataExtents(img(a.out)));
      for (const s of Object.keys(stagesA)) {
        const name = s.replace(/[^\w.-]/g, "_").replace(/_zima$/, "@zima");
        const ra = JSON.parse(await Deno.readTextFile(join(storeA, "latest", `${name}.json`)));
        const rb = JSON.parse(await Deno.readTextFile(join(storeB, "latest", `${name}.json`)));
        // The same output; storeA's latest record may name an older key of the same
        // output (a recipe's comment changed), so keys are not compared here: every B key
        // was a hit on what A pushed (the "fetched" checks above).
        assert.equal(rb.outputHash, ra.outputHash, s);
      }
    } finally {
      await server.stop();
      await Deno.remove(work, { recursive: true }).catch(() => {});
    }
  },
});
