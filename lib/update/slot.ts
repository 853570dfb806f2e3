/**
 * What a slot is made of, from a board's build outputs: the payloads of its update
 * bundle. The root squashfs (rootfs stage), and what the image plan puts in p1's
 * `slot-a/` (the boot kind decides: the kernel, device trees, the slot's command line
 * file):
 *   - the kernel and device trees -> `slot/<path>` (the same for both slots);
 *   - a text file holding the kernel command line (`cmdline.env`, `cmdline.txt`) ->
 *     `slot-a/<path>` as planned, and `slot-b/<path>` with slot b's command line
 *     (`root=` its own partition, `icenet.slot=b`);
 *   - any other file -> `slot/<path>`.
 * A plan with no `slot-a/` files yet (boot files at the top of p1) gives the kernel,
 * the device trees by file name, and `slot-<x>/cmdline.txt` for each slot.
 *
 * The A/B layout: p2 is slot a's root, p3 slot b's (both squashfs).
 *
 * ```ts
 * slotCmdline("console=ttyS0 root=PARTUUID=x-02 ro", disk, "b"); // "... root=PARTUUID=x-03 ro icenet.slot=b"
 * ```
 */
import { basename, join } from "node:path";
import type { Board } from "../board.ts";
import type { BootFile } from "../boot/kind.ts";
import { partuuid } from "../boot/cmdline.ts";
import type { DiskPlan } from "../image/layout.ts";
import type { ImagePlan } from "../image/plan.ts";
import type { Payload } from "./bundle.ts";

/** The slots and the partition number of each one's root. */
export const SLOT_ROOT = { a: 2, b: 3 } as const;
export type Slot = keyof typeof SLOT_ROOT;

/** `cmdline` for `slot`: its own root= and icenet.slot=; undefined if the disk has no such root. */
export function slotCmdline(cmdline: string, disk: DiskPlan, slot: Slot): string | undefined {
  const p = disk.partitions.find((p) => p.number === SLOT_ROOT[slot]);
  if (!p || p.fs !== "squashfs") return undefined;
  const root = `root=${partuuid(disk.table, disk.labelId, p.number, p.uuid)}`;
  const args = cmdline.trim().split(/\s+/).filter((a) => !a.startsWith("icenet.slot="))
    .map((a) => a.startsWith("root=") ? root : a);
  return [...args, `icenet.slot=${slot}`].join(" ");
}

/** The build outputs a bundle is made from. */
export interface SlotSources {
  /** kernel stage output: `<kernelName>`, `dtbs/<tree>` */
  kernel: string;
  /** rootfs stage output: `root.squashfs` */
  rootfs: string;
}

/** Where a planned boot file's bytes are, for the files a slot can hold. */
function localPath(f: BootFile, board: Board, src: SlotSources): string | undefined {
  if ("kernel" in f) return join(src.kernel, board.boot.kernelName);
  if ("dtb" in f) return join(src.kernel, "dtbs", f.dtb);
  return undefined;
}

/**
 * The payloads of `board`'s bundle; per-slot text files are written under `tmp`.
 * Slots the layout lacks are left out and named in `missing`.
 */
export async function slotPayloads(
  board: Board,
  plan: ImagePlan,
  src: SlotSources,
  tmp: string,
): Promise<{ payloads: Payload[]; missing: Slot[] }> {
  const payloads: Payload[] = [{ name: "root", path: join(src.rootfs, "root.squashfs") }];
  const lines = {
    a: slotCmdline(plan.cmdline, plan.disk, "a"),
    b: slotCmdline(plan.cmdline, plan.disk, "b"),
  };
  const missing = (["a", "b"] as Slot[]).filter((s) => !lines[s]);
  const write = async (name: string, text: string) => {
    const path = join(tmp, name.replaceAll("/", "_"));
    await Deno.writeTextFile(path, text);
    payloads.push({ name, path });
  };
  const planned = plan.files.filter((f) => f.path.startsWith("slot-a/"));
  if (!planned.length) {
    payloads.push(
      { name: `slot/${board.boot.kernelName}`, path: join(src.kernel, board.boot.kernelName) },
      ...board.kernel.dtbs.map((d) => ({
        name: `slot/${basename(d)}`,
        path: join(src.kernel, "dtbs", basename(d)),
      })),
    );
    for (const s of ["a", "b"] as Slot[]) {
      if (lines[s]) await write(`slot-${s}/cmdline.txt`, lines[s] + "\n");
    }
    return { payloads, missing };
  }
  for (const f of planned) {
    const rest = f.path.slice("slot-a/".length);
    const local = localPath(f, board, src);
    if (local) payloads.push({ name: `slot/${rest}`, path: local });
    else if ("text" in f && f.text.includes(plan.cmdline)) {
      // The slot's command line file: slot a's as planned, slot b's with its own line.
      await write(`slot-a/${rest}`, f.text);
      if (lines.b) await write(`slot-b/${rest}`, f.text.replace(plan.cmdline, lines.b));
    } else if ("text" in f) await write(`slot/${rest}`, f.text);
    else {
      throw new Error(
        `bundle: ${f.path}: a boot file from a package or input under slot-a/ is not bundled yet`,
      );
    }
  }
  return { payloads, missing };
}
