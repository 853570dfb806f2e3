/**
 * `deno task bench boot`: boot figures of the test images (tests/e2e/fixtures/
 * test-image.yaml, which has a console login, with the default image's kernel arguments:
 * `quiet`) under QEMU, printed, not asserted.
 *   bench: boot_to_login_zima <s> s   kernel start to login prompt, guest clock
 *   bench: idle_mem_zima <MB> MB      MemTotal - MemAvailable 10 s after login
 *   bench: idle_mem_held_zima <MB> MB  of it, pages neither free nor cache, and what holds
 *                                     them (lib/qemu/report.ts memoryBreakdown())
 *   bench: image_size_<board> <B> B   the image file (rpi, rpi32, zima)
 *   bench: image_xz_<board> <B> B     the image as published: xz -9 (the free space of
 *                                     its partitions is zeros, so this is what is downloaded)
 *   bench: root_size_<board> <B> B    the root squashfs
 *   bench: boot_to_login_rpi <s> s    raspi3b, emulated (rpi32: raspi2b)
 *   bench: idle_mem_<board> <MB> MB   likewise for the Pi boards
 *   bench: boot_to_login_rpi4 <s> s   the rpi image on raspi4b (QEMU 10 of the qemu stage)
 *   bench: idle_mem_rpi4 <MB> MB      likewise
 *   bench: verity_tree_<board> <B> B  the root's dm-verity hash tree (and its share of the root)
 *   bench: boot_to_login_<label>_again <s> s  the same disk booted a second time: a
 *                                     later boot, without the first boot's work (the data
 *                                     partition grown to the disk, settings applied)
 *   bench: boot_to_login_<board>_noverity <s> s   the same image built with `verity: false`
 *   bench: verity_overhead_<board> <s> s          the difference of the two medians
 * ICENET_BENCH_BOARDS (default: all) names the QEMU machines to boot by label
 * (boards/<board>.yaml `qemu` and `qemu.others`); each figure is named by the label.
 * TCG's guest clock slows with host load, so one boot is not a figure: each machine boots
 * ICENET_BENCH_RUNS times (default 5); the median is printed, with the spread (max - min)
 * as boot_to_login_<label>_spread.
 */
import { join } from "node:path";
import { type Board, boardNames, loadBoard, qemuMachines } from "../../lib/board.ts";
import { buildImage, buildStage, withImageDef } from "../../lib/qemu/build_image.ts";
import { readVerity } from "../../lib/rootfs/verity.ts";
import { bootReport, type MemoryBreakdown, squashfsBytesAt } from "../../lib/qemu/report.ts";
import { partitionOffsets } from "../../lib/qemu/board_vm.ts";
import { imageDefWithArgs, productArgs } from "../../lib/qemu/chart_run.ts";
import { loadImageDef } from "../../lib/image_def.ts";
import { stringify } from "yaml";

const ROOT = new URL("../..", import.meta.url).pathname;

