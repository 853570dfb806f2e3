/**
 * The remote build cache against a real nginx (WebDAV PUT) on loopback, with
 * synthetic stages: a result uploaded by one build is fetched, verified and committed
 * by a fresh store without running the stage; a tampered blob, an unsigned or
 * foreign-signed record, and a server that dies in the middle of a download are each
 * a miss, and the build still succeeds.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { decodeActionResult, encodeActionResult } from "../../lib/cache/action_result.ts";
import { actionResultProblem } from "../../lib/cache/action_result.ts";
import { loadStats } from "../../lib/cache/stats.ts";
import { dataExtents } from "../../lib/image/extents.ts";
import { sha256 } from "../../lib/hash.ts";
import { outcomes, testProject } from "../foundation/_project.ts";
import { startNginx } from "./_nginx.ts";
import {
  buildWith,
  cacheWith,
  freshStore,
  keyFiles,
  type Runs,
  treeDigest,
  treeStages,
} from "./_setup.ts";

/** Build `top` into the project's store, pushing every result to the cache at `url`. */
async function seedCache(
  p: Awaited<ReturnType<typeof testProject>>,
  stages: Parameters<typeof buildWith>[1],
  url: string,
  signingKey: string,
) {
  const cache = await cacheWith({
    ICENET_CACHE: url,
    ICENET_CACHE_PUSH: "1",
    ICENET_CACHE_SIGNING_KEY: signingKey,
  }, []);
  return await buildWith(p, stages, ["top"], p.store, cache);
}

Deno.test("cache: a pushed result is fetched by an empty store, bit for bit, and nothing runs", async () => {
  const p = await testProject();
  const server = await startNginx();
  try {
    const k = await keyFiles(p.root, "ci");
    const warnings: string[] = [];
    const runs: Runs = {};
    const stages = treeStages(runs);
    const push = await cacheWith(
      { ICENET_CACHE: server.url, ICENET_CACHE_PUSH: "1", ICENET_CACHE_SIGNING_KEY: k.priv },
      warnings,
    );
    const a = await buildWith(p, stages, ["top"], p.store, push);
    assert.ok(a.ok, a.progress.messages.join("\n"));
    assert.deepEqual(outcomes(a.results), { tree: "built", top: "built" });
    assert.deepEqual(a.progress.cacheWarnings, []);
    assert.equal(push!.stats.pushed, 2);
    assert.equal(push!.stats.misses, 2);
    assert.ok(push!.stats.bytesUp > 2 * 65536, `bytes up ${push!.stats.bytesUp}`);

    // Every action result is one bazel-remote accepts, and all its blobs are there.
    const acs = [...Deno.readDirSync(join(server.data, "ac"))].map((e) => e.name);
    assert.equal(acs.length, 2);
    for (const key of acs) {
      const ar = decodeActionResult(await Deno.readFile(join(server.data, "ac", key)));
      assert.equal(actionResultProblem(ar), undefined);
      assert.ok(ar.stdoutDigest, "the build log is the action's stdout");
      for (const d of [...ar.outputFiles.map((f) => f.digest), ar.stdoutDigest!]) {
        const blob = await Deno.readFile(join(server.data, "cas", d.hash));
        assert.equal(sha256(blob), d.hash);
        assert.equal(blob.length, d.size);
      }
    }

    // A wiped local store: every stage comes from the cache, nothing runs.
    const store2 = freshStore(p, "store2");
    const pull = await cacheWith(
      { ICENET_CACHE: server.url, ICENET_CACHE_KEYS: k.pub },
      warnings,
    );
    const b = await buildWith(p, stages, ["top"], store2, pull);
    assert.ok(b.ok, b.progress.messages.join("\n"));
    assert.deepEqual(outcomes(b.results), { tree: "fetched", top: "fetched" });
    assert.deepEqual(runs, { tree: 1, top: 1 });
    assert.deepEqual(b.progress.cacheWarnings, []);
    for (const s of ["tree", "top"]) {
      const ra = a.results.get(s)!, rb = b.results.get(s)!;
      assert.equal(rb.key, ra.key);
      assert.equal(rb.outputHash, ra.outputHash);
      assert.deepEqual(await treeDigest(rb.out!), await treeDigest(ra.out!));
      assert.equal(await Deno.readTextFile(rb.log!), await Deno.readTextFile(ra.log!));
    }
    // Holes are where they were: a downloaded disk image maps the same blocks.
    const img = (r: typeof a) => join(r.results.get("tree")!.out!, "disk.img");
    assert.deepEqual(dataExtents(img(b)), dataExtents(img(a)));
    assert.ok(dataExtents(img(b)).length >= 2, "the image kept its holes");
    assert.match(await Deno.readTextFile(b.results.get("tree")!.log!), /writing every kind/);
    assert.deepEqual(await store2.verify(), []);
    assert.equal(pull!.stats.hits, 2);
    assert.equal(pull!.stats.misses, 0);
    assert.ok(pull!.stats.bytesDown > 2 * 65536);
    assert.equal(loadStats(store2.dir)?.hits, 2);

    // Now local: cached, and the cache is not asked again.
    const c = await buildWith(p, stages, ["top"], store2, pull);
    assert.deepEqual(outcomes(c.results), { tree: "cached", top: "cached" });
    assert.equal(pull!.stats.hits, 2);
  } finally {
    await server.stop();
    await p.cleanup();
  }
});

