import assert from "node:assert/strict";
import { join } from "node:path";
import { fetchIndex, INDEX_FILE, SIG_FILE } from "../../lib/ice-pkg/repo.ts";
import { loadTrustedKeys } from "../../lib/ice-pkg/keys.ts";
import { buildRepo } from "../../lib/ice-pkg/repo.ts";
import { cli, fixture, withTempDir } from "./_helpers.ts";

const hello = { meta: { name: "hello" }, files: { "usr/bin/hello": "hi\n" } };

/** Serve `dir` on 127.0.0.1 (a random port) for the duration of `fn`. */
async function serve<T>(dir: string, fn: (url: string) => Promise<T>): Promise<T> {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const path = decodeURIComponent(new URL(req.url).pathname);
    try {
      return new Response(await Deno.readFile(join(dir, path)));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  try {
    return await fn(`http://127.0.0.1:${server.addr.port}/repo`);
  } finally {
    await server.shutdown();
  }
}

Deno.test("install works from a repository served over HTTP", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello]);
    Deno.writeTextFileSync(join(f.root, "etc/icenet/repositories"), "");
    await serve(dir, async (url) => {
      const r = await cli(f.root, "--repo", url, "install", "hello");
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /Installing hello \(1\.0-r0\)/);
      assert.match(r.out, /OK: 0\.0 MiB in 1 packages/);
    });
    assert.equal(Deno.readTextFileSync(join(f.root, "usr/bin/hello")), "hi\n");
  });
});

Deno.test("fetchIndex() refuses insecure indexes unless allowed", async (t) => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello]);
    const keys = await loadTrustedKeys(join(f.root, "etc/icenet/keys"));
    const good = await fetchIndex(f.repo, { keys });
    assert.equal(good.index.serial, 1);
    const indexPath = join(f.repo, INDEX_FILE);
    const sigPath = join(f.repo, SIG_FILE);
    const original = Deno.readFileSync(indexPath);
    const originalSig = Deno.readFileSync(sigPath);
    const cases: [
      string,
      () => Promise<{ previous?: { serial: number; sha256: string } }>,
      RegExp,
    ][] = [
      ["unsigned", () => {
        Deno.removeSync(sigPath);
        return Promise.resolve({});
      }, /unsigned index .*pass --allow-insecure/],
      ["bad signature", () => {
        const text = new TextDecoder().decode(original).replace('"serial": 1', '"serial": 9');
        Deno.writeTextFileSync(indexPath, text);
        return Promise.resolve({});
      }, /bad signature \(pass --allow-insecure/],
      ["unknown key", async () => {
        const other = await import("../../lib/ice-pkg/keys.ts").then((m) => m.generateKeyFiles());
        await buildRepo({
          packages: [],
          outDir: join(dir, "other"),
          privateKey: other.privateFile,
        });
        Deno.copyFileSync(join(dir, "other", INDEX_FILE), indexPath);
        Deno.copyFileSync(join(dir, "other", SIG_FILE), sigPath);
        return {};
      }, /not in the trusted keys \(pass --allow-insecure/],
      [
        "expired",
        async () => {
          await buildRepo({
            packages: [],
            outDir: f.repo,
            privateKey: f.key,
            created: new Date("2020-01-01T00:00:00Z"),
          });
          return {};
        },
        /INDEX\.json: expired at 2020-01-31T00:00:00\.000Z; the clock says .*\(pass --allow-expired/,
      ],
      [
        "older serial",
        () => Promise.resolve({ previous: { serial: 5, sha256: "x" } }),
        /serial 1 is older than the serial 5 seen before/,
      ],
      [
        "same serial, other content",
        () => Promise.resolve({ previous: { serial: 1, sha256: "x" } }),
        /serial 1 reused with different content/,
      ],
    ];
    for (const [name, setup, re] of cases) {
      await t.step(name, async () => {
        Deno.writeFileSync(indexPath, original);
        Deno.writeFileSync(sigPath, originalSig);
        const extra = await setup();
        await assert.rejects(fetchIndex(f.repo, { keys, ...extra }), re);
        const warnings: string[] = [];
        await fetchIndex(f.repo, {
          keys,
          ...extra,
          allowInsecure: true,
          warn: (w) => warnings.push(w),
        });
        // --allow-insecure covers everything --allow-expired does.
        assert.match(warnings.join("\n"), /accepted because of --allow-(insecure|expired)/);
      });
    }
  });
});