/** The size of `file` compressed with xz -9 (streamed, not written anywhere). */
export async function xzBytes(file: string): Promise<number> {
  const xz = new Deno.Command("xz", {
    args: ["-9", "-T2", "-c", file],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let bytes = 0;
  for await (const chunk of xz.stdout) bytes += chunk.length;
  if (!(await xz.status).success) throw new Error(`xz -9 ${file} failed`);
  return bytes;
}

/** The median of a non-empty list. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : Math.round((s[m - 1] + s[m]) / 2 * 1000) / 1000;
}

/** Largest minus smallest of a non-empty list. */
function spread(xs: number[]): number {
  return Math.max(...xs) - Math.min(...xs);
}

export default async function bench(): Promise<void> {
  const runs = Number(Deno.env.get("ICENET_BENCH_RUNS") ?? 5);
  const defs = await Deno.makeTempDir({ prefix: "icenet-bench-image-" });
  const fixture = join(ROOT, "tests/e2e/fixtures/test-image.yaml");
  Deno.env.set(
    "ICENET_IMAGE",
    await imageDefWithArgs(fixture, await productArgs(ROOT), defs, "bench-image.yaml"),
  );
  // ICENET_BENCH_BOARDS names the machines to boot by label (a board's default machine
  // has the board's name); the default is every machine of every board.
  const wanted = Deno.env.get("ICENET_BENCH_BOARDS")?.split(",");
  for (const name of boardNames(ROOT)) {
    const board = await loadBoard(ROOT, name);
    const machines = qemuMachines(board).filter((m) => !wanted || wanted.includes(m.label));
    if (!machines.length) continue;
    const image = await buildImage(ROOT, board, true);
    console.log(`bench: image_size_${name} ${(await Deno.stat(image)).size} B`);
    console.log(`bench: image_xz_${name} ${await xzBytes(image)} B`);
    const root = await squashfsBytesAt(image, (await partitionOffsets(image))[1]);
    console.log(`bench: root_size_${name} ${root} B`);
    const verity = await readVerity(await buildStage(ROOT, board, "rootfs", true));
    if (verity) {
      const share = (verity.hashBytes / verity.hashOffset * 100).toFixed(2);
      console.log(`bench: verity_tree_${name} ${verity.hashBytes} B (${share}% of the root)`);
    }
    for (const m of machines) {
      const boots = await bootMedian(board, image, m.machine, m.label, runs);
      // The board's own machine: the same image without dm-verity, for its overhead.
      if (!verity || m.label !== name) continue;
      const plain = await bootMedian(board, await imageWithoutVerity(board), m.machine, "", runs);
      console.log(`bench: boot_to_login_${name}_noverity ${plain} s`);
      console.log(`bench: verity_overhead_${name} ${(boots - plain).toFixed(3)} s`);
    }
  }
}

/** Boot `image` `runs` times on `machine`; prints the figures under `label` (if any). */
async function bootMedian(
  board: Board,
  image: string,
  machine: string,
  label: string,
  runs: number,
): Promise<number> {
  const login = { user: "root", password: "icenet-test" };
  const boots: number[] = [], again: number[] = [];
  const mems: number[] = [], breakdowns: MemoryBreakdown[] = [];
  for (let i = 0; i < runs; i++) {
    const work = await Deno.makeTempDir({ prefix: `icenet-bench-${label || board.name}-` });
    try {
      const r = await bootReport(board, image, work, login, { machine });
      boots.push(r.bootToLoginSeconds);
      mems.push(r.idleMemoryMiB);
      breakdowns.push(r.memory);
      // The labelled figures also boot the disk once more, as it is after its first boot.
      if (label) {
        const next = await bootReport(board, image, work, login, { machine, again: true });
        again.push(next.bootToLoginSeconds);
      }
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  }
  if (label) {
    console.log(`bench: boot_to_login_${label} ${median(boots)} s`);
    console.log(`bench: boot_to_login_${label}_spread ${spread(boots).toFixed(3)} s`);
    console.log(`bench: boot_to_login_${label}_again ${median(again)} s`);
    console.log(`bench: boot_to_login_${label}_again_spread ${spread(again).toFixed(3)} s`);
    console.log(`bench: idle_mem_${label} ${median(mems)} MB`);
    // The boot whose idle figure is the median: what holds it, and the kernel's reserve.
    const m = breakdowns[mems.indexOf(median(mems))] ?? breakdowns[0];
    console.log(`bench: idle_mem_held_${label} ${m.held} MB`);
    console.log(
      `  held: slab ${m.slab}, kernel stacks ${m.kernelStacks}, page tables ${m.pageTables}, ` +
        `vmalloc ${m.vmalloc}, processes ${m.anon}, free on per-CPU lists ${m.perCpuFree} MB; ` +
        `watermark reserve ${m.reserve} MB`,
    );
  }
  return median(boots);
}

/** The test image built with `verity: false` (an image definition beside it, in /tmp). */
async function imageWithoutVerity(board: Board): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "icenet-bench-noverity-" });
  const def = join(dir, "bench-image-noverity.yaml");
  const base = await loadImageDef(Deno.env.get("ICENET_IMAGE")!);
  await Deno.writeTextFile(def, stringify({ ...base, verity: false }));
  return await withImageDef(def, () => buildImage(ROOT, board, true));
}

if (import.meta.main) await bench();
