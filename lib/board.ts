/**
 * Boards: one YAML file per board under `boards/`, validated on load. A wrong field
 * or bad YAML is an error naming file, line and field. Everything board-specific is
 * here as data (kernel tree, device trees, boot files, partitions, QEMU model); the
 * machinery for each kind of boot is chosen by `boot.loader` (lib/boot/registry.ts),
 * whose kind checks the rest of `boot:`.
 *
 * ```ts
 * const board = await loadBoard(root, "rpi");
 * board.kernel.dtbs; // ["broadcom/bcm2837-rpi-3-b.dtb", ...]
 * ```
 */
import { basename, join } from "node:path";
import { z } from "zod";
import { ARCHES } from "./arch.ts";
import type { BootIssue } from "./boot/kind.ts";
import { BOOT_KINDS, findBootKind } from "./boot/registry.ts";
import { SourceSchema } from "./fetch/source.ts";
import { loadYamlFile } from "./yaml_file.ts";

/** A fixed size, or `auto`: from the content, with headroom (lib/image/sizing.ts). */
const Size = z.string().regex(/^(\d+[KMG]|auto)$/, "size like 64M or 1G, or auto");

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
  /**
   * Devices QEMU adds to the machine (`-device`), e.g. `i6300esb`: the watchdog the guest's
   * init feeds, which resets the guest when it expires.
   */
  devices: z.array(z.string().regex(/^[a-z0-9][A-Za-z0-9_.,=-]*$/, "a -device value like i6300esb"))
    .optional(),
  /**
   * Kernel arguments added when QEMU boots the image's kernel directly (boot kinds that
   * do, e.g. the Pi firmware's), after the image's own command line.
   */
  append: z.array(z.string().regex(/^\S+$/, "one kernel argument, no spaces")).optional(),
  /** This boot's name in figures (`bench: boot_to_login_<label>`); default: the board's. */
  label: z.string().regex(/^[a-z0-9_-]+$/).optional(),
  /**
   * Boot slot a's kernel directly instead of the image's U-Boot (boot kind `u-boot`),
   * on a machine where QEMU cannot run that U-Boot's hand-over to the kernel.
   */
  skipLoader: z.boolean().optional(),
};

/** `fields` with every field optional. */
function partial<T extends Record<string, z.ZodType>>(fields: T) {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.optional()])) as {
    [K in keyof T]: z.ZodOptional<T[K]>;
  };
}

/** The `boot:` fields of every boot kind (each kind adds its own). */
const BootCommon = {
  loader: z.string(),
  /** Kernel file name on the boot partition. */
  kernelName: z.string(),
  /**
   * Kernel arguments the board's hardware wants on every command line, before the image
   * definition's own (`kernelArgs`): a driver quirk of its chipset, say.
   */
  args: z.array(z.string().regex(/^\S+$/, "one kernel argument, no spaces")).default([]),
};

/** A kernel tree pin: a source, its upstream version and the directory it unpacks to. */
export const KernelSourceSchema = SourceSchema.extend({
  /** Upstream version of the tree (its `make kernelversion`), e.g. 6.1.192. */
  version: z.string().regex(/^\d+\.\d+(\.\d+)?$/, "a kernel version like 6.1.192"),
  /** Top directory of the unpacked tarball, e.g. linux-source-6.1. */
  tree: z.string().regex(/^[^/]+$/, "a directory name"),
});

const BoardObject = z.strictObject({
  name: z.string().regex(/^[a-z0-9-]+$/),
  description: z.string(),
  /** Our architecture name. */
  arch: z.enum(ARCHES),
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
    /** The kernel tree to build, if not the default pin (lib/kernel_source.ts: Linux 6.1). */
    source: KernelSourceSchema.optional(),
  }),
  /**
   * How the board boots: `loader` picks the boot kind (lib/boot/registry.ts), whose own
   * fields (firmware, config filters, ...) are checked against the kind's schema.
   */
  boot: z.looseObject(BootCommon),
  /**
   * What the board's hardware needs in every image it makes, added to the image
   * definition's packages (Buildroot's board firmware options): radio firmware, say.
   */
  packages: z.array(z.string().regex(/^[a-z0-9][a-z0-9+._-]*$/, "a package name")).default([]),
  partitions: z.strictObject({
    table: z.enum(["mbr", "gpt"]),
    list: z.array(Partition).min(1),
  }),
  /** The QEMU model the image boots on; a board without one is built and checked by layout only. */
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
  }).optional(),
});

