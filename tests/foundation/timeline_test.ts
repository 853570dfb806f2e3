import assert from "node:assert/strict";
import { join } from "node:path";
import { SaxesParser, type SaxesTagPlain } from "saxes";
import { build } from "../../lib/runner.ts";
import { SilentProgress } from "../../lib/progress.ts";
import { defineStage, type Stage } from "../../lib/stage.ts";
import {
  criticalPath,
  lastTimeline,
  listTimelines,
  saveTimeline,
  summarize,
  type Timeline,
  type TimelineStage,
} from "../../lib/timeline.ts";
import { assignLanes, timelineSvg } from "../../lib/timeline_svg.ts";
import { testProject } from "./_project.ts";

/** A shell loop that keeps one CPU busy for about 0.2 s, in a child process. */
const BURN = "i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done";

/** A stage that burns CPU in a child, waits `ms`, and writes its name (or fails). */
function stage(name: string, needs: string[] = [], o: { ms?: number; fail?: boolean } = {}): Stage {
  return defineStage({
    name,
    needs,
    tools: ["sh"],
    params: { name },
    async run({ out, $ }) {
      await $`sh -c ${BURN}`;
      await new Promise((r) => setTimeout(r, o.ms ?? 0));
      if (o.fail) throw new Error(`${name} fails on purpose`);
      await Deno.writeTextFile(join(out, "x"), name);
    },
  });
}

const byName = (t: Timeline) => Object.fromEntries(t.stages.map((s) => [s.stage, s]));
const cpuOf = (s: TimelineStage) => s.cpu ? s.cpu.user + s.cpu.sys : undefined;

/** Parse with a conforming XML parser (throws on malformed XML); the bars' stage names. */
function parseSvg(svg: string): { bars: string[]; barTitles: number; root: string } {
  const parser = new SaxesParser();
  const bars: string[] = [];
  let root = "", barTitles = 0, inBar = false;
  parser.on("error", (e) => {
    throw e;
  });
  parser.on("opentag", (tag: SaxesTagPlain) => {
    root ||= tag.name;
    if (tag.name === "rect" && tag.attributes.class === "bar") {
      bars.push(tag.attributes["data-stage"] as string);
      inBar = true;
    }
    if (tag.name === "title" && inBar) barTitles++;
  });
  parser.on("closetag", (tag) => {
    if (tag.name === "rect") inBar = false;
  });
  parser.write(svg).close();
  return { bars, barTitles, root };
}

Deno.test("timeline: a real build records each stage, built then cached, deps after deps", async () => {
  const p = await testProject();
  const opts = {
    root: p.root,
    board: p.board,
    stages: [stage("a", [], { ms: 200 }), stage("b", [], { ms: 200 }), stage("c", ["a", "b"])],
    targets: ["c"],
    store: p.store,
    jobs: 2,
    progress: new SilentProgress(),
  };
  const first = await build(opts);
  assert.ok(first.ok);
  const t1 = first.timeline!;
  assert.deepEqual(t1.stages.map((s) => [s.stage, s.outcome]).sort(), [
    ["a", "built"],
    ["b", "built"],
    ["c", "built"],
  ]);
  const s = byName(t1);
  for (const x of t1.stages) {
    assert.ok(0 <= x.start && x.start <= x.end && x.end <= t1.wall, JSON.stringify(x));
    assert.equal(x.board, "test");
  }
  assert.ok(s.c.start >= Math.max(s.a.end, s.b.end), "c starts after a and b end");
  assert.deepEqual(s.c.needs, ["a", "b"]);
  // a and b ran at once: their CPU cannot be told apart, so neither has a figure;
  // c ran alone and burnt about 0.2 s in its child; the build counts all three.
  assert.ok(s.a.start < s.b.end && s.b.start < s.a.end, "a and b overlap");
  assert.equal(s.a.cpu, undefined);
  assert.equal(s.b.cpu, undefined);
  assert.ok(cpuOf(s.c)! >= 0.1, `c's CPU ${cpuOf(s.c)}`);
  assert.ok(t1.cpu.user + t1.cpu.sys >= 0.3, `build CPU ${JSON.stringify(t1.cpu)}`);
  // Stored as its own file and as latest.json, the same as returned.
  assert.equal(first.timelinePath, (await listTimelines(p.store.dir))[0]);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(first.timelinePath!)), t1);
  const latest = join(p.store.dir, "timelines", "latest.json");
  assert.deepEqual(JSON.parse(await Deno.readTextFile(latest)), t1);

  const second = await build(opts);
  assert.deepEqual(second.timeline!.stages.map((s) => s.outcome), ["cached", "cached", "cached"]);
  assert.equal((await listTimelines(p.store.dir)).length, 2);
  assert.deepEqual(await lastTimeline(p.store.dir, "test"), second.timeline);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(latest)), second.timeline);
  await p.cleanup();
});

Deno.test("timeline: a failing build still stores its timeline", async () => {
  const p = await testProject();
  const r = await build({
    root: p.root,
    board: p.board,
    stages: [stage("a", [], { fail: true }), stage("b", ["a"])],
    targets: ["b"],
    store: p.store,
    progress: new SilentProgress(),
  });
  assert.equal(r.ok, false);
  const t = await lastTimeline(p.store.dir);
  assert.equal(t.ok, false);
  const s = byName(t);
  assert.equal(s.a.outcome, "failed");
  assert.match(s.a.error!, /a fails on purpose/);
  assert.equal(s.b.outcome, "skipped");
  assert.equal(s.b.error, "build stopped"); // not run after a failure (no --keep-going)
  assert.ok(s.b.start >= s.a.end);
  await p.cleanup();
});

