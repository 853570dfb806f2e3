/**
 * Boards: one YAML file per board under `boards/`, validated on load. A wrong field
 * or bad YAML is an error naming file, line and field.
 */
import { join } from "node:path";
import { z } from "zod";
import { loadYamlFile } from "./yaml_file.ts";

const Size = z.string().regex(/^\d+[KMG]$/, "size like 64M or 1G");

const Partition = z.strictObject({
  /** Label and role: boot, root, data. */
  name: z.string().regex(/^[a-z][a-z0-9-]*$/),
  size: Size,
  /** vfat (boot/ESP), squashfs (read-only root), ext4 (data). */
  fs: z.enum(["vfat", "squashfs", "ext4"]),
  /** MBR type byte (e.g. "0c") or GPT type GUID alias (esp, linux). */
  type: z.string(),
});

/** The fields of one QEMU machine a board's image boots on. */
const QemuFields = {
  /** QEMU program, e.g. qemu-system-aarch64. */
  system: z.string(),
  /** QEMU machine (`-M`), also its name for `--machine`. */
  machine: z.string(),
  cpu: z.string().optional(),
  /** Guest RAM (`-m`); the raspi machines take only their board's size. */
  memory: z.string(),
  /** Device tree used when QEMU boots the kernel directly. */
  dtb: z.string().optional(),
  /** Console device inside the guest under QEMU. */
  console: z.string(),
  /** Root device inside the guest under QEMU. */
  rootDevice: z.string(),
  /**
   * Which QEMU runs it: `host`, the one on PATH (Debian 12's 7.2), or `stage`, the one
   * the `qemu` stage unpacks from Debian's backports, for machines 7.2 lacks.
   */
  from: z.enum(["host", "stage"]).optional(),
  /**
   * Device-tree nodes (paths) of hardware the machine does not model, whose drivers
   * would fault on it: marked `status = "disabled"` in the copy of the tree QEMU boots,
   * never in the image, so a real board keeps them.
   */
  disableNodes: z.array(z.string().regex(/^\/[^\s]*$/, "a node path like /soc/clock@7ef00000"))
    .optional(),
  /**
   * Device-tree properties deleted in that same copy: what points a device at hardware
   * the machine lacks (a supply or power sequence behind a firmware call it does not
   * answer), so the device probes without it.
   */
  deleteProperties: z.array(z.strictObject({
    node: z.string().regex(/^\/[^\s]*$/, "a node path like /soc/mmc@7e300000"),
    property: z.string().regex(/^[\w,.#+-]+$/, "a property name like mmc-pwrseq"),
  })).optional(),
  /**
   * The serial console this machine boots with, in place of the last `console=` of the
   * image's command line, when the machine's model of the image's own console UART
   * does not work; the image keeps its console.
   */
  serialConsole: z.string().regex(/^tty[A-Za-z]+\d+$/, "a device like ttyAMA0").optional(),
  /** This boot's name in figures (`bench: boot_to_login_<label>`); default: the board's. */
  label: z.string().regex(/^[a-z0-9_-]+$/).optional(),
};

/** `fields` with every field optional. */
function partial<T extends Record<string, z.ZodType>>(fields: T) {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.optional()])) as {
    [K in keyof T]: z.ZodOptional<T[K]>;
  };
}

