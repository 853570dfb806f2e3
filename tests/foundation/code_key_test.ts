/**
 * A stage's key covers every module its defining module imports, directly or
 * transitively, and nothing else (lib/code_graph.ts): first on a small project of
 * real modules, then on a copy of this checkout with the case that once went stale
 * (ice-pkg's package writer made every .ice file but was in no package stage's key).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { loadBoard } from "../../lib/board.ts";
import { explain } from "../../lib/explain.ts";
import { KeyCaches, stageKey } from "../../lib/key.ts";
import { SilentProgress } from "../../lib/progress.ts";
import { build } from "../../lib/runner.ts";
import type { Stage } from "../../lib/stage.ts";
import { copyCheckout } from "../_checkout.ts";
import { testProject } from "./_project.ts";

const STAGE_API = new URL("../../lib/stage.ts", import.meta.url).href;
const ROOT = new URL("../..", import.meta.url).pathname;

/** Append a comment to a module: its content changes, its behaviour does not. */
function touch(path: string) {
  Deno.writeTextFileSync(path, "\n// edited by the test\n", { append: true });
}

Deno.test("stage key: imported modules count, others do not; explain names the module", async (t) => {
  const p = await testProject({
    "lib/b.ts": `export const b = "b";\n`,
    "lib/a.ts": `import { b } from "./b.ts";\nexport const a = () => "a" + b;\n`,
    "lib/types.ts": `export interface Shape { x: number }\n`,
    "lib/unrelated.ts": `export const u = 1;\n`,
    "lib/extra.ts": `export const extra = "x";\n`,
    "tasks/t.ts": [
      `import { defineStage } from "${STAGE_API}";`,
      `import { a } from "../lib/a.ts";`,
      `import type { Shape } from "../lib/types.ts";`,
      `const s: Shape = { x: 1 };`,
      `export default defineStage({ name: "t", async run({ out }) {`,
      `  await Deno.writeTextFile(out + "/x", a() + s.x);`,
      `} });`,
    ].join("\n") + "\n",
  });
  const mod = join(p.root, "tasks/t.ts");
  const stage: Stage = (await import(pathToFileURL(mod).href)).default;
  assert.equal(stage.module, mod);
  const key = async () => (await stageKey(stage, p.board, p.root, {}, new KeyCaches())).key;
  const k0 = await key();
  const built = await build({
    root: p.root,
    board: p.board,
    stages: [stage],
    targets: ["t"],
    store: p.store,
    progress: new SilentProgress(),
  });
  assert.ok(built.ok);

  await t.step("a module imported transitively changes the key", async () => {
    touch(join(p.root, "lib/b.ts"));
    assert.notEqual(await key(), k0);
  });
  await t.step("explain names the changed module", async () => {
    const e = await explain([stage], "t", p.board, p.root, p.store);
    assert.equal(e.rebuild, true);
    assert.equal(e.reasons.length, 1, e.reasons.join("\n"));
    assert.match(e.reasons[0], /^code:lib\/b\.ts changed: [0-9a-f]{12} -> [0-9a-f]{12}$/);
  });
  const k1 = await key();
  await t.step("a module nobody imports, or one imported for types only, does not", async () => {
    touch(join(p.root, "lib/unrelated.ts"));
    touch(join(p.root, "lib/types.ts"));
    assert.equal(await key(), k1);
  });
  await t.step("a new import enters the key, and so do later edits of it", async () => {
    p.write(
      "lib/a.ts",
      `import { b } from "./b.ts";\nimport { extra } from "./extra.ts";\n` +
        `export const a = () => "a" + b + extra;\n`,
    );
    const parts = (await stageKey(stage, p.board, p.root, {}, new KeyCaches())).parts;
    assert.ok("code:lib/extra.ts" in parts, Object.keys(parts).join(" "));
    const k2 = await key();
    touch(join(p.root, "lib/extra.ts"));
    assert.notEqual(await key(), k2);
  });
  await t.step("npm packages enter by resolved version", async () => {
    const parts = (await stageKey(stage, p.board, p.root, {}, new KeyCaches())).parts;
    // lib/stage.ts re-exports the stage shell, which runs on dax.
    assert.match(parts["npm:dax-sh"], /^\d+\.\d+\.\d+$/);
    // So do the environment and shell every run() gets.
    assert.ok(`code:${join(ROOT, "lib/stage_env.ts")}` in parts, Object.keys(parts).join(" "));
  });
  await p.cleanup();
});

Deno.test("stage key: on a copy of this checkout, ice-pkg's package code is in exactly the stages that run it", async () => {
  const copy = await copyCheckout();
  const { loadStages } = await import(pathToFileURL(join(copy, "lib/registry.ts")).href);
  const board = await loadBoard(copy, "rpi");
  const stages: Stage[] = await loadStages(board, copy);
  const byName = new Map(stages.map((s) => [s.name, s]));
  const keys = async () => {
    const caches = new KeyCaches();
    const out: Record<string, string> = {};
    for (const name of ["pkg:dropbear", "repo", "rootfs", "kernel", "image"]) {
      const s = byName.get(name)!;
      const deps = Object.fromEntries(s.needs.map((d) => [d, "0".repeat(64)]));
      out[name] = (await stageKey(s, board, copy, deps, caches)).key;
    }
    return out;
  };
  const before = await keys();
  // The writer of .ice files: the package stages and the repository run it, nothing else.
  touch(join(copy, "lib/ice-pkg/package_write.ts"));
  const written = await keys();
  for (const name of ["pkg:dropbear", "repo"]) {
    assert.notEqual(written[name], before[name], `${name} did not see package_write.ts`);
  }
  for (const name of ["kernel", "rootfs", "image"]) {
    assert.equal(written[name], before[name], `${name} does not write packages`);
  }
  // The reader: the rootfs installs packages with it, so it and the image change too.
  touch(join(copy, "lib/ice-pkg/package_read.ts"));
  const read = await keys();
  for (const name of ["pkg:dropbear", "repo", "rootfs", "image"]) {
    assert.notEqual(read[name], written[name], `${name} did not see package_read.ts`);
  }
  assert.equal(read.kernel, before.kernel, "the kernel does not run ice-pkg's code");
  touch(join(copy, "lib/qemu/shell.ts"));
  assert.deepEqual(await keys(), read, "no stage runs lib/qemu/shell.ts");
  // deno resolves npm specifiers from the config it finds from its working directory:
  // from elsewhere a graph once lost its npm packages, and the key changed with the cwd.
  const here = Deno.cwd();
  Deno.chdir("/");
  try {
    assert.deepEqual(await keys(), read, "the keys depend on the caller's directory");
    const dropbear = byName.get("pkg:dropbear")!;
    const deps = Object.fromEntries(dropbear.needs.map((d) => [d, "0".repeat(64)]));
    const { parts } = await stageKey(dropbear, board, copy, deps, new KeyCaches());
    assert.match(parts["npm:zod"] ?? "", /^\d+\.\d+\.\d+$/, Object.keys(parts).join(" "));
  } finally {
    Deno.chdir(here);
  }
  await Deno.remove(copy, { recursive: true });
});