Deno.test("timeline: the SVG is well-formed XML with one bar and title per stage", async () => {
  const p = await testProject();
  const r = await build({
    root: p.root,
    board: p.board,
    stages: [stage("a"), stage("b"), stage("c", ["a", "b"])],
    targets: ["c"],
    store: p.store,
    progress: new SilentProgress(),
  });
  const svg = parseSvg(timelineSvg(r.timeline!));
  assert.equal(svg.root, "svg");
  assert.deepEqual(svg.bars.sort(), ["a", "b", "c"]);
  assert.equal(svg.barTitles, 3);
  // Names that are markup are escaped, not emitted.
  const odd = { ...r.timeline!, targets: ["<x&y>"] };
  odd.stages = odd.stages.map((s) => ({ ...s, stage: `${s.stage}<&"'>` }));
  assert.deepEqual(parseSvg(timelineSvg(odd)).bars.sort(), [`a<&"'>`, `b<&"'>`, `c<&"'>`]);
  assert.throws(() => parseSvg(`<svg><rect class="bar"></svg>`), "the parser rejects bad XML");
  await p.cleanup();
});

/** A synthetic timeline: name, start, end, needs. */
function synthetic(stages: [string, number, number, string[]][]): Timeline {
  return {
    version: 1,
    board: "test",
    targets: ["c"],
    started: "2026-01-01T00:00:00.000Z",
    wall: Math.max(...stages.map((s) => s[2])),
    ok: true,
    jobs: 2,
    cpu: { user: 0, sys: 0 },
    stages: stages.map(([stage, start, end, needs]) => ({
      stage,
      board: "test",
      outcome: "built",
      start,
      end,
      needs,
    })),
  };
}

Deno.test("timeline: critical path, lanes and summary", () => {
  // b (300 ms) is longer than a (100 ms), so the path is b -> c, though a starts first.
  const t = synthetic([["a", 0, 100, []], ["b", 10, 310, []], ["c", 310, 400, ["a", "b"]], [
    "d",
    100,
    150,
    ["a"],
  ]]);
  assert.deepEqual(criticalPath(t).map((s) => s.stage), ["b", "c"]);
  // d reuses a's lane once a has ended; a and b need two lanes.
  assert.deepEqual(assignLanes(t.stages), [0, 1, 0, 0]);
  const text = summarize(t);
  assert.match(text, /wall 400 ms, 4 stages \(4 built\)/);
  assert.match(text, /critical path \(390 ms\): b 300 ms -> c 90 ms/);
  assert.match(text, /slowest stages:\n {2}b +300 ms {2}built\n {2}a +100 ms/);
});

Deno.test("timeline: the store keeps the newest timelines only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "icenet-timelines-" });
  for (let i = 0; i < 4; i++) {
    const t = { ...synthetic([["a", 0, 1, []]]), started: `2026-01-0${i + 1}T00:00:00.000Z` };
    await saveTimeline(dir, t, 2);
  }
  const kept = (await listTimelines(dir)).map((f) => f.split("/").pop());
  assert.deepEqual(kept, [
    "2026-01-03T00-00-00.000Z-test.json",
    "2026-01-04T00-00-00.000Z-test.json",
  ]);
  assert.equal((await lastTimeline(dir)).started, "2026-01-04T00:00:00.000Z");
  await assert.rejects(() => lastTimeline(dir, "other"), /no build timeline .* for other/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("timeline: build --timeline and the timeline command draw and summarize", async () => {
  const p = await testProject();
  const cli = async (args: string[]) => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", new URL("./_cli_proc.ts", import.meta.url).pathname, p.root, ...args],
      env: { ICENET_HOME: p.store.dir },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const d = new TextDecoder();
    return { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
  };
  const svg1 = join(p.root, "t1.svg"), svg2 = join(p.root, "t2.svg");
  const b = await cli(["build", "top", "--board", "test", "--timeline", svg1]);
  assert.equal(b.code, 0, b.err);
  assert.match(b.out, /^timeline: top@test started .*: wall .*, 2 stages \(2 built\)/m);
  assert.match(b.out, /^critical path \(.*\): fast .* -> top /m);
  assert.deepEqual(parseSvg(await Deno.readTextFile(svg1)).bars.sort(), ["fast", "top"]);
  const last = await cli(["timeline", svg2, "--board", "test"]);
  assert.equal(last.code, 0, last.err);
  assert.match(last.out, /2 stages \(2 built\)/);
  assert.equal(await Deno.readTextFile(svg2), await Deno.readTextFile(svg1));
  const dry = await cli(["build", "top", "--board", "test", "--dry-run", "--timeline", svg2]);
  assert.equal(dry.code, 2);
  assert.match(dry.err, /--timeline draws one build/);
  const none = await cli(["timeline", "--board", "other"]);
  assert.equal(none.code, 2);
  assert.match(none.err, /no build timeline/);
  await p.cleanup();
});
