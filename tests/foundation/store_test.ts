import assert from "node:assert/strict";
import { join } from "node:path";
import { explain } from "../../lib/explain.ts";
import { SilentProgress } from "../../lib/progress.ts";
import { build } from "../../lib/runner.ts";
import { defineStage } from "../../lib/stage.ts";
import { testProject } from "./_project.ts";

Deno.test("two concurrent builds on one store build a key once and both succeed", async () => {
  const p = await testProject();
  const child = () =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("./_build_proc.ts", import.meta.url).pathname,
        p.root,
        p.store.dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
  const [a, b] = await Promise.all([child(), child()]);
  const ra = JSON.parse(new TextDecoder().decode(a.stdout)),
    rb = JSON.parse(new TextDecoder().decode(b.stdout));
  assert.ok(
    ra.ok && rb.ok,
    new TextDecoder().decode(a.stderr) + new TextDecoder().decode(b.stderr),
  );
  assert.deepEqual([ra.outcome, rb.outcome].sort(), ["built", "cached"]);
  assert.equal(ra.hash, rb.hash);
  assert.equal((await Deno.readTextFile(join(p.root, "runs"))).trim().split("\n").length, 1);
  await p.cleanup();
});

Deno.test("explain() names the input that changed, with old and new hash", async () => {
  const p = await testProject({ "cfg/a.conf": "one", "cfg/b.conf": "two" });
  const st = defineStage({
    name: "cfg",
    inputs: ["cfg/*.conf"],
    params: { level: 1 },
    async run({ out }) {
      await Deno.writeTextFile(join(out, "x"), "x");
    },
  });
  const opts = {
    root: p.root,
    board: p.board,
    stages: [st],
    targets: ["cfg"],
    store: p.store,
    progress: new SilentProgress(),
  };
  let e = await explain([st], "cfg", p.board, p.root, p.store);
  assert.deepEqual(e.reasons, ["never built for board test on this store"]);
  await build(opts);
  e = await explain([st], "cfg", p.board, p.root, p.store);
  assert.equal(e.rebuild, false);
  p.write("cfg/b.conf", "changed");
  e = await explain([st], "cfg", p.board, p.root, p.store);
  assert.equal(e.rebuild, true);
  assert.equal(e.reasons.length, 1);
  assert.match(e.reasons[0], /^input:cfg\/b\.conf changed: [0-9a-f]{12} -> [0-9a-f]{12}$/);
  await p.cleanup();
});

Deno.test("Store.verify() reports a damaged object and gc() keeps the newest N", async () => {
  const p = await testProject({ "in/x": "1" });
  const st = defineStage({
    name: "g",
    inputs: ["in/x"],
    async run({ out, inputs }) {
      await Deno.copyFile(inputs["in/x"], join(out, "x"));
    },
  });
  const opts = {
    root: p.root,
    board: p.board,
    stages: [st],
    targets: ["g"],
    store: p.store,
    progress: new SilentProgress(),
  };
  const outs: string[] = [];
  for (const v of ["1", "2", "3"]) {
    p.write("in/x", v);
    outs.push((await build(opts)).results.get("g")!.out!);
  }
  assert.deepEqual(await p.store.verify(), []);
  await Deno.writeTextFile(join(outs[2], "x"), "tampered");
  const damaged = await p.store.verify();
  assert.equal(damaged.length, 1);
  assert.match(damaged[0].problem, /^g@test: changed: x$/);
  const r = await p.store.gc(1);
  assert.equal(r.keys, 2);
  assert.equal(r.objects, 2);
  assert.equal((await p.store.keys()).length, 1);
  await p.cleanup();
});

Deno.test("a build syncs once and leaves no marker; a crash's marker makes the next build drop damaged entries", async () => {
  const p = await testProject({ "in/a": "a", "in/b": "b" });
  const stage = (name: string) =>
    defineStage({
      name,
      inputs: [`in/${name}`],
      async run({ out, inputs }) {
        await Deno.copyFile(inputs[`in/${name}`], join(out, name));
      },
    });
  const opts = {
    root: p.root,
    board: p.board,
    stages: [stage("a"), stage("b")],
    targets: ["a", "b"],
    store: p.store,
    progress: new SilentProgress(),
  };
  const first = await build(opts);
  assert.ok(first.ok);
  const markers = () => [...Deno.readDirSync(join(p.store.dir, "unsynced"))].map((e) => e.name);
  assert.deepEqual(markers(), [], "the build synced and removed its marker");

  // The machine went down after both commits, before the sync: "b" lost its content.
  const since = new Date(Date.now() - 60_000).toISOString();
  await Deno.writeTextFile(
    join(p.store.dir, "unsynced", "1-dead.json"),
    JSON.stringify({ boot: "an-earlier-boot", since }),
  );
  // A marker of this boot is a build still running (or killed: nothing lost): kept.
  const boot = Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
  await Deno.writeTextFile(
    join(p.store.dir, "unsynced", "2-live.json"),
    JSON.stringify({ boot, since }),
  );
  await Deno.writeTextFile(join(first.results.get("b")!.out!, "b"), "");
  const second = await build(opts);
  assert.equal(second.results.get("a")!.outcome, "cached", "an intact entry is kept");
  assert.equal(second.results.get("b")!.outcome, "built", "the damaged entry was dropped");
  assert.equal(await Deno.readTextFile(join(second.results.get("b")!.out!, "b")), "b");
  assert.deepEqual(markers(), ["2-live.json"]);
  assert.deepEqual(await p.store.verify(), []);
  await p.cleanup();
});

Deno.test("Store.commit(): outputs with the same content committed at once share one object", async () => {
  // Different keys can make the same output (two builds, or two stages); their commits
  // meet at one object directory, and none may fail or remove what another committed.
  const p = await testProject({});
  const commits = Array.from({ length: 6 }, async (_, i) => {
    const out = join(p.store.makeTmp(`same-${i}`), "out");
    await Deno.mkdir(out, { recursive: true });
    await Deno.writeTextFile(join(out, "x"), "the same bytes");
    const rec = { key: `${i}`.repeat(64), stage: `s${i}`, board: "test", parts: {}, seconds: 0 };
    return await p.store.commit(out, rec, {}, new Date());
  });
  const hashes = new Set((await Promise.all(commits)).map((m) => m.outputHash));
  assert.equal(hashes.size, 1);
  assert.deepEqual(await p.store.verify(), []);
  await p.cleanup();
});
