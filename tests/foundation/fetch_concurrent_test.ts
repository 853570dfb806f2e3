/**
 * Two builds on one empty store that need the same Debian source at the same time
 * (as kernel and kernel-headers do on a first build): both succeed, the private apt
 * lists are updated once and the package is downloaded once. Uses Debian's archive.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { testProject } from "./_project.ts";

const CHILD = new URL("./_fetch_proc.ts", import.meta.url).pathname;

Deno.test("concurrent builds on an empty store fetch a shared Debian source once", async () => {
  const p = await testProject();
  const storeDir = join(p.root, "store"), dl = join(p.root, "sources");
  const run = (tag: string) =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CHILD, p.root, storeDir, dl, tag],
      stdout: "piped",
      stderr: "piped",
    }).output();
  const outs = await Promise.all([run("1"), run("2")]);
  for (const o of outs) {
    const text = new TextDecoder().decode(o.stdout);
    assert.equal(o.code, 0, new TextDecoder().decode(o.stderr));
    assert.deepEqual(JSON.parse(text.trim().split("\n").pop()!), { ok: true, errors: [] });
  }
  let logs = "";
  for (const e of Deno.readDirSync(join(storeDir, "logs"))) {
    logs += Deno.readTextFileSync(join(storeDir, "logs", e.name));
  }
  const count = (re: RegExp) => logs.split("\n").filter((l) => re.test(l)).length;
  assert.equal(count(/debian: apt-get update \(private/), 1, logs);
  assert.equal(count(/debian: apt-get download libgcc-s1/), 1, logs);
  assert.equal(count(/^fetched libgcc-s1_/), 1, logs);
  assert.deepEqual(
    [...Deno.readDirSync(dl)].map((e) => e.name).filter((n) => !n.startsWith(".")),
    ["libgcc-s1_12.2.0-14+deb12u1_arm64.deb"],
  );
  await p.cleanup();
});
