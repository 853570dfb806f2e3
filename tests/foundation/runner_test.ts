import assert from "node:assert/strict";
import { join } from "node:path";
import { build, planStages } from "../../lib/runner.ts";
import { SilentProgress } from "../../lib/progress.ts";
import { defineStage, type Stage } from "../../lib/stage.ts";
import { outcomes, testProject } from "./_project.ts";
import { loadBoard } from "../../lib/board.ts";

const quiet = () => new SilentProgress();

/** A stage that copies its input and its deps' files into its output. */
function copyStage(name: string, input: string, needs: string[] = []): Stage {
  return defineStage({
    name,
    needs,
    inputs: [input],
    async run({ out, inputs, deps }) {
      let text = await Deno.readTextFile(inputs[input]);
      for (const d of needs) text += await Deno.readTextFile(join(deps[d], "data"));
      await Deno.writeTextFile(join(out, "data"), text);
    },
  });
}

Deno.test("build() runs independent stages in parallel and dependents after", async () => {
  const p = await testProject();
  const spans: Record<string, [number, number]> = {};
  const sleeper = (name: string, needs: string[] = []) =>
    defineStage({
      name,
      needs,
      params: { name },
      async run({ out }) {
        const t0 = Date.now();
        await new Promise((r) => setTimeout(r, 300));
        spans[name] = [t0, Date.now()];
        await Deno.writeTextFile(join(out, "x"), name);
      },
    });
  const stages = [sleeper("a"), sleeper("b"), sleeper("c", ["a", "b"])];
  const r = await build({
    root: p.root,
    board: p.board,
    stages,
    targets: ["c"],
    store: p.store,
    jobs: 2,
    progress: quiet(),
  });
  assert.ok(r.ok);
  // a and b overlap in time; c starts after both ended.
  assert.ok(
    spans.a[0] < spans.b[1] && spans.b[0] < spans.a[1],
    `a ${spans.a} and b ${spans.b} overlap`,
  );
  assert.ok(spans.c[0] >= Math.max(spans.a[1], spans.b[1]));
  await p.cleanup();
});

Deno.test("build() reuses the store, and an input change rebuilds exactly its dependents", async () => {
  const p = await testProject({ "in/a.txt": "A", "in/b.txt": "B", "in/c.txt": "C" });
  const stages = [
    copyStage("a", "in/a.txt"),
    copyStage("b", "in/b.txt"),
    copyStage("c", "in/c.txt", ["a"]),
  ];
  const opts = {
    root: p.root,
    board: p.board,
    stages,
    targets: ["b", "c"],
    store: p.store,
    progress: quiet(),
  };
  assert.deepEqual(outcomes((await build(opts)).results), { a: "built", b: "built", c: "built" });
  assert.deepEqual(outcomes((await build(opts)).results), {
    a: "cached",
    b: "cached",
    c: "cached",
  });
  p.write("in/a.txt", "A2");
  const r = await build(opts);
  assert.deepEqual(outcomes(r.results), { a: "built", b: "cached", c: "built" });
  assert.equal(await Deno.readTextFile(join(r.results.get("c")!.out!, "data")), "CA2");
  await p.cleanup();
});

Deno.test("build() stops propagation when a rebuilt output is identical (early cutoff)", async () => {
  const p = await testProject({ "in/a.txt": "hello" });
  // a's output is the length of its input: "hello" and "world" give the same output.
  const a = defineStage({
    name: "a",
    inputs: ["in/a.txt"],
    async run({ out, inputs }) {
      await Deno.writeTextFile(
        join(out, "data"),
        String((await Deno.readTextFile(inputs["in/a.txt"])).length),
      );
    },
  });
  let cRuns = 0;
  const c = defineStage({
    name: "c",
    needs: ["a"],
    async run({ out }) {
      cRuns++;
      await Deno.writeTextFile(join(out, "x"), "c");
    },
  });
  const opts = {
    root: p.root,
    board: p.board,
    stages: [a, c],
    targets: ["c"],
    store: p.store,
    progress: quiet(),
  };
  await build(opts);
  p.write("in/a.txt", "world");
  const r = await build(opts);
  assert.deepEqual(outcomes(r.results), { a: "built", c: "cached" });
  assert.equal(cRuns, 1);
  await p.cleanup();
});

