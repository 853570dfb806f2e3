import assert from "node:assert/strict";
import { type Candidate, resolve } from "../../lib/ice-pkg/solver.ts";
import { parseDep } from "../../lib/ice-pkg/dep.ts";

const c = (name: string, version: string, more: Partial<Candidate> = {}): Candidate => ({
  name,
  version,
  depends: [],
  provides: [],
  conflicts: [],
  installed: false,
  ...more,
});

const universe = [
  c("app", "1.0-r0", { depends: ["lib>=2", "sh"] }),
  c("lib", "1.0-r0"),
  c("lib", "2.0-r0", { installed: true }),
  c("lib", "3.0-r0"),
  c("busybox", "1.36-r0", { provides: ["sh=1.36"] }),
  c("dash", "0.5-r0", { provides: ["sh=0.5"] }),
  c("tool", "1.0-r0", { depends: ["sh>=1"] }),
  c("early", "1.0-r0", { depends: ["lib"] }),
  c("late", "1.0-r0", { depends: ["lib<3"] }),
];

Deno.test("resolve() picks versions by constraints, provides and preference", async (t) => {
  const cases: [string, string[], "installed" | "newest", string[]][] = [
    ["prefers the installed version", ["app"], "installed", [
      "app-1.0-r0",
      "busybox-1.36-r0",
      "lib-2.0-r0",
    ]],
    ["prefers the newest version", ["app"], "newest", [
      "app-1.0-r0",
      "busybox-1.36-r0",
      "lib-3.0-r0",
    ]],
    ["versioned provides", ["tool", "dash"], "newest", [
      "busybox-1.36-r0",
      "dash-0.5-r0",
      "tool-1.0-r0",
    ]],
    ["a later constraint re-picks an earlier choice", ["early", "late"], "newest", [
      "early-1.0-r0",
      "late-1.0-r0",
      "lib-2.0-r0",
    ]],
    ["an explicit version", ["lib=1.0"], "newest", ["lib-1.0-r0"]],
  ];
  for (const [name, req, prefer, want] of cases) {
    await t.step(name, () => {
      const got = resolve(req.map(parseDep), universe, { prefer });
      assert.deepEqual([...got.values()].map((x) => `${x.name}-${x.version}`).sort(), want);
    });
  }
});

Deno.test("resolve() names the failing chain", () => {
  assert.throws(
    () => resolve(["app", "lib<2"].map(parseDep), universe, { prefer: "newest" }),
    /unsatisfiable: world -> app-1\.0-r0 -> lib>=2 \(available: lib-1\.0-r0, lib-2\.0-r0, lib-3\.0-r0\); also required: world -> lib<2/,
  );
  assert.throws(
    () =>
      resolve([parseDep("x")], [
        c("x", "1-r0", { conflicts: ["y"], depends: ["y"] }),
        c("y", "1-r0"),
      ], { prefer: "newest" }),
    /conflict: x-1-r0 conflicts with y-1-r0 \(y\)/,
  );
});
