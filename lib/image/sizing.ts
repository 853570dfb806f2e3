/**
 * `size: auto`: a partition sized from its content at the image stage, with headroom.
 * The rule, one for every board:
 *
 *   size = what it must hold × 1.5, rounded up to 8 MiB, at least 16 MiB
 *
 * A root slot must hold the roots of releases to come (an A/B update writes a new root
 * into the other slot, and a device's partitions never move), so it holds this root
 * and half as much again; slot b is slot a's size. The boot partition must hold its
 * shared files, both slots' kernel files and, while an update writes, one more copy of
 * a slot's (icenet-update wants room for the new files before it renames them over the
 * old): shared + 3 × slot a's files, with the same headroom for kernels that grow.
 * 8 MiB steps keep a small change of content from moving every partition; 16 MiB is the
 * smallest FAT mkfs.fat makes FAT16 (smaller is FAT12) and room for a root that grows.
 *
 * ```ts
 * autoBytes({ bytes: 40 << 20 }); // 64 MiB: 60 MiB rounded up
 * autoBytes({ bytes: 6 << 20, slot: 2 << 20 }); // 16 MiB: (6 + 2 × 2) × 1.5 = 15
 * ```
 */

const MiB = 1024 * 1024;

/** The size value that asks for sizing from content. */
export const AUTO = "auto";

/** Headroom factor over what the partition must hold. */
export const HEADROOM = 1.5;

/** Auto sizes are whole multiples of this. */
export const AUTO_STEP = 8 * MiB;

/** The smallest auto size. */
export const AUTO_FLOOR = 16 * MiB;

/** What a partition holds, as the image stage measured it. */
export interface PartitionContent {
  /** Bytes of its content as written (files of a FAT, the squashfs image). */
  bytes: number;
  /**
   * Of those, the bytes of slot a's files (the boot partition): an update needs room for
   * slot b's and for a new copy beside the old, so they count three times.
   */
  slot?: number;
}

/** The size of an auto partition holding `c`, in bytes (a multiple of 8 MiB). */
export function autoBytes(c: PartitionContent): number {
  const need = (c.bytes + 2 * (c.slot ?? 0)) * HEADROOM;
  return Math.max(AUTO_FLOOR, Math.ceil(need / AUTO_STEP) * AUTO_STEP);
}

/** File systems whose content the image stage knows (the empty data ext4 has none). */
export const AUTO_FS = ["vfat", "squashfs"] as const;

/** `n` bytes as MiB with one decimal, for messages. */
export function mib(n: number): string {
  return `${(n / MiB).toFixed(1)} MiB`;
}
