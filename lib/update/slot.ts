/**
 * What a slot is made of, from a board's build outputs: the payloads of its update
 * bundle. The root squashfs (rootfs stage), the kernel and device trees (kernel stage),
 * and the kernel command line of each slot (`slot-a/cmdline.txt`, `slot-b/cmdline.txt`:
 * `root=` the slot's own partition, `icenet.slot=<x>`), which the boot loader of the
 * board reads from the slot's directory on p1 (systemd-boot: icenet-update copies it
 * into the slot's loader entry).
 *
 * The A/B layout: p2 is slot a's root, p3 slot b's (both squashfs).
 *
 * ```ts
 * slotCmdline("console=ttyS0 root=PARTUUID=x-02 ro", disk, "b"); // "... root=PARTUUID=x-03 ro icenet.slot=b"
 * ```
 */
import { basename, join } from "node:path";
import type { Board } from "../board.ts";
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
  const kernel = board.boot.kernelName;
  const payloads: Payload[] = [
    { name: "root", path: join(src.rootfs, "root.squashfs") },
    { name: `slot/${kernel}`, path: join(src.kernel, kernel) },
    ...board.kernel.dtbs.map((d) => ({
      name: `slot/${basename(d)}`,
      path: join(src.kernel, "dtbs", basename(d)),
    })),
  ];
  const missing: Slot[] = [];
  for (const slot of Object.keys(SLOT_ROOT) as Slot[]) {
    const line = slotCmdline(plan.cmdline, plan.disk, slot);
    if (!line) {
      missing.push(slot);
      continue;
    }
    const path = join(tmp, `cmdline-${slot}.txt`);
    await Deno.writeTextFile(path, line + "\n");
    payloads.push({ name: `slot-${slot}/cmdline.txt`, path });
  }
  return { payloads, missing };
}
