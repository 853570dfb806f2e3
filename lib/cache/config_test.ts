import assert from "node:assert/strict";
import { join } from "node:path";
import { generateKeyFiles } from "../ice-pkg/keys.ts";
import { CacheConfigError, cacheFromConfig } from "./config.ts";

const env = (vars: Record<string, string>) => ({ get: (n: string) => vars[n] });

Deno.test("cacheFromConfig() reads flags before the environment, and refuses a bad set-up", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const k = await generateKeyFiles();
    await Deno.writeTextFile(join(dir, "ci.key"), k.privateFile);
    await Deno.writeTextFile(join(dir, "ci.pub"), k.publicLine);
    const warnings: string[] = [];
    const warn = (m: string) => warnings.push(m);
    await t.step("nothing configured: no cache", async () => {
      assert.equal(await cacheFromConfig({}, warn, env({})), undefined);
    });
    await t.step("--cache wins over ICENET_CACHE; a signing key is trusted too", async () => {
      const c = await cacheFromConfig(
        { cache: "file:///a, http://u:p@h:1/b/" },
        warn,
        env({ ICENET_CACHE: "http://other", ICENET_CACHE_SIGNING_KEY: join(dir, "ci.key") }),
      );
      assert.deepEqual(c!.stats.urls, ["file:///a", "http://h:1/b"]);
      assert.equal(c!.pushing, false);
      assert.ok(c!.opts.trusted.has(k.keyId));
      assert.deepEqual(warnings, []);
    });
    await t.step("ICENET_CACHE_PUSH=1 with a signing key pushes", async () => {
      const c = await cacheFromConfig(
        {},
        warn,
        env({
          ICENET_CACHE: "file:///a",
          ICENET_CACHE_PUSH: "1",
          ICENET_CACHE_SIGNING_KEY: join(dir, "ci.key"),
        }),
      );
      assert.equal(c!.pushing, true);
    });
    await t.step("no trusted key: said at once", async () => {
      await cacheFromConfig({}, warn, env({ ICENET_CACHE: "file:///a" }));
      assert.match(warnings.pop()!, /no trusted keys .*every cached result will be a miss/);
    });
    const bad: [string, Record<string, string>, RegExp][] = [
      ["a timeout of 0", { ICENET_CACHE_TIMEOUT: "0" }, /ICENET_CACHE_TIMEOUT must be seconds > 0/],
      ["basic auth without a colon", { ICENET_CACHE_AUTH: "user" }, /must be user:password/],
      ["a key directory that is not there", { ICENET_CACHE_KEYS: "/nonexistent" }, /nonexistent/],
    ];
    for (const [name, vars, err] of bad) {
      await t.step(name, async () => {
        await assert.rejects(
          cacheFromConfig({}, warn, env({ ICENET_CACHE: "file:///a", ...vars })),
          (e: Error) => e instanceof CacheConfigError && err.test(e.message),
        );
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
