import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256 } from "../../lib/hash.ts";
import { fetchSource, HashMismatchError } from "../../lib/fetch/mod.ts";
import { hostSources, privateSources, withPrivateApt } from "../../lib/fetch/debian.ts";

const payload = new TextEncoder().encode("icenet source payload\n".repeat(1000));
const good = sha256(payload);

async function dirs() {
  const base = await Deno.makeTempDir({ prefix: "icenet-fetch-" });
  const dl = join(base, "dl"), mirror = join(base, "mirror");
  await Deno.mkdir(mirror);
  return { base, dl, mirror, opts: { downloadDir: dl, storeDir: join(base, "store") } };
}

Deno.test("fetchSource() takes a file from a local mirror directory and verifies it", async () => {
  const d = await dirs();
  await Deno.writeFile(join(d.mirror, "pkg-1.0.tar.gz"), payload);
  const src = { url: "http://127.0.0.1:9/pkg-1.0.tar.gz", sha256: good };
  const path = await fetchSource(src, { ...d.opts, mirrors: [d.mirror], offline: true });
  assert.equal(path, join(d.dl, "pkg-1.0.tar.gz"));
  assert.deepEqual(await Deno.readFile(path), payload);
  // Second time: served from the download dir, the mirror is not needed.
  await Deno.remove(join(d.mirror, "pkg-1.0.tar.gz"));
  assert.equal(await fetchSource(src, { ...d.opts, offline: true }), path);
  await Deno.remove(d.base, { recursive: true });
});

Deno.test("fetchSource() downloads from an HTTP server on loopback", async () => {
  const d = await dirs();
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    (req) =>
      new URL(req.url).pathname === "/dist/pkg-2.0.tar.xz"
        ? new Response(payload)
        : new Response("no", { status: 404 }),
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  await t_fetch(`${base}/dist/pkg-2.0.tar.xz`, d);
  // Through a mirror URL: the upstream is dead, the mirror has it under the file name.
  const d2 = await dirs();
  const path = await fetchSource(
    { url: "http://127.0.0.1:9/gone/pkg-2.0.tar.xz", sha256: good },
    { ...d2.opts, mirrors: [`${base}/dist`] },
  );
  assert.deepEqual(await Deno.readFile(path), payload);
  ac.abort();
  await server.finished;
  await Deno.remove(d.base, { recursive: true });
  await Deno.remove(d2.base, { recursive: true });
});

async function t_fetch(url: string, d: Awaited<ReturnType<typeof dirs>>) {
  const path = await fetchSource({ url, sha256: good }, d.opts);
  assert.deepEqual(await Deno.readFile(path), payload);
}

Deno.test("fetchSource() refuses a sha256 mismatch, names both hashes and keeps nothing", async () => {
  const d = await dirs();
  await Deno.writeFile(join(d.mirror, "evil.tar.gz"), new TextEncoder().encode("tampered"));
  const src = { url: "http://127.0.0.1:9/evil.tar.gz", sha256: good };
  const err = await fetchSource(src, { ...d.opts, mirrors: [d.mirror], offline: true }).catch((e) =>
    e
  );
  assert.ok(err instanceof HashMismatchError);
  assert.match(err.message, new RegExp(`expected ${good}, got ${sha256("tampered")}`));
  assert.deepEqual([...Deno.readDirSync(d.dl)].filter((e) => e.name !== ".locks"), []);
  await Deno.remove(d.base, { recursive: true });
});

Deno.test("fetchSource() names every place it tried when nothing has the file", async () => {
  const d = await dirs();
  const err = await fetchSource({ url: "http://127.0.0.1:9/none.tar", sha256: good }, d.opts).catch(
    (e) => e,
  );
  assert.match(
    err.message,
    /^cannot fetch none\.tar \(sha256 [0-9a-f]{64}\):\n {2}http:\/\/127\.0\.0\.1:9\/none\.tar: unreachable/,
  );
  await Deno.remove(d.base, { recursive: true });
});

