/**
 * How each board's image runs under QEMU, as its boot kind says (lib/boot/kind.ts):
 *   - `uefi` (systemd-boot, zima): OVMF boots the image's own ESP (the loader, its
 *     entry, the kernel), disk on virtio-blk, user networking; KVM when the probe says
 *     it works.
 *   - `kernel` (the Pi firmware, rpi / rpi32): QEMU cannot run the Pi GPU firmware, so
 *     the kernel, device tree and command line are taken from the image's own boot
 *     partition (mtools) and booted directly, with the image as the SD card (padded to
 *     a power of two, as QEMU's SD model requires). The device-tree nodes of hardware
 *     the machine does not model (the board's `disableNodes`, `deleteProperties`) are
 *     edited in that copy of the tree only, and a machine's `serialConsole` replaces the
 *     command line's.
 *   - `u-boot` (rpi / rpi32 with U-Boot): QEMU starts the image's own U-Boot in the
 *     GPU firmware's place, and U-Boot boots the SD card as on the board (its boot
 *     script, the slot's kernel). aarch64: as `-kernel` (a raw 64-bit image lands at
 *     0x80000, U-Boot's base) with the machine's tree in x0, as the firmware passes it.
 *     armv7: QEMU puts a raw 32-bit `-kernel` at 0x10000, not at U-Boot's 0x8000, and
 *     as `-bios` all four cores run it at once (it dies at random); wrapped as a
 *     legacy kernel image loading at 0x8000, QEMU boots it as the firmware would: the
 *     first core with the tree in r2, the others parked on their mailboxes.
 *     A machine with `skipLoader` (raspi4b: the kernel U-Boot starts there stalls in
 *     its first second) boots slot a's kernel directly instead.
 * A board may boot on several machines (`qemu.others` in its YAML, e.g. rpi on raspi3b
 * and raspi4b); `machine` picks one by name, the default is the first. Each runs on
 * the QEMU its board names (the host's, or the qemu stage's).
 * The image is always copied first (the guest writes to its disk), and the copy is
 * padded to a power of two — QEMU's SD model needs that, and on every board it is a
 * card or disk bigger than the image, as a real one is, so the data partition grows.
 *
 * ```ts
 * const spec = await boardVm(board, "icenet-zima.img", tmpDir, { forwards: [...] });
 * const vm = startQemu(spec);
 * ```
 */
import { basename, dirname, join } from "node:path";
import $ from "dax";
import { type Board, type QemuMachine, qemuMachine } from "../board.ts";
import type { QemuBoot } from "../boot/kind.ts";
import { bootKind } from "../boot/registry.ts";
import { legacyImage } from "../boot/uboot_image.ts";
import { EXTRA_ARGS_FILE } from "../boot/uboot_script.ts";
import { copySparse } from "../image/disk.ts";
import { fatCopyIn, fatCopyOut } from "../image/fat.ts";
import { slotDir } from "../image/layout.ts";
import { which } from "../tools.ts";
import { chooseAccel } from "./kvm.ts";
import type { QemuSpec } from "./machine.ts";
import { prepareOvmf } from "./ovmf.ts";
import { qemuProgram } from "./program.ts";

/** The project root (boards, tasks), for the qemu stage. */
const ROOT = new URL("../..", import.meta.url).pathname;

/** Where the 32-bit Pi U-Boot builds run from (their CONFIG_TEXT_BASE). */
const UBOOT32_BASE = 0x8000;

/** Options of a board VM. */
export interface BoardVmOptions {
  /** Host loopback port -> guest port forwards (PC boards with user networking). */
  forwards?: { host: number; guest: number }[];
  /** Exit QEMU when the guest reboots. */
  noReboot?: boolean;
  /** Use this disk as it is (a previous boot's copy) instead of copying the image. */
  reuseDisk?: boolean;
  /**
   * Files to put on the boot partition first (path -> text or bytes), as a person
   * would after flashing, or as an update leaves them (`slot-b/`, `icenet.env`).
   */
  bootFiles?: Record<string, string | Uint8Array>;
  /** QEMU's human monitor at `<work>/monitor.sock` (e.g. to reset the board). */
  monitor?: boolean;
  /** A screen and a USB keyboard, with QEMU's monitor at `<work>/monitor.sock` (PC boards). */
  screen?: boolean;
  /** Raw disk images on the PC's SATA controller (QemuSpec.sataDisks). */
  sataDisks?: string[];
  /** The board's QEMU machine to boot on, by name (default: its first). */
  machine?: string;
  /** The project root, where the qemu stage comes from (default: this checkout). */
  root?: string;
}

