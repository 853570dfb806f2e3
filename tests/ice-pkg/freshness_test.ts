/**
 * Freeze protection: an expired, future-dated or overlong index is refused by every
 * command that reads it (not only `update`), the message gives the dates and names
 * --allow-expired, which lets a recovery go ahead with a warning.
 */
import assert from "node:assert/strict";
import { cli, fixture, withTempDir } from "./_helpers.ts";
import { checkIndexTimes } from "../../lib/ice-pkg/freshness.ts";
import { parseAdjtimex } from "../../lib/ice-pkg/clock.ts";

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

Deno.test("a refusal says when the clock is not synchronised", () => {
  const now = new Date("1970-01-01T00:01:00Z");
  const index = { created: "2026-12-01T00:00:00Z", expires: "2026-12-31T00:00:00Z" };
  const refused = (synced: boolean | undefined) => {
    try {
      checkIndexTimes(index, "repo/INDEX.json", { now, clockSynchronised: () => synced });
    } catch (e) {
      return (e as Error).message;
    }
    return "accepted";
  };
  assert.match(
    refused(false),
    /^repo\/INDEX\.json: created at 2026-12-01T00:00:00Z, in the future: the clock says 1970-01-01T00:01:00\.000Z and is not synchronised \(no time server has answered since boot.*wait for NTP .*\(pass --allow-expired to use it anyway\)$/,
  );
  assert.doesNotMatch(refused(true), /synchronised/);
  assert.doesNotMatch(refused(undefined), /synchronised/);
});

Deno.test("parseAdjtimex() reads the kernel's NTP state from busybox adjtimex", async (t) => {
  // Captured from Debian's busybox-static 1.35 adjtimex on an unsynchronised host.
  const unsynced = `    mode:         0
-o  offset:       0 us
-f  freq.adjust:  0 (65536 = 1ppm)
    maxerror:     16000000
    esterror:     16000000
    status:       64 (UNSYNC)
-p  timeconstant: 2
    precision:    1 us
    tolerance:    32768000
-t  tick:         10000 us
    time.tv_sec:  1796426481
    time.tv_usec: 192428
    return value: 5 (clock not synchronized)
`;
  const cases: [string, string, boolean | undefined][] = [
    ["booted, nobody set it", unsynced, false],
    // chrony without rtcsync keeps STA_UNSYNC but keeps maxerror low while synchronised.
    [
      "chrony synchronised",
      unsynced.replace("maxerror:     16000000", "maxerror:     52000"),
      true,
    ],
    [
      "flag cleared (rtcsync, ntpd)",
      unsynced.replace("status:       64 (UNSYNC)", "status:       1 (PLL)"),
      true,
    ],
    ["not adjtimex output", "adjtimex: applet not found\n", undefined],
  ];
  for (const [name, text, want] of cases) {
    await t.step(name, () => assert.equal(parseAdjtimex(text), want));
  }
});
