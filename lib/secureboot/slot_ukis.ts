/**
 * Each slot's signed UKI: the board's kernel with that slot's command line (which pins
 * the root's dm-verity hash) and the root's os-release, signed with the db key, written
 * to `<out>/slots/slot-<x>/<path>` (lib/update/slot.ts `ukiOutput`). The image stage
 * makes them from its inputs; a bundle of another root needs its own (its root hash
 * differs), which is why this is not inside the stage.
 *
 * ```ts
 * await writeSlotUkis({ board, disk, kernel, rootfs, stub, db, out, tmp });
 * ```
 */
import { dirname, join } from "node:path";
import type { Board } from "../board.ts";
import { bootKind } from "../boot/registry.ts";
import { buildUki, type UkiSection } from "../boot/uki.ts";
import { type DiskPlan, type Slot, SLOTS } from "../image/layout.ts";
import { readVerity } from "../rootfs/verity.ts";
import { readKernelArgs } from "../rootfs/kernel_args.ts";
import { rootOsRelease } from "../update/bundle.ts";
import { ukiOutput } from "../update/slot.ts";
import type { KeyPair } from "./keys.ts";
import { signEfi } from "./sign.ts";

/** What the slot UKIs are made of. */
export interface SlotUkiInputs {
  board: Board;
  disk: DiskPlan;
  /** kernel stage output (`<kernelName>`) */
  kernel: string;
  /** rootfs stage output (`root.squashfs`, `verity.json`) */
  rootfs: string;
  /** systemd's EFI stub, unpacked */
  stub: string;
  db: KeyPair;
  /** Where `slots/` goes. */
  out: string;
  tmp: string;
}

/** Write every slot's signed UKI; returns each one's size and sections, by slot. */
export async function writeSlotUkis(
  o: SlotUkiInputs,
): Promise<Partial<Record<Slot, { bytes: number; sections: UkiSection[] }>>> {
  const kind = bootKind(o.board);
  const squashfs = join(o.rootfs, "root.squashfs");
  const osrel = await rootOsRelease(squashfs);
  if (osrel === undefined) throw new Error(`${squashfs}: no etc/os-release for the UKIs`);
  // The command line a UKI carries pins the root hash: signed, so it cannot be swapped.
  const verity = await readVerity(o.rootfs);
  const args = await readKernelArgs(o.rootfs);
  const made: Partial<Record<Slot, { bytes: number; sections: UkiSection[] }>> = {};
  for (const slot of SLOTS as readonly Slot[]) {
    for (const f of kind.slotFiles(o.board, kind.cmdline(o.board, o.disk, slot, verity, args))) {
      if (!("uki" in f)) continue;
      const unsigned = join(o.tmp, `uki-${slot}.efi`);
      const sections = await buildUki(
        {
          stub: o.stub,
          kernel: join(o.kernel, o.board.boot.kernelName),
          cmdline: f.uki.cmdline,
          osRelease: osrel,
        },
        unsigned,
        join(o.tmp, `uki-${slot}`),
      );
      const dest = ukiOutput(o.out, slot, f.path);
      await Deno.mkdir(dirname(dest), { recursive: true });
      await signEfi(o.db, unsigned, dest);
      made[slot] = { bytes: (await Deno.stat(dest)).size, sections };
    }
  }
  return made;
}