Deno.test("hostSources() reads deb822 and one-line apt sources", async () => {
  const etc = await Deno.makeTempDir();
  await Deno.mkdir(join(etc, "sources.list.d"));
  await Deno.writeTextFile(
    join(etc, "sources.list"),
    "deb [signed-by=/k.gpg] http://example.invalid/debian bookworm main\n",
  );
  await Deno.writeTextFile(
    join(etc, "sources.list.d", "x.sources"),
    "Types: deb\nURIs: http://example.invalid/sec\nSuites: bookworm-security\nComponents: main\n\nTypes: deb\nEnabled: no\nURIs: http://off.invalid\nSuites: x\n",
  );
  assert.deepEqual(hostSources(etc), [
    { uris: "http://example.invalid/debian", suites: "bookworm", signedBy: "/k.gpg" },
    { uris: "http://example.invalid/sec", suites: "bookworm-security", signedBy: undefined },
  ]);
  await Deno.remove(etc, { recursive: true });
});

Deno.test("privateSources() adds the release's backports suite from the same archive", async (t) => {
  const rows: [string, string, string][] = [
    ["a release", "bookworm", "bookworm bookworm-backports"],
    [
      "a release and its updates",
      "bookworm bookworm-updates",
      "bookworm bookworm-updates bookworm-backports",
    ],
    ["backports already there", "bookworm bookworm-backports", "bookworm bookworm-backports"],
    ["security pocket only", "bookworm-security", "bookworm-security"],
    ["sid has none", "sid", "sid"],
    ["old security layout", "bookworm/updates", "bookworm/updates"],
  ];
  for (const [name, suites, want] of rows) {
    await t.step(name, () => {
      const text = privateSources([{ uris: "http://example.invalid/debian", suites }]);
      assert.match(text, new RegExp(`^Suites: ${want}$`, "m"));
    });
  }
  await t.step("every stanza keeps its archive and key, with deb-src and our components", () => {
    const text = privateSources([
      { uris: "http://example.invalid/debian", suites: "bookworm", signedBy: "/k.gpg" },
      { uris: "http://example.invalid/sec", suites: "bookworm-security" },
    ]);
    assert.equal(
      text,
      "Types: deb deb-src\nURIs: http://example.invalid/debian\nSuites: bookworm bookworm-backports\n" +
        "Components: main non-free-firmware\nSigned-By: /k.gpg\n\n" +
        "Types: deb deb-src\nURIs: http://example.invalid/sec\nSuites: bookworm-security\n" +
        "Components: main non-free-firmware\n",
    );
  });
});

Deno.test("withPrivateApt() goes on when only some indexes fail (a mirror mid-sync), keeping no stamp", async () => {
  const base = await Deno.makeTempDir({ prefix: "icenet-apt-" });
  const etc = join(base, "etc"), repo = join(base, "repo");
  await Deno.mkdir(etc);
  // An archive on disk with one empty index (suite sid: no backports asked of it), and a
  // dead one beside it.
  const dist = join(repo, "dists", "sid");
  await Deno.mkdir(join(dist, "main", "binary-amd64"), { recursive: true });
  const index = "Package: icenet-test\nVersion: 1\nArchitecture: amd64\nFilename: x.deb\n" +
    "Size: 1\nSHA256: " + "0".repeat(64) + "\nDescription: test\n";
  await Deno.writeTextFile(join(dist, "main", "binary-amd64", "Packages"), index);
  await Deno.writeTextFile(
    join(dist, "Release"),
    `Suite: sid\nCodename: sid\nDate: ${new Date().toUTCString()}\n` +
      "Architectures: amd64\nComponents: main\n" +
      `SHA256:\n ${sha256(index)} ${index.length} main/binary-amd64/Packages\n`,
  );
  await Deno.writeTextFile(
    join(etc, "sources.list"),
    `deb [trusted=yes] file:${repo} sid main\ndeb [trusted=yes] http://127.0.0.1:9/debian bookworm main\n`,
  );
  const logged: string[] = [];
  const ran = await withPrivateApt(join(base, "store"), (l) => logged.push(l), () => {
    return Promise.resolve(true);
  }, etc);
  assert.equal(ran, true);
  assert.ok(
    logged.some((l) => /failed in part; going on .*127\.0\.0\.1/.test(l)),
    logged.join("\n"),
  );
  await assert.rejects(Deno.stat(join(base, "store", "apt", "state", "updated")));
  await Deno.remove(base, { recursive: true });
});

