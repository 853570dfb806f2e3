/**
 * `deno task bench container`:
 *   container_overhead_busybox  busybox stage time in the build container ÷ on the host
 *   sandbox_overhead_per_stage  extra time per stage under bubblewrap (20 small stages)
 */
import { ensureBuildImage } from "../../lib/container.ts";
import { SilentProgress } from "../../lib/progress.ts";
import { build } from "../../lib/runner.ts";
import { small } from "./_small_stages.ts";
import { startDockerd } from "../container/_dockerd.ts";
import { buildStages } from "../e2e/_build.ts";
import { testProject } from "../foundation/_project.ts";

async function sandboxOverhead(): Promise<number> {
  const time = async (sandbox: boolean) => {
    const p = await testProject();
    const t0 = performance.now();
    const r = await build({
      root: p.root,
      board: p.board,
      stages: small,
      targets: small.map((s) => s.name),
      store: p.store,
      progress: new SilentProgress(),
      sandbox,
      jobs: 1,
    });
    const ms = performance.now() - t0;
    await p.cleanup();
    if (!r.ok) throw new Error("sandbox bench build failed");
    return ms;
  };
  await time(false); // warm caches
  return ((await time(true)) - (await time(false))) / small.length;
}

export default async function bench(): Promise<void> {
  console.log(`bench: sandbox_overhead_per_stage ${(await sandboxOverhead()).toFixed(1)} ms`);
  const dockerd = await startDockerd();
  Deno.env.set("DOCKER_HOST", dockerd.host);
  try {
    const container = await ensureBuildImage("docker", () => {});
    const host = (await buildStages("zima", ["busybox"], {
      force: ["busybox"],
      progress: new SilentProgress(),
    }))
      .get("busybox")!;
    const boxed = (await buildStages("zima", ["busybox"], {
      force: ["busybox"],
      container,
      progress: new SilentProgress(),
    })).get("busybox")!;
    console.log(`bench: container_overhead_busybox ${(boxed.seconds / host.seconds).toFixed(2)} x`);
  } finally {
    await dockerd.stop();
  }
}

if (import.meta.main) await bench();
