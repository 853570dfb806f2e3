/**
 * Boot kind "systemd-boot": UEFI firmware starts systemd-boot from the EFI system
 * partition's removable-media path, which boots the one loader entry (the Boot Loader
 * Specification's type #1). On the ESP: the loader, loader/loader.conf, the entry and
 * the kernel (an EFI-stub kernel).
 *
 * Board fields (`boot:` in boards/<board>.yaml):
 *   efi   the Debian systemd-boot-efi package of the board's architecture, pinned
 *
 * ```ts
 * loaderConf(); // "timeout 0\neditor no\n"
 * loaderEntry({ title: "IceNet-OS", linux: "/vmlinuz", options: "root=..." });
 * ```
 */
import { z } from "zod";
import type { Board } from "../board.ts";
import { type Source, SourceSchema } from "../fetch/source.ts";
import { type Slot, slotDir } from "../image/layout.ts";
import { imageCmdline } from "./cmdline.ts";
import type { BootFile, BootIssue, BootKind } from "./kind.ts";

const Fields = { efi: SourceSchema };
const Config = z.object(Fields);

/**
 * loader.conf: boot the first entry at once (press a key during boot for the menu). No
 * `default`: the first in systemd-boot's order is the newest slot's entry (`sort-key
 * icenet`, highest `version`), and a trial entry whose tries ran out sorts last, so
 * the good slot boots again (boot counting, icenet-update's `+1` entries).
 */
export function loaderConf(timeout = 0): string {
  return `timeout ${timeout}\neditor no\n`;
}

/** One boot entry. */
export interface LoaderEntry {
  title: string;
  /** Entries with a sort key come first, by it, then by version, highest first. */
  sortKey?: string;
  version?: string;
  /** Kernel path on the ESP (an EFI-stub kernel). */
  linux: string;
  /** Kernel command line. */
  options: string;
  /** Optional initramfs path on the ESP. */
  initrd?: string;
}

/** The text of loader/entries/<name>.conf. */
export function loaderEntry(e: LoaderEntry): string {
  const lines = [`title ${e.title}`];
  if (e.sortKey) lines.push(`sort-key ${e.sortKey}`);
  if (e.version) lines.push(`version ${e.version}`);
  lines.push(`linux ${e.linux}`);
  if (e.initrd) lines.push(`initrd ${e.initrd}`);
  lines.push(`options ${e.options}`);
  return lines.join("\n") + "\n";
}

/** UEFI's name of each architecture: the loader's file name and the removable-media path. */
const EFI_ARCH: Partial<Record<Board["arch"], string>> = { x86_64: "x64", aarch64: "aa64" };

/** Where UEFI firmware looks for a boot loader on removable media. */
export function efiFallback(arch: Board["arch"]): string {
  return `EFI/BOOT/BOOT${EFI_ARCH[arch]?.toUpperCase()}.EFI`;
}

function check(board: Board): BootIssue[] {
  if (EFI_ARCH[board.arch]) return [];
  return [{
    path: ["arch"],
    message: `systemd-boot needs ${Object.keys(EFI_ARCH).join(" or ")}, not ${board.arch}`,
  }];
}

function sources(board: Board): Record<string, Source> {
  return { "systemd-boot-efi": Config.parse(board.boot).efi };
}

/** The loader entry file of `slot` (its name without boot counting). */
export function slotEntry(slot: Slot): string {
  return `icenet-${slot}.conf`;
}

function files(board: Board, cmdline: string): BootFile[] {
  return [
    {
      path: efiFallback(board.arch),
      source: "systemd-boot-efi",
      member: `usr/lib/systemd/boot/efi/systemd-boot${EFI_ARCH[board.arch]}.efi`,
    },
    { path: "loader/loader.conf", text: loaderConf() },
    {
      // Generation 1; icenet-update writes each new slot's entry one higher.
      path: `loader/entries/${slotEntry("a")}`,
      text: loaderEntry({
        title: "IceNet-OS (slot a)",
        sortKey: "icenet",
        version: "1",
        linux: `/${slotDir("a")}/${board.boot.kernelName}`,
        options: cmdline,
      }),
    },
  ];
}

/** A slot: the kernel, and its command line, which icenet-update puts in the entry it writes. */
function slotFiles(board: Board, cmdline: string): BootFile[] {
  return [{ path: board.boot.kernelName, kernel: true }, {
    path: "cmdline.txt",
    text: cmdline + "\n",
  }];
}

/** The systemd-boot (UEFI) boot path. */
export const systemdBoot: BootKind = {
  name: "systemd-boot",
  description: "systemd-boot on the EFI system partition (UEFI)",
  fields: Fields,
  check,
  cmdline: imageCmdline,
  label: "ESP",
  sources,
  files,
  slotFiles,
  update: { bootloader: "systemd-boot" },
  qemu: "uefi",
  imager: false,
};
