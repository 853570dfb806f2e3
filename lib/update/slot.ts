/**
 * What a slot is made of, from a board's build outputs: the payloads of its update
 * bundle. The root squashfs (rootfs stage), and the slot's files as the board's boot
 * kind gives them (`slotFiles`: the kernel, device trees, a command-line file, a signed
 * UKI as the image stage made it), once for each slot with that slot's own command line
 * (`root=` its partition, `icenet.slot=`):
 *   - a file the same in both slots -> `slot/<path>` (written to the slot installed);
 *   - a file that differs (the command line) -> `slot-a/<path>` and `slot-b/<path>`.
 *
 * ```ts
 * const { payloads } = await slotPayloads(board, plan.disk, { kernel, rootfs }, tmp);
 * payloads.map((p) => p.name); // ["root", "slot/vmlinuz", ...]
 * ```
 */
import { join } from "node:path";
import type { Board } from "../board.ts";
import type { BootFile } from "../boot/kind.ts";
import { bootKind } from "../boot/registry.ts";
import { type DiskPlan, type Slot, slotDir, SLOTS } from "../image/layout.ts";
import type { Payload } from "./bundle.ts";
import { readVerity } from "../rootfs/verity.ts";
import { readKernelArgs } from "../rootfs/kernel_args.ts";

/** The build outputs a bundle is made from. */
export interface SlotSources {
  /** kernel stage output: `<kernelName>`, `dtbs/<tree>` */
  kernel: string;
  /** rootfs stage output: `root.squashfs` (with its hash tree), `verity.json` */
  rootfs: string;
  /** image stage output: `slots/slot-<x>/<path>`, each slot's signed UKI (systemd-boot) */
  image?: string;
}

/** Where the image stage keeps a slot's signed UKI (its own, and a bundle's). */
export function ukiOutput(image: string, slot: Slot, path: string): string {
  return join(image, "slots", slotDir(slot), path);
}

/** Where a slot file's bytes are: a build output, or text to write out. */
function contentOf(f: BootFile, board: Board, src: SlotSources, slot: Slot): { path: string } | {
  text: string;
} {
  if ("kernel" in f) return { path: join(src.kernel, board.boot.kernelName) };
  if ("uki" in f) {
    if (!src.image) {
      throw new Error(
        `bundle: slot file ${f.path} is a signed UKI: the image stage's output holds it`,
      );
    }
    return { path: ukiOutput(src.image, slot, f.path) };
  }
  if ("dtb" in f) return { path: join(src.kernel, "dtbs", f.dtb) };
  if ("text" in f) return { text: f.text };
  throw new Error(`bundle: slot file ${f.path}: only kernels, device trees and text are bundled`);
}

/** The payloads of `board`'s bundle for a disk laid out as `disk`; text files go under `tmp`. */
export async function slotPayloads(
  board: Board,
  disk: DiskPlan,
  src: SlotSources,
  tmp: string,
): Promise<Payload[]> {
  const kind = bootKind(board);
  // The root with its dm-verity tree; each slot's command line pins its root hash.
  const payloads: Payload[] = [{ name: "root", path: join(src.rootfs, "root.squashfs") }];
  const verity = await readVerity(src.rootfs);
  const args = await readKernelArgs(src.rootfs);
  const bySlot = SLOTS.map((s) =>
    new Map(
      kind.slotFiles(board, kind.cmdline(board, disk, s, verity, args)).map((f) => [f.path, f]),
    )
  );
  const add = async (name: string, c: { path: string } | { text: string }) => {
    if ("path" in c) return payloads.push({ name, path: c.path });
    const path = join(tmp, name.replaceAll("/", "_"));
    await Deno.writeTextFile(path, c.text);
    payloads.push({ name, path });
  };
  for (const [path, f] of bySlot[0]) {
    const each = SLOTS.map((s, i) => contentOf(bySlot[i].get(path) ?? f, board, src, s));
    const same = each.every((c) => JSON.stringify(c) === JSON.stringify(each[0]));
    if (same) await add(`slot/${path}`, each[0]);
    else for (const [i, s] of SLOTS.entries()) await add(`slot-${s}/${path}`, each[i]);
  }
  return payloads;
}
