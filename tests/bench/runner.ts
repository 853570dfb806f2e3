/**
 * `deno task bench runner`: a synthetic graph of 200 stages over 2,000 input files
 * (10 per stage; each stage needs up to 3 earlier ones).
 *   noop_rebuild              everything cached: plan, key, look up all 200
 *   runner_overhead_per_stage a cold build of stages whose run() writes one file
 */
import { join } from "node:path";
import { SilentProgress } from "../../lib/progress.ts";
import { build } from "../../lib/runner.ts";
import { defineStage, type Stage } from "../../lib/stage.ts";
import { testProject } from "../foundation/_project.ts";

export default async function bench(): Promise<void> {
  const files: Record<string, string> = {};
  for (let i = 0; i < 2000; i++) {
    files[`src/s${Math.floor(i / 10)}/f${i}.c`] = `int f${i};\n`.repeat(50);
  }
  const p = await testProject(files);
  const stages: Stage[] = [];
  for (let i = 0; i < 200; i++) {
    const needs = [i - 1, i - 7, i - 31].filter((j) => j >= 0).map((j) => `s${j}`);
    stages.push(defineStage({
      name: `s${i}`,
      needs,
      inputs: [`src/s${i}/*.c`],
      tools: ["make"],
      async run({ out }) {
        await Deno.writeTextFile(join(out, "o"), String(i));
      },
    }));
  }
  const opts = {
    root: p.root,
    board: p.board,
    stages,
    targets: ["s199"],
    store: p.store,
    progress: new SilentProgress(),
  };
  let t0 = performance.now();
  const cold = await build(opts);
  const coldMs = performance.now() - t0;
  if (!cold.ok) throw new Error("cold build failed");
  const runs: number[] = [];
  for (let k = 0; k < 5; k++) {
    t0 = performance.now();
    const r = await build(opts);
    runs.push(performance.now() - t0);
    if ([...r.results.values()].some((x) => x.outcome !== "cached")) {
      throw new Error("noop rebuild rebuilt something");
    }
  }
  runs.sort((a, b) => a - b);
  console.log(`bench: noop_rebuild ${(runs[2] / 1000).toFixed(3)} s`);
  console.log(`bench: runner_overhead_per_stage ${(coldMs / 200).toFixed(2)} ms`);
  await p.cleanup();
}

if (import.meta.main) await bench();
