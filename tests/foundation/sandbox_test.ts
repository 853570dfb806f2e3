import assert from "node:assert/strict";
import { join } from "node:path";
import { SilentProgress } from "../../lib/progress.ts";
import { build } from "../../lib/runner.ts";
import { reader } from "./_sandbox_stage.ts";
import { testProject } from "./_project.ts";

Deno.test("--sandbox: a stage sees its declared inputs and fails on an undeclared file, naming it", async () => {
  const p = await testProject({ "declared.txt": "ok", "secret.txt": "undeclared" });
  const opts = {
    root: p.root,
    board: p.board,
    targets: ["reader"],
    store: p.store,
    progress: new SilentProgress(),
    sandbox: true,
  };
  const ok = await build({ ...opts, stages: [reader] });
  assert.ok(ok.ok, ok.results.get("reader")!.error);
  assert.equal(await Deno.readTextFile(join(ok.results.get("reader")!.out!, "copy")), "ok");
  const secret = join(p.root, "secret.txt");
  const sneaky = { ...reader, params: { sneak: secret } };
  const bad = await build({ ...opts, stages: [sneaky] });
  assert.equal(bad.ok, false);
  assert.match(
    bad.results.get("reader")!.error!,
    new RegExp(`No such file or directory.*${secret}`),
  );
  // Without the sandbox the undeclared read goes unnoticed: this is what --sandbox is for.
  const unsandboxed = await build({ ...opts, stages: [sneaky], sandbox: false });
  assert.ok(unsandboxed.ok);
  await p.cleanup();
});
