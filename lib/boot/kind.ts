/**
 * A boot kind: the machinery of one boot path (the Raspberry Pi firmware,
 * systemd-boot, U-Boot; later a UKI), chosen by a board's `boot.loader` through
 * lib/boot/registry.ts. A kind owns the fields of `boot:` it reads, what it puts on the
 * boot partition, and how QEMU boots it; boards supply only data.
 *
 * ```ts
 * const kind = bootKind(board);
 * kind.files(board, cmdline); // [{ path: "config.txt", text: "..." }, ...]
 * kind.slotFiles(board, cmdline); // [{ path: "kernel8.img", kernel: true }, ...]
 * ```
 */
import type { z } from "zod";
import type { Board } from "../board.ts";
import type { Source } from "../fetch/source.ts";
import type { Verity } from "../rootfs/verity.ts";
import type { DiskPlan, Slot } from "../image/layout.ts";

/** One file on the boot partition and where its bytes come from. */
export type BootFile =
  /** Text written by the kind (config.txt, a loader entry). */
  | { path: string; text: string }
  /** Bytes made by the kind (a U-Boot script image). */
  | { path: string; bytes: Uint8Array }
  /** The kernel stage's kernel image (`boot.kernelName`). */
  | { path: string; kernel: true }
  /** A device tree the kernel stage built, by file name. */
  | { path: string; dtb: string }
  /**
   * A file of a Debian package the image stage fetches (`member` without "./"); `signed`:
   * an EFI program signed for Secure Boot with the db key (lib/secureboot/).
   */
  | { path: string; source: string; member: string; signed?: boolean }
  /**
   * A unified kernel image (lib/boot/uki.ts), signed for Secure Boot with the db key: the
   * kernel stage's kernel with `cmdline` and the root's os-release, on the EFI stub
   * `stub` (a member of package `source`).
   */
  | { path: string; uki: { cmdline: string; source: string; stub: string } }
  /** A declared input file of the image stage (project-relative path). */
  | { path: string; input: string };

/** A problem with a board's fields: its path in the YAML and what is wrong. */
export interface BootIssue {
  path: (string | number)[];
  message: string;
}

/**
 * How QEMU boots an image of this kind:
 *   - `uefi`: OVMF firmware reads the image's own ESP (the loader, its entry, the kernel);
 *   - `kernel`: the firmware cannot run under QEMU, so the kernel, the machine's device
 *     tree and `cmdline.txt` are taken out of the boot partition and booted directly;
 *   - `u-boot`: QEMU starts the image's U-Boot in the firmware's place (the kind's
 *     `qemuLoader`), which boots from the SD card as on the board.
 */
export type QemuBoot = "uefi" | "kernel" | "u-boot";

/** The machinery of one boot path. */
export interface BootKind {
  /** The `boot.loader` value that picks this kind. */
  name: string;
  /** One line for errors and docs. */
  description: string;
  /** The fields of `boot:` this kind reads besides `loader` and `kernelName`. */
  fields: Record<string, z.ZodType>;
  /** Checks across fields (e.g. each device tree has a config.txt filter). */
  check(board: Board): BootIssue[];
  /** FAT volume label of the boot partition. */
  label: string;
  /**
   * The kernel command line of `slot` of the board's image laid out as `disk`, whose
   * root is verified with `verity` when given (lib/rootfs/verity.ts), with the image's
   * own arguments `extra` last (lib/rootfs/kernel_args.ts).
   */
  cmdline(board: Board, disk: DiskPlan, slot?: Slot, verity?: Verity, extra?: string[]): string;
  /** Packages the image stage fetches for the boot partition, by source name. */
  sources(board: Board): Record<string, Source>;
  /**
   * The kind's files on the boot partition shared by both slots (the loader, its
   * configuration), given slot a's kernel command line.
   */
  files(board: Board, cmdline: string): BootFile[];
  /**
   * The files of one slot (the kernel, device trees), paths relative to its directory
   * (`slot-a/`): what an update bundle carries. `cmdline` is the slot's own.
   */
  slotFiles(board: Board, cmdline: string): BootFile[];
  /**
   * How icenet-update keeps this kind's boot state (lib/update/conf.ts); none: the
   * kind has no trial boot, and its images carry no update configuration.
   */
  update?: { bootloader: "u-boot" | "systemd-boot"; ubootEnvSize?: number };
  /** How QEMU boots it. */
  qemu: QemuBoot;
  /**
   * `u-boot`: the boot-partition file QEMU starts in the firmware's place on a machine
   * whose device tree is `dtb`, and the file of the kernel command line QEMU's serial
   * port is chosen by (`name=value` lines; the `bootargs` one counts).
   */
  qemuLoader?(board: Board, dtb: string): { loader: string; cmdlineFile: string };
  /** Raspberry Pi Imager can write it: a release carries an os_list entry. */
  imager: boolean;
}