/** Partition start offsets (bytes) of a disk image, by number (1-based). */
export async function partitionOffsets(image: string): Promise<number[]> {
  const dump = JSON.parse(await $`sfdisk -J ${image}`.text()).partitiontable;
  const sector = dump.sectorsize ?? 512;
  return dump.partitions.map((p: { start: number }) => p.start * sector);
}

/** The smallest power of two >= n. */
export function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Which -serial index carries a console device name on a QEMU machine. */
export function serialIndexOf(machine: string, consoleDev: string): number {
  // raspi: serial 0 is the PL011 (ttyAMA0), serial 1 the mini UART (ttyS1).
  if (machine.startsWith("raspi")) return consoleDev.startsWith("ttyS") ? 1 : 0;
  const m = /^ttyS(\d+)$/.exec(consoleDev);
  return m ? Number(m[1]) : 0;
}

/** The console device of the last console= argument of a command line. */
export function lastConsole(cmdline: string): string {
  const all = [...cmdline.matchAll(/(?:^|\s)console=([^,\s]+)/g)].map((m) => m[1]);
  if (!all.length) throw new Error(`kernel command line has no console=: ${cmdline}`);
  return all[all.length - 1];
}

/** Build the QEMU spec that boots `image` (copied into `work`) for `board`. */
export async function boardVm(
  board: Board,
  image: string,
  work: string,
  opts: BoardVmOptions = {},
): Promise<QemuSpec> {
  const m = qemuMachine(board, opts.machine);
  const disk = join(work, "disk.img");
  if (!opts.reuseDisk) {
    await copySparse(image, disk);
    await Deno.truncate(disk, nextPowerOfTwo((await Deno.stat(disk)).size + 1));
  }
  for (const [name, content] of Object.entries(opts.bootFiles ?? {})) {
    const file = join(work, `boot-file-${name.replaceAll("/", "_")}`);
    if (typeof content === "string") await Deno.writeTextFile(file, content);
    else await Deno.writeFile(file, content);
    await fatCopyIn(disk, (await partitionOffsets(disk))[0], file, name);
  }
  const program = await qemuProgram(opts.root ?? ROOT, board, m);
  const base = {
    system: program.system,
    options: program.options,
    machine: m.machine,
    memory: m.memory,
    cpu: m.cpu,
    accel: await chooseAccel({ system: program.system, machine: m.machine, cpu: m.cpu }),
    noReboot: opts.noReboot,
    devices: m.devices,
    sataDisks: opts.sataDisks,
    ...(opts.monitor ? { monitor: join(work, "monitor.sock") } : {}),
  };
  return { ...base, ...await BOOTS[bootKind(board).qemu]({ board, m, image, work, disk, opts }) };
}

/** What a boot method needs to know. */
interface BootArgs {
  board: Board;
  m: QemuMachine;
  image: string;
  work: string;
  disk: string;
  opts: BoardVmOptions;
}

