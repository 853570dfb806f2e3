/** lib/registry.ts: every module under tasks/ is a stage module; arches pick the boards. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadStages, ROOT } from "../../lib/registry.ts";
import { testProject } from "./_project.ts";

const STAGE = (name: string, extra = "") =>
  `import { defineStage } from "${join(ROOT, "lib/stage.ts")}";
export default defineStage({ name: "${name}", ${extra} async run() {} });
`;

Deno.test("loadStages() takes every tasks/ module and keeps the stages of the board's arch", async () => {
  const p = await testProject({
    "tasks/everywhere.ts": STAGE("everywhere"),
    "tasks/pc.ts": STAGE("pc", `arches: ["x86_64"],`),
    "tasks/pi.ts": STAGE("pi", `arches: ["aarch64", "armv7"],`),
  });
  try {
    const names = (await loadStages(p.board, p.root)).map((s) => s.name);
    assert.deepEqual(names, ["everywhere", "pc"]); // the test board is zima's: x86_64
    const arm = { ...p.board, arch: "armv7" as const };
    assert.deepEqual((await loadStages(arm, p.root)).map((s) => s.name), ["everywhere", "pi"]);
  } finally {
    await p.cleanup();
  }
});

Deno.test("tasks/ holds stages only: lib/ imports nothing from it", async () => {
  const offenders: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = join(dir, e.name);
      if (e.isDirectory) await walk(path);
      else if (e.name.endsWith(".ts")) {
        const text = await Deno.readTextFile(path);
        if (/from "(\.\.\/)+tasks\/|import\("(\.\.\/)+tasks\//.test(text)) offenders.push(path);
      }
    }
  };
  await walk(join(ROOT, "lib"));
  assert.deepEqual(offenders, []);
  for await (const e of Deno.readDir(join(ROOT, "tasks"))) {
    if (!e.isFile || !e.name.endsWith(".ts")) continue;
    const text = await Deno.readTextFile(join(ROOT, "tasks", e.name));
    // The registry's contract: a stage module's default export is its stage(s).
    assert.match(text, /^export default /m, `tasks/${e.name} exports no stage`);
  }
});