Deno.test("cache: a tampered blob, an unsigned and a foreign-signed record are misses with a warning", async (t) => {
  const p = await testProject();
  const server = await startNginx();
  try {
    const ours = await keyFiles(p.root, "ours");
    const theirs = await keyFiles(p.root, "theirs");
    const runs: Runs = {};
    const stages = treeStages(runs);
    const seed = await seedCache(p, stages, server.url, ours.priv);
    assert.ok(seed.ok);
    const treeKey = seed.results.get("tree")!.key!;
    const topKey = seed.results.get("top")!.key!;
    const fetchAll = async (name: string, vars: Record<string, string>) => {
      const warnings: string[] = [];
      const cache = await cacheWith({ ICENET_CACHE: server.url, ...vars }, warnings);
      const r = await buildWith(p, stages, ["top"], freshStore(p, name), cache);
      assert.ok(r.ok, "the build succeeds");
      return { r, warnings: [...warnings, ...r.progress.cacheWarnings], cache: cache! };
    };

    await t.step("foreign signature: every result is a miss, built locally", async () => {
      const before = { ...runs };
      const { r, warnings, cache } = await fetchAll("foreign", { ICENET_CACHE_KEYS: theirs.pub });
      assert.deepEqual(outcomes(r.results), { tree: "built", top: "built" });
      assert.deepEqual(runs, { tree: before.tree + 1, top: before.top + 1 });
      assert.equal(warnings.length, 2, warnings.join("\n"));
      assert.match(
        warnings[0],
        new RegExp(
          `^cache: tree@test \\(key ${treeKey}\\): ${server.url}: not used: signed by key ${ours.keyId}, which is not in ICENET_CACHE_KEYS$`,
        ),
      );
      assert.equal(cache.stats.rejected, 2);
      assert.equal(cache.stats.misses, 2);
    });

    await t.step("tampered blob: that stage is rebuilt, the other still fetched", async () => {
      // hello.txt's blob: a cache that serves other bytes under the same name.
      const blob = join(server.data, "cas", sha256("hello\n"));
      await Deno.writeTextFile(blob, "HELLO\n");
      try {
        const before = { ...runs };
        const { r, warnings } = await fetchAll("tampered", { ICENET_CACHE_KEYS: ours.pub });
        assert.deepEqual(outcomes(r.results), { tree: "built", top: "fetched" });
        assert.deepEqual(runs, { tree: before.tree + 1, top: before.top });
        assert.equal(warnings.length, 1, warnings.join("\n"));
        assert.match(
          warnings[0],
          new RegExp(
            `^cache: tree@test \\(key ${treeKey}\\): ${server.url}: not used: .*hello\\.txt.*content does not match`,
          ),
        );
        assert.deepEqual(
          [...Deno.readDirSync(join(p.root, "tampered", "tmp"))],
          [],
          "the half download is gone",
        );
      } finally {
        await Deno.writeTextFile(blob, "hello\n");
      }
    });

    await t.step("unsigned record: a miss", async () => {
      // Re-point top's action result at a copy of its record without the signature.
      const acPath = join(server.data, "ac", topKey);
      const original = await Deno.readFile(acPath);
      const ar = decodeActionResult(original);
      const recFile = ar.outputFiles.find((f) => f.path === "icenet/record.json")!;
      const rec = JSON.parse(
        await Deno.readTextFile(join(server.data, "cas", recFile.digest.hash)),
      );
      delete rec.signature;
      delete rec.keyId;
      const bytes = new TextEncoder().encode(JSON.stringify(rec));
      await Deno.writeFile(join(server.data, "cas", sha256(bytes)), bytes);
      recFile.digest = { hash: sha256(bytes), size: bytes.length };
      await Deno.writeFile(acPath, encodeActionResult(ar));
      try {
        const { r, warnings } = await fetchAll("unsigned", { ICENET_CACHE_KEYS: ours.pub });
        assert.deepEqual(outcomes(r.results), { tree: "fetched", top: "built" });
        assert.equal(warnings.length, 1, warnings.join("\n"));
        assert.match(
          warnings[0],
          new RegExp(`top@test \\(key ${topKey}\\).*not used: unsigned record`),
        );
      } finally {
        await Deno.writeFile(acPath, original);
      }
    });

    await t.step("a record moved to another key is refused", async () => {
      // tree's (validly signed) action result served under top's key.
      const acPath = join(server.data, "ac", topKey);
      const original = await Deno.readFile(acPath);
      await Deno.copyFile(join(server.data, "ac", treeKey), acPath);
      try {
        const { r, warnings } = await fetchAll("moved", { ICENET_CACHE_KEYS: ours.pub });
        assert.deepEqual(outcomes(r.results), { tree: "fetched", top: "built" });
        assert.match(
          warnings.join("\n"),
          new RegExp(`record is for key ${treeKey}, not ${topKey}`),
        );
      } finally {
        await Deno.writeFile(acPath, original);
      }
    });
  } finally {
    await server.stop();
    await p.cleanup();
  }
});

