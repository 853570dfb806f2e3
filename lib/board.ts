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
    system: z.string(),
    machine: z.string(),
    cpu: z.string().optional(),
    memory: z.string(),
    /** Device tree used when QEMU boots the kernel directly. */
    dtb: z.string().optional(),
    /** Console device inside the guest under QEMU. */
    console: z.string(),
    /** Root device inside the guest under QEMU. */
    rootDevice: z.string(),
  }),
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
