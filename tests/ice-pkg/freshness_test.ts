/**
 * Freeze protection: an expired, future-dated or overlong index is refused by every
 * command that reads it (not only `update`), the message gives the dates and names
 * --allow-expired, which lets a recovery go ahead with a warning.
 */
import assert from "node:assert/strict";
import { cli, fixture, withTempDir } from "./_helpers.ts";

const hello = { meta: { name: "hello" }, files: { "usr/bin/hello": "hi\n" } };
const DAY = 86400_000;

Deno.test("an index that expires after update is refused by install, upgrade, search", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello]);
    const created = new Date();
    const expires = new Date(created.getTime() + 2500);
    await f.publish([{ meta: { name: "hello", version: "2.0" }, files: {} }], { created, expires });
    assert.equal((await cli(f.root, "update")).code, 0);
    await new Promise((r) => setTimeout(r, expires.getTime() - Date.now() + 200));
    for (const args of [["install", "hello"], ["upgrade"], ["search", "hello"]]) {
      const r = await cli(f.root, ...args);
      assert.equal(r.code, 4, `${args}: ${r.out} ${r.err}`);
      assert.match(
        r.err,
        new RegExp(
          `INDEX\\.json: expired at ${expires.toISOString()}; the clock says 20\\d\\d-.*pass --allow-expired`,
        ),
      );
    }
    const ok = await cli(f.root, "--allow-expired", "install", "hello");
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.err, /WARNING: .*expired at .*accepted because of --allow-expired/);
    assert.match(ok.out, /Installing hello \(2\.0-r0\)/);
  });
});

Deno.test("an index created in the future or valid for a century is refused", async (t) => {
  const cases: [string, () => { created: Date; expires: Date }, RegExp][] = [
    ["created tomorrow", () => {
      const created = new Date(Date.now() + DAY);
      return { created, expires: new Date(created.getTime() + 30 * DAY) };
    }, /created at 20\S+, in the future: the clock says 20\S+ .*pass --allow-expired/],
    [
      "valid for 100 years",
      () => {
        const created = new Date();
        return { created, expires: new Date(created.getTime() + 36500 * DAY) };
      },
      /valid for 36500 days \(until 2\d\d\d-\S+\), more than the 3660 days allowed .*pass --allow-expired/,
    ],
    ["expires before it is created", () => {
      const created = new Date();
      return { created, expires: new Date(created.getTime() - DAY) };
    }, /expires .* before it is created/],
  ];
  for (const [name, dates, re] of cases) {
    await t.step(name, async () => {
      await withTempDir(async (dir) => {
        const f = await fixture(dir, [hello]);
        await f.publish([{ meta: { name: "hello", version: "2.0" }, files: {} }], dates());
        for (const args of [["update"], ["install", "hello"]]) {
          const r = await cli(f.root, ...args);
          assert.equal(r.code, 4, `${args}: ${r.err}`);
          assert.match(r.err, re);
        }
        const ok = await cli(f.root, "--allow-expired", "install", "hello");
        assert.equal(ok.code, 0, ok.err);
        assert.match(ok.err, /accepted because of --allow-expired/);
      });
    });
  }
});
