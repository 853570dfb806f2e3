/**
 * Boot kind "systemd-boot": UEFI firmware starts systemd-boot from the EFI system
 * partition's removable-media path, which boots the newest slot's loader entry (the Boot
 * Loader Specification's type #1). On the ESP: the loader, loader/loader.conf, the
 * entries, and in each slot's directory the slot's kernel and command line.
 *
 * Secure Boot: the loader is signed with the db key (lib/secureboot/), and each slot's
 * kernel is a signed unified kernel image (lib/boot/uki.ts) holding the kernel and that
 * slot's command line, so firmware with the project's keys enrolled runs nothing else:
 * systemd-boot loads the entry's `linux` file through the firmware, which checks its
 * signature against db, and a changed or foreign-signed file is refused. Without Secure
 * Boot the same files boot as before.
 *
 * The entries and trial boots stay as they were (icenet-update, update/src/bootstate.c):
 * one entry per slot, `loader/entries/icenet-<slot>.conf`, whose `linux` is the slot's
 * UKI; a new slot is armed as `icenet-<slot>+<tries>.conf`, and systemd-boot's boot
 * counting lowers the tries on each boot and sorts an entry without tries last, so the
 * good slot boots again. The entry's `options` line still carries the slot's command line
 * (from `slot-<x>/cmdline.txt`) plus `icenet.trial=1` on a trial entry, but systemd 252's
 * stub ignores it under Secure Boot, where a UKI's own `.cmdline` must win — else anyone
 * who can write the ESP could change `root=` or `init=`. So a trial is never known from
 * the command line alone: icenet-update reads the boot state (a counting entry of the
 * running slot, `+N` in its file name, is a trial), as it already did after a mark-good.
 * Two UKIs per slot (one with `icenet.trial=1`) would double the ESP's kernels for one
 * flag; the entry names already say it. With Secure Boot off the stub takes the entry's
 * options instead of its own, which are the same line plus the trial flag.
 *
 * Board fields (`boot:` in boards/<board>.yaml):
 *   efi   the Debian systemd-boot-efi package of the board's architecture, pinned (the
 *         loader and the UKI stub come from it)
 *
 * ```ts
 * loaderConf(); // "timeout 0\neditor no\n"
 * loaderEntry({ title: "IceNet-OS", linux: "/slot-a/vmlinuz", options: "root=..." });
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

/** Where systemd-boot-efi installs the loader and the stub. */
const EFI_DIR = "usr/lib/systemd/boot/efi";

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
      member: `${EFI_DIR}/systemd-boot${EFI_ARCH[board.arch]}.efi`,
      signed: true,
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

/**
 * A slot: its signed UKI (the kernel with the slot's command line), and the command line
 * again, which icenet-update puts in the options of the entry it writes.
 */
function slotFiles(board: Board, cmdline: string): BootFile[] {
  return [
    {
      path: board.boot.kernelName,
      uki: {
        cmdline,
        source: "systemd-boot-efi",
        stub: `${EFI_DIR}/linux${EFI_ARCH[board.arch]}.efi.stub`,
      },
    },
    { path: "cmdline.txt", text: cmdline + "\n" },
  ];
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