Deno.test("build() leaves no entry for a failed or interrupted stage", async (t) => {
  await t.step("failure", async () => {
    const p = await testProject();
    const bad = defineStage({
      name: "bad",
      async run({ out, $ }) {
        await Deno.writeTextFile(join(out, "half"), "x");
        await $`false`;
      },
    });
    const r = await build({
      root: p.root,
      board: p.board,
      stages: [bad],
      targets: ["bad"],
      store: p.store,
      progress: quiet(),
    });
    assert.equal(r.ok, false);
    assert.match(r.results.get("bad")!.error!, /Exited with code: 1/);
    assert.deepEqual(await p.store.keys(), []);
    assert.deepEqual([...Deno.readDirSync(join(p.store.dir, "tmp"))], []);
    assert.ok((await Deno.stat(r.results.get("bad")!.log!)).isFile, "the failed log is kept");
    await p.cleanup();
  });
  await t.step("interrupt kills the stage's processes", async () => {
    const p = await testProject();
    const marker = join(p.root, "pid");
    const slow = defineStage({
      name: "slow",
      async run({ $ }) {
        await $`sh -c ${`echo $$ > ${marker}; exec sleep 30`}`;
      },
    });
    const abort = new AbortController();
    const pending = build({
      root: p.root,
      board: p.board,
      stages: [slow],
      targets: ["slow"],
      store: p.store,
      progress: quiet(),
      signal: abort.signal,
    });
    while (!(await Deno.stat(marker).catch(() => undefined))) {
      await new Promise((r) => setTimeout(r, 50));
    }
    abort.abort();
    const r = await pending;
    assert.equal(r.results.get("slow")!.outcome, "failed");
    assert.deepEqual(await p.store.keys(), []);
    assert.deepEqual([...Deno.readDirSync(join(p.store.dir, "tmp"))], []);
    const pid = Number(await Deno.readTextFile(marker));
    await new Promise((r) => setTimeout(r, 200));
    assert.throws(() => Deno.statSync(`/proc/${pid}`), "the sleep was killed");
    await p.cleanup();
  });
});

Deno.test("planStages() rejects cycles and unknown stages before anything runs", async (t) => {
  const s = (name: string, needs: string[]) => defineStage({ name, needs, async run() {} });
  await t.step("cycle", () => {
    assert.throws(
      () => planStages([s("a", ["b"]), s("b", ["c"]), s("c", ["a"])], ["a"]),
      /dependency cycle: a -> b -> c -> a/,
    );
  });
  await t.step("unknown", () => {
    assert.throws(
      () => planStages([s("a", ["nope"])], ["a"]),
      /unknown stage "nope" \(needed by a\)/,
    );
  });
});

Deno.test("build() fails before starting when a host tool is missing, naming its package", async () => {
  const p = await testProject();
  let ran = false;
  const st = defineStage({
    name: "needs-tool",
    tools: ["qemu-system-aarch64", "definitely-not-a-tool-xyz"],
    run() {
      ran = true;
      return Promise.resolve();
    },
  });
  await assert.rejects(
    build({
      root: p.root,
      board: p.board,
      stages: [st],
      targets: ["needs-tool"],
      store: p.store,
      progress: quiet(),
    }),
    /stage needs-tool: missing host tool: definitely-not-a-tool-xyz \(Debian package: unknown\)/,
  );
  assert.equal(ran, false);
  await p.cleanup();
});

Deno.test("build() records a manifest with files, modes, hashes and timings", async () => {
  const p = await testProject();
  const st = defineStage({
    name: "m",
    async run({ out, record }) {
      await Deno.mkdir(join(out, "bin"));
      await Deno.writeTextFile(join(out, "bin", "tool"), "#!/bin/sh\n", { mode: 0o755 });
      await Deno.symlink("tool", join(out, "bin", "alias"));
      record("size", 10);
    },
  });
  const r = await build({
    root: p.root,
    board: p.board,
    stages: [st],
    targets: ["m"],
    store: p.store,
    progress: quiet(),
  });
  const m = (await p.store.manifest(r.results.get("m")!.outputHash!))!;
  assert.deepEqual(m.files.map((f) => f.path), ["bin", "bin/alias", "bin/tool"]);
  assert.deepEqual(m.files[1], { path: "bin/alias", type: "symlink", target: "tool" });
  assert.equal((m.files[2] as { mode: number }).mode, 0o755);
  assert.equal(m.info.size, 10);
  assert.ok(m.timings.seconds >= 0);
  await p.cleanup();
});

Deno.test("build() records a hit on another board's key as this board's latest build", async () => {
  const p = await testProject({ "in/a.txt": "A" });
  // A stage that reads no board field has one key for every board.
  const yaml = await Deno.readTextFile(join(p.root, "boards", "test.yaml"));
  await Deno.writeTextFile(
    join(p.root, "boards", "other.yaml"),
    yaml.replace("name: test", "name: other"),
  );
  const other = await loadBoard(p.root, "other");
  const stage = { ...copyStage("a", "in/a.txt"), boardFields: [] };
  const opts = { root: p.root, stages: [stage], targets: ["a"], store: p.store };
  const first = await build({ ...opts, board: p.board, progress: quiet() });
  const again = await build({ ...opts, board: other, progress: quiet() });
  assert.equal(again.results.get("a")!.outcome, "cached");
  const latest = await p.store.latest("a", "other");
  assert.equal(latest?.board, "other", "`explain a --board other` compares with this build");
  assert.equal(latest?.outputHash, first.results.get("a")!.outputHash);
  assert.equal((await p.store.latest("a", "test"))?.board, "test");
  await p.cleanup();
});