Deno.test("update refuses a replayed (older) index and keeps the newer one", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello]);
    const old = Deno.readFileSync(join(f.repo, INDEX_FILE));
    const oldSig = Deno.readFileSync(join(f.repo, SIG_FILE));
    await f.publish([{
      meta: { name: "hello", version: "2.0" },
      files: { "usr/bin/hello": "v2\n" },
    }]);
    assert.equal((await cli(f.root, "update")).code, 0);
    Deno.writeFileSync(join(f.repo, INDEX_FILE), old);
    Deno.writeFileSync(join(f.repo, SIG_FILE), oldSig);
    const r = await cli(f.root, "update");
    assert.equal(r.code, 4);
    assert.match(r.err, /serial 1 is older than the serial 2 seen before .*--allow-insecure/);
    const i = await cli(f.root, "install", "hello");
    assert.equal(i.code, 0, i.err);
    assert.match(i.out, /Installing hello \(2\.0-r0\)/);
  });
});

Deno.test("install refuses a package whose sha256 differs from the index", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello]);
    const file = join(f.repo, "hello-1.0-r0.ice");
    const bytes = Deno.readFileSync(file);
    bytes[bytes.length - 30] ^= 1;
    Deno.writeFileSync(file, bytes);
    const r = await cli(f.root, "install", "hello");
    assert.equal(r.code, 4);
    assert.match(
      r.err,
      /hello-1\.0-r0: downloaded hello-1\.0-r0\.ice has sha256 [0-9a-f]{64} .* the index says/,
    );
    assert.throws(() => Deno.statSync(join(f.root, "usr")));
  });
});

Deno.test("install refuses a hostile package from a signed repository and writes nothing", async () => {
  const { writeTar } = await import("../../lib/ice-pkg/format/tar.ts");
  const { xzCompress } = await import("../../lib/ice-pkg/format/xz.ts");
  const { signBytes } = await import("../../lib/ice-pkg/keys.ts");
  const { sha256Hex } = await import("../../lib/ice-pkg/hash.ts");
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello]);
    const data = new TextEncoder().encode("owned\n");
    const meta = {
      format: 1,
      name: "hello",
      version: "1.0",
      release: 0,
      arch: "noarch",
      installedSize: data.length,
      files: [{
        path: "../evil",
        type: "file",
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: data.length,
        sha256: await sha256Hex(data),
      }],
    };
    const bytes = await xzCompress(writeTar([
      {
        path: ".ice-meta.json",
        type: "file",
        mode: 0o644,
        data: new TextEncoder().encode(JSON.stringify(meta)),
      },
      { path: "../evil", type: "file", mode: 0o644, data },
    ]));
    // A compromised signing key: the index vouches for the hostile package.
    Deno.writeFileSync(join(f.repo, "hello-1.0-r0.ice"), bytes);
    const index = JSON.parse(Deno.readTextFileSync(join(f.repo, INDEX_FILE)));
    index.packages[0].sha256 = await sha256Hex(bytes);
    index.packages[0].size = bytes.length;
    const text = new TextEncoder().encode(JSON.stringify(index));
    Deno.writeFileSync(join(f.repo, INDEX_FILE), text);
    Deno.writeTextFileSync(join(f.repo, SIG_FILE), JSON.stringify(await signBytes(f.key, text)));
    const r = await cli(f.root, "install", "hello");
    assert.equal(r.code, 4);
    assert.match(r.err, /hello-1\.0-r0\.ice: "\.\.\/evil": path leaves the root/);
    assert.throws(() => Deno.statSync(join(dir, "evil")));
    assert.throws(() => Deno.statSync(join(f.root, "usr")));
    assert.equal((await cli(f.root, "list")).out, "");
  });
});
