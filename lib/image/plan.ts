/**
 * The plan of a board's disk image, from its YAML alone: the partition layout (with
 * an image definition's size overrides), the kernel command line, and every file of
 * the boot partition with where its bytes come from — what the image stage then
 * writes. Planning runs no tool and reads no build output, so a board is checked
 * before anything builds.
 *
 * ```ts
 * const plan = planImage(await loadBoard(root, "rpi"));
 * plan.files.map((f) => f.path); // ["bootcode.bin", ..., "config.txt", "cmdline.txt"]
 * ```
 */
import type { Verity } from "../rootfs/verity.ts";
import type { Board } from "../board.ts";
import type { BootFile } from "../boot/kind.ts";
import { bootKind } from "../boot/registry.ts";
import type { Source } from "../fetch/source.ts";
import { type DiskPlan, planDisk, slotDir } from "./layout.ts";
import type { PartitionContent } from "./sizing.ts";

/** The example first-boot settings file put on every boot partition (base-files' setup). */
export const SETUP_EXAMPLE = "lib/image/icenet-setup.example.txt";

/** Everything the image stage writes, decided. */
export interface ImagePlan {
  /** Partitions, offsets and UUIDs. */
  disk: DiskPlan;
  /** The kernel command line of slot a, as the boot kind writes it. */
  cmdline: string;
  /** FAT volume label of the boot partition. */
  label: string;
  /** Every file on the boot partition. */
  files: BootFile[];
  /** Packages the boot files come from, by source name. */
  sources: Record<string, Source>;
}

/**
 * The plan of `board`'s image, with partition sizes overridden by `sizes`, its root
 * verified with `verity` (the rootfs stage's verity.json) when given, and the image
 * definition's `kernelArgs` (the rootfs stage's cmdline.txt). `content` (what the image
 * stage measured) sizes the `auto` partitions; without it they are planned at the
 * rule's floor (lib/image/layout.ts planDisk), which changes no file of the plan.
 */
export function planImage(
  board: Board,
  sizes: Record<string, string> = {},
  verity?: Verity,
  kernelArgs: string[] = [],
  content: Record<string, PartitionContent> = {},
): ImagePlan {
  const kind = bootKind(board);
  const disk = planDisk(withOverrides(board, sizes, "image"), board.name, content);
  const cmdline = kind.cmdline(board, disk, "a", verity, kernelArgs);
  const files = [
    { path: "icenet-setup.example.txt", input: SETUP_EXAMPLE },
    ...kind.files(board, cmdline),
    // Slot a is filled; slot b stays empty until an update writes it.
    ...kind.slotFiles(board, cmdline).map((f) => ({ ...f, path: `${slotDir("a")}/${f.path}` })),
  ];
  return { disk, cmdline, label: kind.label, files, sources: kind.sources(board) };
}

/**
 * The board's partition list with the image definition's size overrides applied
 * (`partitions: { data: 256M }` in images/<name>.yaml).
 */
export function withOverrides(
  board: Board,
  overrides: Record<string, string>,
  where: string,
): Board["partitions"] {
  const list = board.partitions.list;
  for (const name of Object.keys(overrides)) {
    if (!list.some((p) => p.name === name)) {
      throw new Error(
        `${where}: partitions: "${name}" is not a partition of board ${board.name} (${
          list.map((p) => p.name).join(", ")
        })`,
      );
    }
  }
  return {
    ...board.partitions,
    list: list.map((p) => overrides[p.name] ? { ...p, size: overrides[p.name] } : p),
  };
}
