/** The C unit tests of init/ (service and boot.conf parsers, dependency graph), run through `make -C init check`. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ROOT } from "./_harness.ts";

Deno.test("make -C init check passes the C unit tests", async () => {
  const r = await new Deno.Command("make", { args: ["-s", "-C", join(ROOT, "init"), "check"] })
    .output();
  const out = new TextDecoder().decode(r.stdout) + new TextDecoder().decode(r.stderr);
  assert.equal(r.success, true, out);
  assert.match(out, /test_conf: \d+ checks, 0 failed/);
  assert.match(out, /test_graph: \d+ checks, 0 failed/);
  assert.match(out, /test_bootconf: \d+ checks, 0 failed/);
});