/** The machine-independent part of the spec, by how the boot kind boots under QEMU. */
const BOOTS: Record<QemuBoot, (a: BootArgs) => Promise<Partial<QemuSpec>>> = {
  uefi: async ({ m, work, disk, opts }) => ({
    ...(opts.screen ? { screen: { monitor: join(work, "monitor.sock") } } : {}),
    firmware: await prepareOvmf(work),
    disk: { file: disk, bus: "virtio" },
    net: { forwards: opts.forwards ?? [] },
    serialIndex: serialIndexOf(m.machine, m.console),
  }),
  kernel: async ({ board, m, image, work, disk }) => {
    const boot = (await partitionOffsets(image))[0];
    const files = join(work, "boot");
    await Deno.mkdir(files, { recursive: true });
    // The board schema requires it for this boot method (lib/board.ts).
    const dtb = m.dtb!;
    // What config.txt's os_prefix points the firmware at: slot a's directory.
    for (const f of [board.boot.kernelName, dtb, "cmdline.txt"]) {
      await fatCopyOut(image, boot, `${slotDir("a")}/${f}`, join(files, f));
    }
    await editTree(board, m, join(files, dtb));
    const imageCmdline = (await Deno.readTextFile(join(files, "cmdline.txt"))).trim();
    const cmdline = m.serialConsole
      ? replaceLastConsole(imageCmdline, m.serialConsole)
      : imageCmdline;
    return {
      kernel: join(files, board.boot.kernelName),
      dtb: join(files, dtb),
      append: [cmdline, ...m.append].join(" "),
      disk: { file: disk, bus: "sd" },
      serialIndex: serialIndexOf(m.machine, lastConsole(cmdline)),
    };
  },
  "u-boot": async ({ board, m, image, work, disk }) => {
    const boot = (await partitionOffsets(image))[0];
    const files = join(work, "boot");
    await Deno.mkdir(files, { recursive: true });
    // The board schema requires a tree for this boot method (lib/board.ts).
    const dtb = m.dtb!;
    const { loader, cmdlineFile } = bootKind(board).qemuLoader!(board, dtb);
    for (const f of [loader, dtb, cmdlineFile]) {
      await fatCopyOut(image, boot, f, join(files, basename(f)));
    }
    await editTree(board, m, join(files, dtb));
    const text = await Deno.readTextFile(join(files, basename(cmdlineFile)));
    const imageCmdline = /^bootargs=(.*)$/m.exec(text)?.[1];
    if (!imageCmdline) throw new Error(`${image}: ${cmdlineFile} has no bootargs= line`);
    const cmdline = m.serialConsole
      ? replaceLastConsole(imageCmdline, m.serialConsole)
      : imageCmdline;
    const common = {
      disk: { file: disk, bus: "sd" as const },
      serialIndex: serialIndexOf(m.machine, lastConsole(cmdline)),
    };
    if (m.skipLoader) {
      // Slot a's kernel beside its command line, booted as the kernel method does.
      const kernel = join(dirname(cmdlineFile), board.boot.kernelName);
      await fatCopyOut(image, boot, kernel, join(files, board.boot.kernelName));
      const dt = join(files, dtb);
      const append = [cmdline, ...m.append].join(" ");
      return { ...common, kernel: join(files, board.boot.kernelName), dtb: dt, append };
    }
    if (m.append.length) {
      // The machine's kernel arguments, in the copy QEMU boots: boot.scr adds them to
      // every slot's command line (a real board's card has no such file).
      const extra = join(files, EXTRA_ARGS_FILE);
      await Deno.writeTextFile(extra, `icenet_args=${m.append.join(" ")}\n`);
      await fatCopyIn(disk, boot, extra, EXTRA_ARGS_FILE);
    }
    if (board.arch === "aarch64") {
      return { ...common, kernel: join(files, loader), dtb: join(files, dtb) };
    }
    const wrapped = join(files, `${loader}.uimg`);
    await Deno.writeFile(
      wrapped,
      legacyImage(await Deno.readFile(join(files, loader)), {
        arch: "arm",
        type: "kernel",
        load: UBOOT32_BASE,
        entry: UBOOT32_BASE,
        name: "U-Boot",
      }),
    );
    return { ...common, kernel: wrapped, dtb: join(files, dtb) };
  },
};

/** `cmdline` with the device of its last `console=` replaced by `dev` (options kept). */
export function replaceLastConsole(cmdline: string, dev: string): string {
  const old = lastConsole(cmdline);
  const at = cmdline.lastIndexOf(`console=${old}`);
  return cmdline.slice(0, at) + `console=${dev}` + cmdline.slice(at + `console=${old}`.length);
}

/**
 * Apply the machine's tree edits to `dtb` (a copy taken out of the image: the image
 * itself, which real boards boot, keeps its tree): `disableNodes` marked `status =
 * "disabled"`, `deleteProperties` removed. A node or property the tree lacks is an
 * error naming the board file, so a stale path cannot go unnoticed.
 */
export async function editTree(board: Board, m: QemuMachine, dtb: string): Promise<void> {
  const edits = [
    ...m.disableNodes.map((node) => ({
      field: "disableNodes",
      what: `disable ${node}`,
      args: ["-t", "s", dtb, node, "status", "disabled"],
    })),
    ...m.deleteProperties.map(({ node, property }) => ({
      field: "deleteProperties",
      what: `delete ${node} ${property}`,
      args: ["-d", dtb, node, property],
    })),
  ];
  if (edits.length && !which("fdtput")) {
    throw new Error(
      `fdtput is missing (Debian package device-tree-compiler): the ${m.machine} boot ` +
        `edits its device tree with it`,
    );
  }
  for (const e of edits) {
    const r = await $`fdtput ${e.args}`.stderr("piped").noThrow();
    if (r.code !== 0) {
      throw new Error(
        `boards/${board.name}.yaml: qemu machine ${m.machine}: ${e.field}: ` +
          `cannot ${e.what} in ${m.dtb}: ${r.stderr.trim()}`,
      );
    }
  }
}
