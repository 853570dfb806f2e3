import assert from "node:assert/strict";
import { join } from "node:path";
import { testProject } from "./_project.ts";

const script = new URL("./_cli_proc.ts", import.meta.url).pathname;

function cli(root: string, store: string, args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, root, ...args],
    env: { ICENET_HOME: store },
    stdout: "piped",
    stderr: "piped",
  });
}

async function run(root: string, store: string, args: string[]) {
  const r = await cli(root, store, args).output();
  const d = new TextDecoder();
  return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

Deno.test("cli: --graph, --dry-run, build, explain and usage errors", async (t) => {
  const p = await testProject();
  await t.step("--graph text and dot", async () => {
    const text = await run(p.root, p.store.dir, ["build", "top", "--board", "test", "--graph"]);
    assert.equal(text.out, "fast@test\ntop@test <- fast\n");
    const dot = await run(p.root, p.store.dir, ["build", "top", "--board", "test", "--graph=dot"]);
    assert.match(dot.out, /"fast" -> "top";/);
  });
  await t.step("--dry-run builds nothing", async () => {
    const r = await run(p.root, p.store.dir, ["build", "top", "--board", "test", "--dry-run"]);
    assert.equal(r.code, 0);
    assert.match(r.err, /fast@test +would build/);
    assert.deepEqual(await p.store.keys(), []);
  });
  await t.step("build, then explain says up to date", async () => {
    const r = await run(p.root, p.store.dir, ["build", "top", "--board", "test"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^top@test: .*\/objects\/[0-9a-f]{64}\/out$/m);
    const e = await run(p.root, p.store.dir, ["explain", "top", "--board", "test"]);
    assert.match(e.out, /^top@test: will not rebuild\n {2}up to date/);
  });
  await t.step("unknown stage, unknown command, missing board", async () => {
    const a = await run(p.root, p.store.dir, ["build", "nope", "--board", "test"]);
    assert.equal(a.code, 2);
    assert.match(a.err, /unknown stage "nope" for board test; known: fast, slow, top/);
    const b = await run(p.root, p.store.dir, ["frobnicate"]);
    assert.equal(b.code, 2);
    assert.match(b.err, /unknown command "frobnicate"/);
    const c = await run(p.root, p.store.dir, ["build", "top"]);
    assert.match(c.err, /--board is required \(boards: test\)/);
  });
  await p.cleanup();
});

Deno.test("cli: SIGTERM stops the stage's processes and leaves no entry", async () => {
  const p = await testProject();
  const child = cli(p.root, p.store.dir, ["build", "slow", "--board", "test"]).spawn();
  const pidFile = join(p.root, "pid");
  for (let i = 0; i < 600 && !(await Deno.stat(pidFile).catch(() => undefined)); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const sleepPid = Number(await Deno.readTextFile(pidFile));
  child.kill("SIGTERM");
  const r = await child.output();
  assert.equal(r.code, 130);
  assert.deepEqual(await p.store.keys(), []);
  assert.deepEqual([...Deno.readDirSync(join(p.store.dir, "tmp"))], []);
  await new Promise((r) => setTimeout(r, 200));
  assert.throws(() => Deno.statSync(`/proc/${sleepPid}`), "the stage's sleep was killed");
  await p.cleanup();
});

Deno.test("cli: SIGTERM while waiting for another build of the same key exits at once", async () => {
  const p = await testProject();
  const first = cli(p.root, p.store.dir, ["build", "slow", "--board", "test"]).spawn();
  const pidFile = join(p.root, "pid");
  for (let i = 0; i < 600 && !(await Deno.stat(pidFile).catch(() => undefined)); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const second = cli(p.root, p.store.dir, ["build", "slow", "--board", "test"]).spawn();
  await new Promise((r) => setTimeout(r, 3000)); // it is now waiting on the key's lock
  const t0 = Date.now();
  second.kill("SIGTERM");
  const r = await second.output();
  assert.equal(r.code, 130);
  assert.ok(Date.now() - t0 < 10_000, "did not wait for the first build");
  first.kill("SIGTERM");
  await first.output();
  await p.cleanup();
});