/** Machines are chosen by name and figures named by label: each must be unique. */
function uniqueMachines(board: Board): BootIssue[] {
  if (!board.qemu) return [];
  const issues: BootIssue[] = [];
  const names = [board.qemu.machine];
  const labels = [board.qemu.label ?? board.name];
  board.qemu.others.forEach((o, i) => {
    for (const [field, seen] of [["machine", names], ["label", labels]] as const) {
      if (seen.includes(o[field])) {
        issues.push({ path: ["qemu", "others", i, field], message: `"${o[field]}" is used twice` });
      }
      seen.push(o[field]);
    }
  });
  return issues;
}

/** The boot loader names a known kind, and `boot:` has that kind's fields. */
function bootIssues(board: Board): BootIssue[] {
  const kind = findBootKind(board.boot.loader);
  if (!kind) {
    return [{
      path: ["boot", "loader"],
      message: `unknown boot loader "${board.boot.loader}" (have: ${
        Object.keys(BOOT_KINDS).join(", ")
      })`,
    }];
  }
  const schema = z.strictObject({ ...BootCommon, ...kind.fields });
  const r = schema.safeParse(board.boot);
  if (r.success) return kind.check(board);
  return r.error.issues.map((i) => {
    const keys = (i as { keys?: string[] }).keys;
    if (i.code === "unrecognized_keys" && keys && !i.path.length) {
      return {
        path: ["boot", keys[0]],
        message: `unknown field for boot loader ${kind.name} (allowed: ${
          Object.keys(schema.shape).join(", ")
        })`,
      };
    }
    return {
      path: ["boot", ...i.path.map((p) => typeof p === "symbol" ? String(p) : p)],
      message: i.message.replace(/^Invalid input: /, ""),
    };
  });
}

/**
 * Each QEMU machine's device tree is one the kernel builds, and a kind that boots the
 * kernel directly under QEMU has one.
 */
function qemuTrees(board: Board): BootIssue[] {
  if (!board.qemu) return [];
  const built = board.kernel.dtbs.map((d) => basename(d));
  // The kernel kind boots the tree directly; U-Boot picks its build by it.
  const direct = findBootKind(board.boot.loader)?.qemu !== "uefi";
  const machines = [
    { m: board.qemu, path: ["qemu"] },
    ...board.qemu.others.map((m, i) => ({
      m: { ...m, dtb: m.dtb ?? board.qemu!.dtb },
      path: ["qemu", "others", i],
    })),
  ];
  const issues: BootIssue[] = [];
  for (const { m, path } of machines) {
    if (m.dtb && !built.includes(m.dtb)) {
      issues.push({
        path: [...path, "dtb"],
        message: `device tree "${m.dtb}" is not built (kernel.dtbs has: ${
          built.join(", ") || "none"
        })`,
      });
    } else if (m.append?.length && !direct) {
      issues.push({
        path: [...path, "append"],
        message: `QEMU boots a ${board.boot.loader} image through its own loader: ` +
          `it cannot add kernel arguments`,
      });
    } else if (!m.dtb && direct) {
      issues.push({
        path: [...path, "machine"],
        message: `machine ${m.machine}: QEMU boots a ${board.boot.loader} image's kernel ` +
          `directly, with a device tree: set dtb to one of kernel.dtbs`,
      });
    }
  }
  return issues;
}

/** A board file's schema: the fields, then the checks across them. */
export const BoardSchema = BoardObject.superRefine((board, ctx) => {
  const add = (issues: BootIssue[]) => {
    for (const i of issues) ctx.addIssue({ code: "custom", path: i.path, message: i.message });
  };
  add(uniqueMachines(board));
  const boot = bootIssues(board);
  add(boot);
  if (!boot.length) add(qemuTrees(board));
});

export type Board = z.output<typeof BoardObject>;

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

/** Why a board without a QEMU model does not boot under QEMU (boot tests skip with it). */
export function noQemuReason(board: Board): string {
  return `boards/${board.name}.yaml: qemu: none (no QEMU model of this board; ` +
    `it is built and checked by layout only)`;
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
  devices: string[];
  append: string[];
  label: string;
  skipLoader?: boolean;
}

/**
 * Every QEMU machine of `board`: the default (`qemu:`) first, then `qemu.others`; none
 * for a board without a QEMU model.
 */
export function qemuMachines(board: Board): QemuMachine[] {
  if (!board.qemu) return [];
  const { others, ...base } = board.qemu;
  const first: QemuMachine = {
    ...base,
    from: base.from ?? "host",
    disableNodes: base.disableNodes ?? [],
    deleteProperties: base.deleteProperties ?? [],
    devices: base.devices ?? [],
    append: base.append ?? [],
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
  if (!all.length) throw new Error(noQemuReason(board));
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
