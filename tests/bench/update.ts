/**
 * `deno task bench update` (root: loop devices):
 *   bench: update_bundle_<board> <MiB> MiB       the board's bundle (its kernel and rootfs
 *                                                 outputs already in the store; none built)
 *   bench: update_install_<size> <s> s           install into a loop-device slot: signature,
 *                                                 stream, fsync, read-back, arm (U-Boot env)
 *   bench: update_install_rate_<size> <MB/s> MB/s
 *   bench: update_install_rss_<size> <KiB> KiB  peak RSS (GNU time) of that install
 * <size> is `60mb` (a 60 MB root payload) and each stored board's own bundle. The
 * installer is the zima board's static musl build (the update stage, built if needed).
 * Not measured here: a trial boot's extra time and the time from a failed boot back to
 * the good slot (they need the A/B image booted in QEMU).
 */
import { join } from "node:path";
import { loadBoard } from "../../lib/board.ts";
import { planImage } from "../../lib/image/plan.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { writeBundle } from "../../lib/update/bundle.ts";
import { slotPayloads } from "../../lib/update/slot.ts";
import { ROOT } from "../../lib/registry.ts";
import { buildFor } from "../userland/_build.ts";
import { Rig } from "../update/_rig.ts";

const MiB = 1 << 20;

async function stored(stage: string, board: string): Promise<string | undefined> {
  const store = new Store(defaultStoreDir());
  const rec = await store.latest(stage, board);
  return rec ? store.objectOut(rec.outputHash) : undefined;
}

async function install(tool: string, name: string, board: string, bundle?: string) {
  await using rig = await Rig.create("u-boot", 64 * MiB, [
    "/usr/bin/time",
    "-f",
    "time %e %M",
    tool,
  ], board);
  const path = bundle ??
    (await rig.bundle({ version: "2", serial: 2, rootBytes: 60_000_000 })).path;
  // The rig signs its own bundles; a board's bundle is signed by the update key.
  if (bundle) await Deno.copyFile(join(bundle, "..", "update.pub"), join(rig.dir, "update.pub"));
  const bytes = (await Deno.stat(path)).size;
  const r = await rig.run(["install", path]);
  const m = r.stderr.match(/^time ([\d.]+) (\d+)$/m);
  if (r.code !== 0 || !m) throw new Error(`install ${name}: ${r.stderr}`);
  const s = Number(m[1]);
  console.log(`bench: update_install_${name} ${s.toFixed(2)} s`);
  console.log(`bench: update_install_rate_${name} ${(bytes / 1e6 / s).toFixed(1)} MB/s`);
  console.log(`bench: update_install_rss_${name} ${m[2]} KiB`);
}

export default async function bench(): Promise<void> {
  const tool = join((await buildFor("zima", ["update"])).get("update")!.out!, "sbin/icenet-update");
  const tmp = await Deno.makeTempDir({ prefix: "icenet-bench-update-" });
  try {
    const { generateKeyFiles } = await import("../../lib/ice-pkg/keys.ts");
    const key = await generateKeyFiles();
    const bundles: [string, string][] = [];
    for (const name of ["zima", "rpi", "rpi32"]) {
      const [kernel, rootfs] = [await stored("kernel", name), await stored("rootfs", name)];
      if (!kernel || !rootfs) {
        console.error(`bench update: no ${name} kernel/rootfs in the store; not building them`);
        continue;
      }
      const board = await loadBoard(ROOT, name);
      const dir = join(tmp, name);
      await Deno.mkdir(dir);
      // The latest image's signed UKIs, where the board has them (systemd-boot).
      const image = await stored("image", name);
      const payloads = await slotPayloads(board, planImage(board).disk, {
        kernel,
        rootfs,
        image,
      }, dir);
      const b = await writeBundle(join(dir, "bundle"), {
        board: name,
        version: "2",
        serial: 2,
        kernel: board.boot.kernelName,
        payloads,
      }, key.privateFile);
      await Deno.writeTextFile(join(dir, "update.pub"), key.publicLine);
      console.log(`bench: update_bundle_${name} ${(b.bytes / MiB).toFixed(1)} MiB`);
      bundles.push([name, b.path]);
    }
    await install(tool, "60mb", "testboard");
    for (const [name, path] of bundles) await install(tool, name, name, path);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}
