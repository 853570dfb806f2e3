/**
 * Failure is a miss: a refused connection, a server that never answers, a 5xx, a body
 * cut short, credentials refused, uploads refused — each costs at most the timeout
 * once per build, is said once, and the build succeeds. Credentials never appear in
 * what the build prints or keeps. Real servers on loopback: nginx, and two raw TCP
 * listeners (one that never answers, one that sends half a body).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { defineStage, type Stage } from "../../lib/stage.ts";
import { outcomes, testProject } from "../foundation/_project.ts";
import { startNginx } from "./_nginx.ts";
import { buildWith, cacheWith, freshStore, keyFiles, type Runs, treeStages } from "./_setup.ts";

/** `n` independent stages writing one small file each. */
function smallStages(n: number, runs: Runs): Stage[] {
  return Array.from({ length: n }, (_, i) =>
    defineStage({
      name: `s${i}`,
      params: { i },
      async run({ out }) {
        runs[`s${i}`] = (runs[`s${i}`] ?? 0) + 1;
        await Deno.writeTextFile(join(out, "x"), String(i));
      },
    }));
}

/** A TCP server on loopback that runs `serve` on each connection. */
function rawServer(serve: (c: Deno.Conn) => Promise<void>): { url: string; close(): void } {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  (async () => {
    for await (const c of l) {
      conns.push(c);
      serve(c).catch(() => {});
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(l.addr as Deno.NetAddr).port}/cache`,
    close() {
      l.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
    },
  };
}

/** A closed port on loopback. */
function closedPort(): string {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return `http://127.0.0.1:${port}/cache`;
}

Deno.test("cache: an unusable server is a miss, said once, at most the timeout per build", async (t) => {
  const p = await testProject();
  const blackHole = rawServer(async (c) => {
    await c.read(new Uint8Array(4096)); // read the request, answer nothing
    await new Promise((r) => setTimeout(r, 60_000));
  });
  const halfBody = rawServer(async (c) => {
    await c.read(new Uint8Array(4096));
    await c.write(
      new TextEncoder().encode(
        "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: application/octet-stream\r\n\r\n0123456789",
      ),
    );
    c.close();
  });
  const broken = await startNginx({ status: 503 });
  const cases: [string, string, RegExp][] = [
    ["connection refused", closedPort(), /unreachable \(.*(refused|Connection refused)/i],
    ["no answer (timeout)", blackHole.url, /unreachable \(.*no answer for 1 s\)/],
    ["HTTP 503", broken.url, /unreachable \(.*HTTP 503\)/],
    ["body cut short", halfBody.url, /unreachable \(.*body cut short/],
  ];
  try {
    for (const [name, url, said] of cases) {
      await t.step(name, async () => {
        const runs: Runs = {};
        const stages = smallStages(6, runs);
        const warnings: string[] = [];
        const cache = await cacheWith(
          { ICENET_CACHE: url, ICENET_CACHE_TIMEOUT: "1", ICENET_CACHE_KEYS: "" },
          warnings,
        );
        const t0 = performance.now();
        const r = await buildWith(
          p,
          stages,
          stages.map((s) => s.name),
          freshStore(p, `store-${name.replace(/\W/g, "")}`),
          cache,
        );
        const secs = (performance.now() - t0) / 1000;
        assert.ok(r.ok, r.progress.messages.join("\n"));
        assert.ok(Object.values(outcomes(r.results)).every((o) => o === "built"));
        assert.equal(Object.keys(runs).length, 6);
        const w = r.progress.cacheWarnings;
        assert.equal(w.length, 1, w.join("\n"));
        assert.match(w[0], said);
        assert.match(
          w[0],
          new RegExp(
            `^cache: ${url} unreachable \\(looking up s\\d@test: ${url}/ac/[0-9a-f]{64}: `,
          ),
        );
        assert.ok(secs < 4, `took ${secs.toFixed(1)} s`);
        assert.equal(cache!.stats.misses, 6);
        assert.ok(cache!.stats.unreachable[url]);
      });
    }
  } finally {
    blackHole.close();
    halfBody.close();
    await broken.stop();
    await p.cleanup();
  }
});

Deno.test("cache: uploads refused (a read-only server) are said once; reads go on", async () => {
  const p = await testProject();
  const server = await startNginx({ readOnly: true });
  try {
    const k = await keyFiles(p.root, "ci");
    const runs: Runs = {};
    const cache = await cacheWith({
      ICENET_CACHE: server.url,
      ICENET_CACHE_PUSH: "1",
      ICENET_CACHE_SIGNING_KEY: k.priv,
    }, []);
    const r = await buildWith(p, smallStages(3, runs), ["s0", "s1", "s2"], p.store, cache);
    assert.ok(r.ok);
    const w = r.progress.cacheWarnings;
    assert.equal(w.length, 1, w.join("\n"));
    assert.match(w[0], /refused an upload \(.*PUT refused: HTTP 405\); not uploading to it/);
    assert.equal(cache!.stats.pushed, 0);
    assert.deepEqual(cache!.stats.unreachable, {});
  } finally {
    await server.stop();
    await p.cleanup();
  }
});

Deno.test("cache: basic and bearer auth work, and credentials never reach output or store", async (t) => {
  const p = await testProject();
  const password = "s3cret-pw-4417";
  const token = "tok-8e1f9a0b77";
  const basic = await startNginx({ basic: { user: "ci", password } });
  const bearer = await startNginx({ bearer: token });
  const k = await keyFiles(p.root, "ci");
  const all: string[] = [];
  const check = async (storeDir: string) => {
    const text = all.join("\n");
    for (const secret of [password, token, btoa(`ci:${password}`)]) {
      assert.ok(!text.includes(secret), "no secret in messages");
    }
    // Nor in anything the store keeps (logs, stats, manifests).
    const grep = await new Deno.Command("grep", {
      args: ["-rlF", "-e", password, "-e", token, storeDir],
    }).output();
    assert.equal(new TextDecoder().decode(grep.stdout), "");
  };
  const cases: [string, string, Record<string, string>, Record<string, string>][] = [
    ["basic (ICENET_CACHE_AUTH)", basic.url, { ICENET_CACHE_AUTH: `ci:${password}` }, {
      ICENET_CACHE_AUTH: `ci:wrong`,
    }],
    ["basic (in the URL)", basic.url.replace("//", `//ci:${password}@`), {}, {}],
    ["bearer (ICENET_CACHE_TOKEN)", bearer.url, { ICENET_CACHE_TOKEN: token }, {
      ICENET_CACHE_TOKEN: "nope",
    }],
  ];
  try {
    for (const [name, url, good, bad] of cases) {
      await t.step(name, async () => {
        const runs: Runs = {};
        const id = name.replace(/\W/g, "");
        const stages = treeStages(runs, 0, id);
        const push = await cacheWith({
          ICENET_CACHE: url,
          ICENET_CACHE_PUSH: "1",
          ICENET_CACHE_SIGNING_KEY: k.priv,
          ...good,
        }, all);
        const a = await buildWith(p, stages, ["top"], freshStore(p, `a-${id}`), push);
        all.push(...a.progress.messages);
        assert.ok(a.ok);
        assert.equal(push!.stats.pushed, 2, a.progress.messages.join("\n"));
        const pull = await cacheWith({ ICENET_CACHE: url, ICENET_CACHE_KEYS: k.pub, ...good }, all);
        const b = await buildWith(p, stages, ["top"], freshStore(p, `b-${id}`), pull);
        all.push(...b.progress.messages);
        assert.deepEqual(outcomes(b.results), { tree: "fetched", top: "fetched" });
        if (Object.keys(bad).length) {
          const denied = await cacheWith(
            { ICENET_CACHE: url, ICENET_CACHE_KEYS: k.pub, ...bad },
            all,
          );
          const c = await buildWith(p, stages, ["top"], freshStore(p, `c-${id}`), denied);
          all.push(...c.progress.messages);
          assert.ok(c.ok);
          assert.deepEqual(outcomes(c.results), { tree: "built", top: "built" });
          assert.equal(c.progress.cacheWarnings.length, 1);
          assert.match(
            c.progress.cacheWarnings[0],
            /HTTP 401 \(check ICENET_CACHE_TOKEN or ICENET_CACHE_AUTH\)/,
          );
        }
        all.push(JSON.stringify(push!.stats), JSON.stringify(pull!.stats));
        await check(p.root);
      });
    }
  } finally {
    await basic.stop();
    await bearer.stop();
    await p.cleanup();
  }
});

Deno.test("cache: a directory (file://) works like a server, and is checked the same way", async () => {
  const p = await testProject();
  try {
    const k = await keyFiles(p.root, "ci");
    const dir = join(p.root, "shared-disk");
    await Deno.mkdir(dir);
    const url = `file://${dir}`;
    const runs: Runs = {};
    const stages = treeStages(runs);
    const push = await cacheWith(
      { ICENET_CACHE: url, ICENET_CACHE_PUSH: "1", ICENET_CACHE_SIGNING_KEY: k.priv },
      [],
    );
    assert.ok((await buildWith(p, stages, ["top"], p.store, push)).ok);
    assert.equal(push!.stats.pushed, 2);
    const pull = () => cacheWith({ ICENET_CACHE: url, ICENET_CACHE_KEYS: k.pub }, []);
    const b = await buildWith(p, stages, ["top"], freshStore(p, "b"), await pull());
    assert.deepEqual(outcomes(b.results), { tree: "fetched", top: "fetched" });
    // Every blob, tampered: nothing is used, everything is built.
    for (const e of Deno.readDirSync(join(dir, "cas"))) {
      const path = join(dir, "cas", e.name);
      const bytes = await Deno.readFile(path);
      if (bytes.length) bytes[0] ^= 1;
      await Deno.writeFile(path, bytes);
    }
    const c = await buildWith(p, stages, ["top"], freshStore(p, "c"), await pull());
    assert.ok(c.ok);
    assert.deepEqual(outcomes(c.results), { tree: "built", top: "built" });
    assert.equal(c.progress.cacheWarnings.length, 2);
    // An absent directory (an unmounted disk) is unreachable, not an empty cache.
    const gone = await cacheWith(
      { ICENET_CACHE: `file://${dir}-gone`, ICENET_CACHE_KEYS: k.pub },
      [],
    );
    const d = await buildWith(p, stages, ["top"], freshStore(p, "d"), gone);
    assert.ok(d.ok);
    assert.match(d.progress.cacheWarnings.join("\n"), /-gone unreachable \(.*No such file/);
  } finally {
    await p.cleanup();
  }
});

Deno.test("cache: a damaged local object is not uploaded", async () => {
  const p = await testProject();
  const server = await startNginx();
  try {
    const k = await keyFiles(p.root, "ci");
    const runs: Runs = {};
    const stages = treeStages(runs);
    const a = await buildWith(p, stages, ["top"], p.store, undefined);
    // Same size, other bytes: only re-reading the file shows it.
    const hello = join(a.results.get("tree")!.out!, "hello.txt");
    await Deno.chmod(hello, 0o644);
    await Deno.writeTextFile(hello, "HELLO\n");
    const push = await cacheWith({
      ICENET_CACHE: server.url,
      ICENET_CACHE_PUSH: "1",
      ICENET_CACHE_SIGNING_KEY: k.priv,
    }, []);
    const b = await buildWith(p, stages, ["top"], p.store, push);
    assert.ok(b.ok);
    const w = b.progress.cacheWarnings;
    assert.equal(w.length, 1, w.join("\n"));
    assert.match(
      w[0],
      /^cache: tree@test \(key [0-9a-f]{64}\): upload to .* failed: .*hello\.txt: content differs from the store's manifest \(run deno task verify\)$/,
    );
    assert.equal(push!.stats.pushed, 1, "top went up, tree did not");
    const acs = [...Deno.readDirSync(join(server.data, "ac"))].map((e) => e.name);
    assert.deepEqual(acs, [b.results.get("top")!.key]);
  } finally {
    await server.stop();
    await p.cleanup();
  }
});