Deno.test("withPrivateApt() reports a failed apt-get update as such and keeps no stamp", async () => {
  const base = await Deno.makeTempDir({ prefix: "icenet-apt-" });
  const etc = join(base, "etc");
  await Deno.mkdir(etc);
  // A trusted but dead archive: the update fails, and must say so.
  await Deno.writeTextFile(
    join(etc, "sources.list"),
    "deb [trusted=yes] http://127.0.0.1:9/debian bookworm main\n",
  );
  const err: Error = await withPrivateApt(join(base, "store"), () => {}, () => {
    throw new Error("must not run");
  }, etc).then(() => new Error("no error"), (e) => e);
  assert.match(err.message, /^debian provider: apt-get update of the private apt configuration/);
  assert.match(err.message, /failed \(exit 100, 3 attempts\)/);
  assert.match(err.message, /127\.0\.0\.1/);
  await assert.rejects(Deno.stat(join(base, "store", "apt", "state", "updated")));
  await Deno.remove(base, { recursive: true });
});

Deno.test("fetchSource() takes a pinned .deb the indexes do not list from the archive's pool", async () => {
  const base = await Deno.makeTempDir({ prefix: "icenet-pool-" });
  const repo = join(base, "archive"), etc = join(base, "etc");
  await Deno.mkdir(etc);
  // An archive whose index lists nothing (a superseded security upload has left it),
  // while its pool still has the package, in the security archive's layout.
  const dist = join(repo, "dists", "sid", "main", "binary-amd64");
  await Deno.mkdir(dist, { recursive: true });
  await Deno.writeTextFile(join(dist, "Packages"), "");
  await Deno.writeTextFile(
    join(repo, "dists", "sid", "Release"),
    `Suite: sid\nCodename: sid\nDate: ${new Date().toUTCString()}\n` +
      "Architectures: amd64\nComponents: main\n" +
      `SHA256:\n ${sha256(new Uint8Array())} 0 main/binary-amd64/Packages\n`,
  );
  const pkg = join(base, "pkg");
  await Deno.mkdir(join(pkg, "DEBIAN"), { recursive: true });
  await Deno.mkdir(join(pkg, "usr/share/icenet-test"), { recursive: true });
  await Deno.writeFile(join(pkg, "usr/share/icenet-test/payload"), payload);
  await Deno.writeTextFile(
    join(pkg, "DEBIAN/control"),
    "Package: icenet-test\nVersion: 2\nArchitecture: all\nMaintainer: t <t@example.invalid>\n" +
      "Description: test\n",
  );
  const pool = join(repo, "pool/updates/main/i/icenet-test");
  await Deno.mkdir(pool, { recursive: true });
  const built = await new Deno.Command("dpkg-deb", {
    args: ["--build", pkg, join(pool, "icenet-test_2_all.deb")],
    stdout: "null",
  }).output();
  assert.equal(built.code, 0);
  const served: string[] = [];
  await using server = Deno.serve({ port: 0, hostname: "127.0.0.1", onListen() {} }, async (r) => {
    const path = decodeURIComponent(new URL(r.url).pathname);
    served.push(path);
    try {
      return new Response(await Deno.readFile(join(repo, path)));
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  await Deno.writeTextFile(
    join(etc, "sources.list"),
    `deb [trusted=yes] http://127.0.0.1:${server.addr.port}/ sid main\n`,
  );
  const logged: string[] = [];
  const path = await fetchSource({
    url: "debian:pool/main/i/icenet-test/icenet-test_2_all.deb",
    filename: "payload",
    sha256: good,
    debian: { package: "icenet-test", version: "2", member: "usr/share/icenet-test/payload" },
  }, {
    downloadDir: join(base, "dl"),
    storeDir: join(base, "store"),
    aptEtc: etc,
    log: (l) => logged.push(l),
  });
  assert.deepEqual(await Deno.readFile(path), payload);
  assert.ok(served.includes("/pool/main/i/icenet-test/icenet-test_2_all.deb"), served.join(" "));
  assert.ok(
    logged.some((l) => /^fetched payload from debian pool http:.*pool\/updates\/main\//.test(l)),
    logged.join("\n"),
  );
  await Deno.remove(base, { recursive: true });
});
