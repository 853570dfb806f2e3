/**
 * The kernel command line of an IceNet image: what every boot kind so far puts where
 * its loader reads it (cmdline.txt, a loader entry); a kind may make its own.
 *
 * ```ts
 * kernelCmdline({ consoles: ["tty1", "ttyS0,115200"], root: "PARTUUID=1a2b3c4d-02" });
 * ```
 */
import type { Board } from "../board.ts";
import { type DiskPlan, type Slot, slotRoot } from "../image/layout.ts";
import { type Verity, VERITY_ROOT, verityArgs } from "../rootfs/verity.ts";

/** What goes on the kernel command line of an IceNet image. */
export interface CmdlineOptions {
  /** Kernel console(s), e.g. `ttyS0,115200`; the last one becomes /dev/console. */
  consoles: string[];
  /** Root device, e.g. `PARTUUID=1a2b3c4d-02`. */
  root: string;
  /** Data partition, handed to init as `icenet.data=`. */
  data?: string;
  /** Extra arguments appended as they are. */
  extra?: string[];
  /**
   * Wait for the root device to appear (default). Off for a verified root: dm-mod.waitfor
   * has waited for its partition, so a /dev/dm-0 that is missing was refused (a bad
   * table), and the kernel should panic and reboot (to the good slot) rather than wait.
   */
  rootwait?: boolean;
}

/** The kernel command line (one line, no trailing newline inside). */
export function kernelCmdline(opts: CmdlineOptions): string {
  const args = [
    ...opts.consoles.map((c) => `console=${c}`),
    `root=${opts.root}`,
    "rootfstype=squashfs",
    "ro",
    ...(opts.rootwait === false ? [] : ["rootwait"]),
    // /sbin/init (icenet-preinit) sets up the writable overlay, then execs icenet-init.
    "init=/sbin/init",
    // No Kconfig default exists for it (dmesg_restrict has one): hide kernel pointers.
    "sysctl.kernel.kptr_restrict=2",
    // A panic reboots after 5 s (the kernel's default is to hang): with no one near the
    // board, a trial boot whose kernel panics must get back to the boot loader's choice.
    "panic=5",
    ...(opts.data ? [`icenet.data=${opts.data}`] : []),
    ...(opts.extra ?? []),
  ];
  return args.join(" ");
}

/** The PARTUUID= form of partition `n` of a disk (MBR: label-id + number). */
export function partuuid(table: "mbr" | "gpt", labelId: string, n: number, uuid: string): string {
  if (table === "gpt") return `PARTUUID=${uuid}`;
  return `PARTUUID=${labelId.replace(/^0x/, "").padStart(8, "0")}-${String(n).padStart(2, "0")}`;
}

/** The kernel command line of `slot` of a board's image laid out as `disk`. */
export function imageCmdline(
  board: Board,
  disk: DiskPlan,
  slot: Slot = "a",
  verity?: Verity,
  extra: string[] = [],
): string {
  const root = slotRoot(disk, slot);
  const rootDev = partuuid(disk.table, disk.labelId, root.number, root.uuid);
  const data = disk.partitions.find((p) => p.name === "data");
  return kernelCmdline({
    // The screen first, the serial port last: it becomes /dev/console.
    consoles: ["tty1", board.kernel.console],
    // A verified root: the kernel maps the slot's partition through dm-verity first.
    root: verity ? VERITY_ROOT : rootDev,
    data: data && partuuid(disk.table, disk.labelId, data.number, data.uuid),
    // Which slot runs: icenet-update writes the other one. The board's hardware arguments
    // come before the image's, which may override them.
    extra: [
      ...(verity ? verityArgs(verity, rootDev) : []),
      `icenet.slot=${slot}`,
      ...board.boot.args,
      ...extra,
    ],
    rootwait: !verity,
  });
}
