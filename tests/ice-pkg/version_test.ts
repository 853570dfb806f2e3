import assert from "node:assert/strict";
import { compareVersions } from "../../lib/ice-pkg/version.ts";
import { parseDep, satisfies } from "../../lib/ice-pkg/dep.ts";

Deno.test("compareVersions() orders versions like apk/dpkg", async (t) => {
  const cases: [string, string, number][] = [
    ["1.2.10", "1.2.9", 1],
    ["1.2.9", "1.2.10", -1],
    ["1.0", "1.0", 0],
    ["1.0-r2", "1.0-r1", 1],
    ["1.0-r10", "1.0-r9", 1],
    // dpkg: an absent revision sorts before any revision.
    ["1.0", "1.0-r0", -1],
    ["1.0-r0", "1.0-r00", 0],
    // "+" and "." are different characters: dpkg orders "+" first (issue 15).
    ["1.0+1", "1.0.1", -1],
    ["1.0+1", "1.0", 1],
    ["1.0a.1", "1.0a1", 1],
    ["1.0~rc1", "1.0_rc1", -1],
    ["1.0_rc1", "1.0", -1],
    ["1.0_alpha", "1.0_beta", -1],
    ["1.0_beta2", "1.0_beta10", -1],
    ["1.0_pre1", "1.0_rc1", -1],
    ["1.0_p1", "1.0", 1],
    ["1.0_p1", "1.0.1", -1],
    ["1.0~rc1", "1.0", -1],
    ["1.0~rc1", "1.0~rc2", -1],
    ["1.0a", "1.0", 1],
    ["1.0a", "1.0b", -1],
    ["1.0.1", "1.0", 1],
    ["2", "10", -1],
    ["1.2.3-r1", "1.2.10-r0", -1],
    ["20240101", "20231231", 1],
    ["1.0_git20240101", "1.0", 1],
    ["1.0_rc1-r5", "1.0-r0", -1],
  ];
  for (const [a, b, want] of cases) {
    await t.step(`${a} vs ${b}`, () => {
      assert.equal(compareVersions(a, b), want);
      assert.equal(compareVersions(b, a), -want || 0);
    });
  }
});

Deno.test("satisfies() checks each operator", async (t) => {
  const cases: [string, string, boolean][] = [
    ["foo", "1.0-r0", true],
    ["foo>=1.2", "1.2-r0", true],
    ["foo>=1.2", "1.1.9-r3", false],
    ["foo<=1.2", "1.2-r5", true],
    ["foo<=1.2-r1", "1.2-r5", false],
    ["foo<2", "1.99-r0", true],
    ["foo<2", "2-r0", false],
    ["foo>1.0", "1.0-r1", false],
    ["foo>1.0-r0", "1.0-r1", true],
    ["foo=1.0", "1.0-r3", true],
    ["foo=1.0-r3", "1.0-r2", false],
  ];
  for (const [expr, v, want] of cases) {
    await t.step(`${expr} ${v}`, () => assert.equal(satisfies(parseDep(expr), v), want));
  }
});

Deno.test("parseDep() rejects malformed expressions", async (t) => {
  const cases: [string, RegExp][] = [
    ["Foo>>1", /bad dependency "Foo>>1"/],
    // A "-" is only the release separator "-rN": anything else is refused, not ignored.
    ["foo>=1.0-2", /bad dependency "foo>=1\.0-2": "1\.0-2" is not a version/],
    ["foo=1.0-rc1", /bad dependency "foo=1\.0-rc1"/],
    ["foo<1..2", /bad dependency "foo<1\.\.2"/],
  ];
  for (const [expr, re] of cases) {
    await t.step(expr, () => assert.throws(() => parseDep(expr), re));
  }
  assert.deepEqual(parseDep("lib-a.b>=1.2_rc1-r2"), {
    name: "lib-a.b",
    op: ">=",
    version: "1.2_rc1-r2",
  });
});