Deno.test("cache: a server that dies in the middle of a download is a miss, said once", async () => {
  const p = await testProject();
  const first = await startNginx();
  const dir = join(first.data, "..", "..");
  try {
    const k = await keyFiles(p.root, "ci");
    const runs: Runs = {};
    // 24 MiB at 1 MiB/s: the download is surely under way when the server is killed.
    const stages = treeStages(runs, 24);
    const seed = await seedCache(p, stages, first.url, k.priv);
    assert.ok(seed.ok);
    await first.stop();
    const slow = await startNginx({ dir, limitRate: "1m" });
    const store2 = freshStore(p, "store2");
    // A 1 s timeout: a download that makes progress goes on past it.
    const cache = await cacheWith(
      { ICENET_CACHE: slow.url, ICENET_CACHE_KEYS: k.pub, ICENET_CACHE_TIMEOUT: "1" },
      [],
    );
    const building = buildWith(p, stages, ["top"], store2, cache);
    // Wait until 3 MiB of big.bin are in the scratch dir (3 s), then kill the server.
    const tmp = join(store2.dir, "tmp");
    const deadline = Date.now() + 30_000;
    let seen = 0;
    while (Date.now() < deadline && seen < 3 * 1024 * 1024) {
      for (const e of Deno.readDirSync(tmp)) {
        try {
          seen = Deno.statSync(join(tmp, e.name, "out", "big.bin")).size;
        } catch { /* not yet */ }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(seen >= 3 * 1024 * 1024, `3 s into the download (${seen} bytes seen)`);
    const killedAt = performance.now();
    await slow.stop();
    const r = await building;
    const after = (performance.now() - killedAt) / 1000;
    assert.ok(r.ok, r.progress.messages.join("\n"));
    assert.deepEqual(outcomes(r.results), { tree: "built", top: "built" });
    const said = r.progress.cacheWarnings;
    assert.equal(said.length, 1, said.join("\n"));
    assert.match(
      said[0],
      new RegExp(`^cache: ${slow.url} unreachable \\(.*body cut short.*\\); building without it`),
    );
    assert.ok(after < 10, `the build went on at once (${after.toFixed(1)} s after the kill)`);
    assert.deepEqual(cache!.stats.unreachable[slow.url] !== undefined, true);
    assert.deepEqual(await store2.verify(), []);
    assert.equal((await store2.keys()).length, 2, "both built, no half entry");
    assert.deepEqual([...Deno.readDirSync(tmp)], []);
  } finally {
    await first.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    await p.cleanup();
  }
});

Deno.test("cache: several caches are asked in order, uploads go to each, a dead one is skipped", async () => {
  const p = await testProject();
  const empty = await startNginx();
  const full = await startNginx();
  try {
    const k = await keyFiles(p.root, "ci");
    const runs: Runs = {};
    const stages = treeStages(runs);
    // Seed only the second cache.
    const seed = await cacheWith({
      ICENET_CACHE: full.url,
      ICENET_CACHE_PUSH: "1",
      ICENET_CACHE_SIGNING_KEY: k.priv,
    }, []);
    assert.ok((await buildWith(p, stages, ["top"], p.store, seed)).ok);
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const dead = `http://127.0.0.1:${(l.addr as Deno.NetAddr).port}/cache`;
    l.close();
    const cache = await cacheWith(
      { ICENET_CACHE: `${dead}, ${empty.url} ,${full.url}`, ICENET_CACHE_KEYS: k.pub },
      [],
    );
    assert.deepEqual(cache!.stats.urls, [dead, empty.url, full.url]);
    const r = await buildWith(p, stages, ["top"], freshStore(p, "b"), cache);
    assert.deepEqual(outcomes(r.results), { tree: "fetched", top: "fetched" });
    assert.equal(r.progress.cacheWarnings.length, 1, r.progress.cacheWarnings.join("\n"));
    assert.match(r.progress.cacheWarnings[0], new RegExp(`^cache: ${dead} unreachable`));
    assert.ok(r.progress.started.every((s) => s.includes(`fetching from ${full.url}`)));
    // A build that uploads fills every live cache: the first now has everything too.
    const both = await cacheWith({
      ICENET_CACHE: `${empty.url},${full.url}`,
      ICENET_CACHE_PUSH: "1",
      ICENET_CACHE_SIGNING_KEY: k.priv,
    }, []);
    await buildWith(p, stages, ["top"], p.store, both);
    assert.equal(both!.stats.pushed, 2, "cached locally, missing from the first: uploaded there");
    const fromFirst = await cacheWith({ ICENET_CACHE: empty.url, ICENET_CACHE_KEYS: k.pub }, []);
    const c = await buildWith(p, stages, ["top"], freshStore(p, "c"), fromFirst);
    assert.deepEqual(outcomes(c.results), { tree: "fetched", top: "fetched" });
  } finally {
    await empty.stop();
    await full.stop();
    await p.cleanup();
  }
});
