/**
 * Disk layout: turns a board's partition list into byte offsets, sizes and stable
 * identifiers. Partitions start on 1 MiB boundaries (what SD cards and eMMC erase
 * blocks like); GPT keeps 1 MiB at the end for its backup header.
 *
 * ```ts
 * const plan = planDisk({ table: "gpt", list: board.partitions.list }, "zima");
 * plan.partitions[1].start; // 34603008
 * ```
 */
import { sha256 } from "../hash.ts";
import { AUTO, AUTO_FLOOR, AUTO_FS, autoBytes, mib, type PartitionContent } from "./sizing.ts";

/** 1 MiB: partition alignment and the head/tail reserved for the tables. */
export const MiB = 1024 * 1024;

/** A partition as declared in `boards/<board>.yaml`. */
export interface PartitionSpec {
  name: string;
  /** `64M`, `1G`, ... or `auto`: from its content, with headroom (lib/image/sizing.ts). */
  size: string;
  fs: "vfat" | "squashfs" | "ext4";
  type: string;
}

/** One partition with its place on the disk. */
export interface PartitionPlan extends PartitionSpec {
  /** 1-based partition number (p1, p2, ...). */
  number: number;
  /** Offset in bytes from the start of the disk. */
  start: number;
  /** Size in bytes. */
  bytes: number;
  /** Partition UUID (GPT) derived from the seed and name. */
  uuid: string;
  /** Filesystem UUID derived from the seed and name (ext4 -U, vfat volume id). */
  fsUuid: string;
}

/** The whole disk. */
export interface DiskPlan {
  table: "mbr" | "gpt";
  /** Disk size in bytes. */
  size: number;
  /** Disk identifier: a UUID for GPT, `0x` + 8 hex digits for MBR. */
  labelId: string;
  partitions: PartitionPlan[];
}

/** Bytes of a size like `64M`, `1G`, `512K`. */
export function parseSize(size: string): number {
  const m = /^(\d+)([KMG])$/.exec(size);
  if (!m) throw new Error(`size "${size}": expected a number and K, M or G (like 64M)`);
  return Number(m[1]) * { K: 1024, M: MiB, G: 1024 * MiB }[m[2] as "K" | "M" | "G"];
}

/**
 * A UUID derived from `seed` and `what`: the same inputs give the same UUID, so the
 * image is reproducible; different boards and partitions get different ones.
 * Formatted as a version-4/variant-1 UUID so tools accept it.
 */
export function stableUuid(seed: string, what: string): string {
  const h = sha256(`icenet:uuid:v1:${seed}:${what}`).slice(0, 32).split("");
  h[12] = "4";
  h[16] = "89ab"[parseInt(h[16], 16) & 3];
  const s = h.join("");
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
}

/**
 * Lay out `list` on a disk; `seed` (e.g. the board name) fixes every identifier.
 * `content` (by partition name, what the image stage measured) sizes the `auto`
 * partitions and is checked against the fixed ones. Without it an `auto` partition is
 * planned at the rule's floor: names, numbers, identifiers and command lines are the
 * image's, offsets and sizes are not (the image stage records those it wrote).
 */
export function planDisk(
  spec: { table: "mbr" | "gpt"; list: PartitionSpec[] },
  seed: string,
  content: Record<string, PartitionContent> = {},
): DiskPlan {
  const names = new Set<string>();
  let offset = MiB;
  const partitions = spec.list.map((p, i): PartitionPlan => {
    if (names.has(p.name)) throw new Error(`partition "${p.name}" is declared twice`);
    names.add(p.name);
    const bytes = partitionBytes(p, content[p.name]);
    const plan = {
      ...p,
      number: i + 1,
      start: offset,
      bytes,
      uuid: stableUuid(seed, `part:${p.name}`),
      fsUuid: stableUuid(seed, `fs:${p.name}`),
    };
    offset += bytes;
    return plan;
  });
  if (spec.table === "mbr" && partitions.length > 4) {
    throw new Error(`an MBR holds at most 4 primary partitions (have ${partitions.length})`);
  }
  const size = offset + (spec.table === "gpt" ? MiB : 0);
  const labelId = spec.table === "gpt"
    ? stableUuid(seed, "disk")
    : "0x" + sha256(`icenet:uuid:v1:${seed}:disk`).slice(0, 8);
  return { table: spec.table, size, labelId, partitions };
}

/** The bytes of partition `p`: its fixed size (checked against `c`), or auto from `c`. */
function partitionBytes(p: PartitionSpec, c: PartitionContent | undefined): number {
  if (p.size === AUTO) {
    if (!(AUTO_FS as readonly string[]).includes(p.fs)) {
      throw new Error(
        `partition "${p.name}": size auto sizes a partition from its content, and its ${p.fs} ` +
          `partition is empty in the image: give a size (data grows at first boot)`,
      );
    }
    return c ? autoBytes(c) : AUTO_FLOOR;
  }
  const bytes = parseSize(p.size);
  if (bytes % MiB !== 0) {
    throw new Error(`partition "${p.name}": size ${p.size} is not a whole number of MiB`);
  }
  if (c && c.bytes > bytes) {
    throw new Error(
      `partition "${p.name}": its content (${mib(c.bytes)}, ${c.bytes} bytes) does not fit ` +
        `its size ${p.size} (${bytes} bytes): raise the size, or make it auto, in the board's ` +
        `partitions or the image definition's`,
    );
  }
  return bytes;
}

/**
 * The two system slots of A/B updates: each is a root partition (`root-a`, `root-b`)
 * and a directory of kernel files on the boot partition (`slot-a/`, `slot-b/`). The
 * image fills slot a; an update writes the slot that is not running.
 */
export const SLOTS = ["a", "b"] as const;
export type Slot = typeof SLOTS[number];

/** The root partition of `slot`. */
export function slotRoot(plan: DiskPlan, slot: Slot): PartitionPlan {
  return partitionNamed(plan, `root-${slot}`);
}

/** The directory of `slot`'s kernel files on the boot partition. */
export function slotDir(slot: Slot): string {
  return `slot-${slot}`;
}

/** Find a partition by name, with an error listing the names there are. */
export function partitionNamed(plan: DiskPlan, name: string): PartitionPlan {
  const p = plan.partitions.find((x) => x.name === name);
  if (!p) {
    throw new Error(
      `no partition "${name}" in the layout (have: ${
        plan.partitions.map((x) => x.name).join(", ")
      })`,
    );
  }
  return p;
}
