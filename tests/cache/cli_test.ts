/**
 * The cache through the real CLI (a child process over synthetic stages): `--cache`
 * and `--cache-push`, ICENET_CACHE, the summary line, `deno task cache stats`, refusals
 * of a bad configuration, and no credential in anything printed or kept.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { testProject } from "../foundation/_project.ts";
import { startNginx } from "./_nginx.ts";
import { keyFiles } from "./_setup.ts";

const cliProc = new URL("../foundation/_cli_proc.ts", import.meta.url).pathname;
const cacheTask = new URL("../../bin/cache.ts", import.meta.url).pathname;

/**
 * Run a script with only `env` and what Deno needs to find its caches (no ICENET_*
 * variable of the developer's leaks in).
 */
async function run(script: string, args: string[], env: Record<string, string>) {
  const keep = Object.fromEntries(
    ["HOME", "DENO_DIR", "XDG_CACHE_HOME"].flatMap((n) => {
      const v = Deno.env.get(n);
      return v === undefined ? [] : [[n, v]];
    }),
  );
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...args],
    env: { NO_COLOR: "1", ...keep, ...env },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

Deno.test("cli: --cache-push fills a cache, ICENET_CACHE fetches from it; summary and cache stats", async () => {
  const p = await testProject();
  const server = await startNginx();
  try {
    const k = await keyFiles(p.root, "ci");
    const base = { PATH: Deno.env.get("PATH")! };
    const a = await run(cliProc, [
      p.root,
      "build",
      "top",
      "--board",
      "test",
      "--cache",
      server.url,
      "--cache-push",
    ], { ...base, ICENET_HOME: join(p.root, "store-a"), ICENET_CACHE_SIGNING_KEY: k.priv });
    assert.equal(a.code, 0, a.err);
    assert.match(a.err, /fast@test +built/);
    const up = a.err.match(
      /cache: 0 hits, 2 misses, 0 B down, ([\d.]+ (?:B|KiB)) up, 2 results uploaded/,
    );
    assert.ok(up, a.err);

    const statsA = await run(cacheTask, ["stats"], {
      ...base,
      ICENET_HOME: join(p.root, "store-a"),
    });
    assert.equal(statsA.code, 0, statsA.err);
    assert.match(statsA.out, /^hits: 0$/m);
    assert.match(statsA.out, /^misses: 2$/m);
    assert.match(statsA.out, /^bytes down: 0$/m);
    assert.match(statsA.out, /^bytes up: [1-9]\d*$/m);
    assert.match(statsA.out, /^results uploaded: 2$/m);

    const b = await run(cliProc, [p.root, "build", "top", "--board", "test"], {
      ...base,
      ICENET_HOME: join(p.root, "store-b"),
      ICENET_CACHE: server.url,
      ICENET_CACHE_KEYS: k.pub,
    });
    assert.equal(b.code, 0, b.err);
    assert.match(b.err, /fast@test +fetched/);
    assert.match(b.err, /top@test +fetched/);
    assert.match(b.err, /cache: 2 hits, 0 misses, [\d.]+ (B|KiB) down, 0 B up\n/);
    const statsB = await run(cacheTask, ["stats", "--json"], {
      ...base,
      ICENET_HOME: join(p.root, "store-b"),
    });
    const j = JSON.parse(statsB.out);
    assert.equal(j.hits, 2);
    assert.equal(j.misses, 0);
    assert.ok(j.bytesDown > 0);
    assert.deepEqual(j.urls, [server.url]);
  } finally {
    await server.stop();
    await p.cleanup();
  }
});

Deno.test("cli: a bad cache configuration is refused before anything builds", async (t) => {
  const p = await testProject();
  const base = { PATH: Deno.env.get("PATH")!, ICENET_HOME: join(p.root, "s") };
  const rows: [string, string[], Record<string, string>, RegExp][] = [
    ["--cache-push without a cache", ["--cache-push"], {}, /--cache-push needs a cache/],
    [
      "--cache-push without a signing key",
      ["--cache", "http://127.0.0.1:9/c", "--cache-push"],
      {},
      /--cache-push needs ICENET_CACHE_SIGNING_KEY/,
    ],
    [
      "a URL of another scheme",
      ["--cache", "ftp://host/c"],
      {},
      /cache URL ftp:\/\/host\/c: use http/,
    ],
    ["an unreadable trusted key", ["--cache", "file:///nonexistent"], {
      ICENET_CACHE_KEYS: "/nonexistent.pub",
    }, /ICENET_CACHE_KEYS: \/nonexistent\.pub/],
    ["token and basic auth", ["--cache", "http://127.0.0.1:9/c"], {
      ICENET_CACHE_TOKEN: "t",
      ICENET_CACHE_AUTH: "u:p",
    }, /set ICENET_CACHE_TOKEN or ICENET_CACHE_AUTH, not both/],
  ];
  try {
    for (const [name, flags, env, err] of rows) {
      await t.step(name, async () => {
        const r = await run(cliProc, [p.root, "build", "top", "--board", "test", ...flags], {
          ...base,
          ...env,
        });
        assert.equal(r.code, 2, r.err);
        assert.match(r.err, err);
        assert.doesNotMatch(r.err, /fast@test/);
      });
    }
  } finally {
    await p.cleanup();
  }
});

Deno.test("cli: credentials refused or unreachable appear nowhere in output or store", async () => {
  const p = await testProject();
  const server = await startNginx({ bearer: "the-right-token" });
  const secret = "wrong-token-5d1c7e";
  const password = "pw-0a9f3c21";
  try {
    const base = { PATH: Deno.env.get("PATH")!, ICENET_HOME: join(p.root, "s") };
    const denied = await run(cliProc, [p.root, "build", "top", "--board", "test"], {
      ...base,
      ICENET_CACHE: server.url,
      ICENET_CACHE_TOKEN: secret,
    });
    assert.equal(denied.code, 0, denied.err);
    assert.match(denied.err, /cache: http:\/\/127\.0\.0\.1:\d+\/cache unreachable \(.*HTTP 401/);
    // Credentials in the URL, and a server that is not there.
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    const gone = await run(cliProc, [p.root, "build", "top", "--board", "test"], {
      ...base,
      ICENET_HOME: join(p.root, "s2"),
      ICENET_CACHE: `http://ci:${password}@127.0.0.1:${port}/cache`,
    });
    assert.equal(gone.code, 0, gone.err);
    assert.match(gone.err, new RegExp(`cache: http://127\\.0\\.0\\.1:${port}/cache unreachable`));
    const printed = denied.out + denied.err + gone.out + gone.err;
    for (const s of [secret, password, btoa(`ci:${password}`)]) {
      assert.ok(!printed.includes(s), `${s} printed`);
    }
    const grep = await new Deno.Command("grep", {
      args: ["-rlF", "-e", secret, "-e", password, join(p.root, "s"), join(p.root, "s2")],
    }).output();
    assert.equal(new TextDecoder().decode(grep.stdout), "", "nothing in the store holds them");
  } finally {
    await server.stop();
    await p.cleanup();
  }
});