export const BoardSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9-]+$/),
  description: z.string(),
  /** Our architecture name. */
  arch: z.enum(["x86_64", "aarch64", "armv7"]),
  /** GNU triple of the musl toolchain we build. */
  triple: z.string(),
  /** Prefix of Debian's cross compiler (empty for native x86_64). */
  cross: z.string(),
  /** Debian architecture name (for packages fetched from Debian). */
  debianArch: z.enum(["amd64", "arm64", "armhf"]),
  /** Compiler flags for the CPU family (e.g. -mfpu for armv7 hard-float). */
  cflags: z.string().default(""),
  kernel: z.strictObject({
    /** Kernel ARCH= value. */
    arch: z.enum(["x86", "arm64", "arm"]),
    /** make target, e.g. bzImage, Image, zImage. */
    target: z.string(),
    /** Path of the built image inside the kernel tree. */
    image: z.string(),
    /** Config fragment under kernel/. */
    fragment: z.string(),
    /** Device trees to build and install (paths under arch/<arch>/boot/dts). */
    dtbs: z.array(z.string()).default([]),
    /** Kernel command line console. */
    console: z.string(),
  }),
  boot: z.strictObject({
    /** How the board boots. */
    loader: z.enum(["rpi-firmware", "systemd-boot"]),
    /** Kernel file name on the boot partition. */
    kernelName: z.string(),
  }),
  partitions: z.strictObject({
    table: z.enum(["mbr", "gpt"]),
    list: z.array(Partition).min(1),
  }),
  qemu: z.strictObject({
    ...QemuFields,
    /**
     * More machines the image also boots on, chosen by name (`deno task boot <board>
     * --machine NAME`); a field left out is the default machine's above.
     */
    others: z.array(z.strictObject({
      ...partial(QemuFields),
      machine: z.string(),
      label: z.string().regex(/^[a-z0-9_-]+$/),
    })).default([]),
  }),
}).superRefine((board, ctx) => {
  // Machines are chosen by name and figures named by label: each must be unique.
  const names = [board.qemu.machine];
  const labels = [board.qemu.label ?? board.name];
  board.qemu.others.forEach((o, i) => {
    for (const [field, seen] of [["machine", names], ["label", labels]] as const) {
      if (seen.includes(o[field])) {
        ctx.addIssue({
          code: "custom",
          path: ["qemu", "others", i, field],
          message: `"${o[field]}" is used twice`,
        });
      }
      seen.push(o[field]);
    }
  });
});

export type Board = z.output<typeof BoardSchema>;

/** Names of the boards defined under `<root>/boards`. */
export function boardNames(root: string): string[] {
  const names: string[] = [];
  for (const e of Deno.readDirSync(join(root, "boards"))) {
    if (e.isFile && e.name.endsWith(".yaml")) names.push(e.name.slice(0, -5));
  }
  return names.sort();
}

/** Load and validate `boards/<name>.yaml`; the file name must match its `name`. */
export async function loadBoard(root: string, name: string): Promise<Board> {
  const file = join(root, "boards", `${name}.yaml`);
  try {
    Deno.statSync(file);
  } catch {
    throw new Error(`unknown board "${name}" (have: ${boardNames(root).join(", ")})`);
  }
  const board = await loadYamlFile(file, BoardSchema);
  if (board.name !== name) {
    throw new Error(`${file}: name: "${board.name}" does not match the file name "${name}"`);
  }
  return board;
}

/** One QEMU machine of a board, every field resolved. */
export interface QemuMachine {
  system: string;
  machine: string;
  cpu?: string;
  memory: string;
  dtb?: string;
  console: string;
  rootDevice: string;
  from: "host" | "stage";
  disableNodes: string[];
  deleteProperties: { node: string; property: string }[];
  serialConsole?: string;
  label: string;
}

/** Every QEMU machine of `board`: the default (`qemu:`) first, then `qemu.others`. */
export function qemuMachines(board: Board): QemuMachine[] {
  const { others, ...base } = board.qemu;
  const first: QemuMachine = {
    ...base,
    from: base.from ?? "host",
    disableNodes: base.disableNodes ?? [],
    deleteProperties: base.deleteProperties ?? [],
    label: base.label ?? board.name,
  };
  const defined = <T extends object>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
  return [first, ...others.map((o) => ({ ...first, ...defined(o) }))];
}

/**
 * The QEMU machine `name` of `board` (default: its first). An unknown name is an
 * error naming the board file and the machines it has.
 *
 * ```ts
 * qemuMachine(await loadBoard(root, "rpi"), "raspi4b").dtb; // "bcm2711-rpi-4-b.dtb"
 * ```
 */
export function qemuMachine(board: Board, name?: string): QemuMachine {
  const all = qemuMachines(board);
  if (name === undefined) return all[0];
  const m = all.find((x) => x.machine === name);
  if (!m) {
    throw new Error(
      `boards/${board.name}.yaml: qemu: no machine "${name}" (have: ${
        all.map((x) => x.machine).join(", ")
      })`,
    );
  }
  return m;
}
