/**
 * `deno task bench image`: the size figures of `bench boot` without booting, for each
 * board's test image (tests/e2e/fixtures/test-image.yaml, as `bench boot` builds it):
 *   bench: image_size_<board> <B> B            the image file
 *   bench: image_xz_<board> <B> B              the image as published: xz -9
 *   bench: partition_<board>_<name> <MiB> MiB  each partition (boot and root slots
 *                                              `size: auto`: lib/image/sizing.ts)
 * ICENET_BENCH_BOARDS (default: all) names the boards.
 */
import { join } from "node:path";
import $ from "dax";
import { boardNames, loadBoard } from "../../lib/board.ts";
import { MiB } from "../../lib/image/layout.ts";
import { buildImage, withImageDef } from "../../lib/qemu/build_image.ts";
import { ROOT } from "../../lib/registry.ts";
import { xzBytes } from "./boot.ts";

export default async function bench(): Promise<void> {
  const def = join(ROOT, "tests/e2e/fixtures/test-image.yaml");
  const wanted = Deno.env.get("ICENET_BENCH_BOARDS")?.split(",");
  for (const name of boardNames(ROOT).filter((b) => !wanted || wanted.includes(b))) {
    const board = await loadBoard(ROOT, name);
    const image = await withImageDef(def, () => buildImage(ROOT, board, true));
    console.log(`bench: image_size_${name} ${(await Deno.stat(image)).size} B`);
    console.log(`bench: image_xz_${name} ${await xzBytes(image)} B`);
    const table = JSON.parse(await $`sfdisk -J ${image}`.text()).partitiontable;
    for (const [i, p] of (table.partitions as { size: number }[]).entries()) {
      const part = board.partitions.list[i].name;
      console.log(`bench: partition_${name}_${part} ${p.size * 512 / MiB} MiB`);
    }
  }
}

if (import.meta.main) await bench();
