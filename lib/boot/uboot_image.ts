/**
 * U-Boot's legacy image format (include/image.h): a 64-byte big-endian header with
 * CRCs of itself and of the data. `boot.scr` is one (a script image, what `source`
 * runs); made here, byte for byte what Debian's mkimage writes, so the image stage
 * needs no u-boot-tools and stays reproducible. Under QEMU, a 32-bit U-Boot wrapped
 * as a kernel image is what QEMU boots as the Pi firmware would (lib/qemu/board_vm.ts).
 *
 * ```ts
 * const scr = scriptImage("echo hi\n", { arch: "arm64", name: "IceNet-OS A/B boot" });
 * ```
 */
import { crc32 } from "./_crc32.ts";

/** U-Boot's architecture numbers (include/image.h). */
const ARCH = { arm: 2, arm64: 22 } as const;
/** Image types (include/image.h). */
const TYPE = { kernel: 2, script: 6 } as const;

/** What the header says. */
export interface LegacyImageOptions {
  arch: keyof typeof ARCH;
  type: keyof typeof TYPE;
  /** Image name, at most 31 bytes. */
  name: string;
  /** Load and entry address (kernel images). */
  load?: number;
  entry?: number;
  /** Header time stamp (seconds); default 0, as reproducible builds want. */
  time?: number;
}

/** `data` behind a legacy header (OS Linux, no compression). */
export function legacyImage(data: Uint8Array, opts: LegacyImageOptions): Uint8Array {
  const name = new TextEncoder().encode(opts.name);
  if (name.length > 31) throw new Error(`image name "${opts.name}" is over 31 bytes`);
  const out = new Uint8Array(64 + data.length);
  const h = new DataView(out.buffer);
  h.setUint32(0, 0x27051956); // magic
  h.setUint32(8, opts.time ?? 0);
  h.setUint32(12, data.length);
  h.setUint32(16, opts.load ?? 0);
  h.setUint32(20, opts.entry ?? 0);
  h.setUint32(24, crc32(data));
  out[28] = 5; // IH_OS_LINUX
  out[29] = ARCH[opts.arch];
  out[30] = TYPE[opts.type];
  out[31] = 0; // IH_COMP_NONE
  out.set(name, 32);
  h.setUint32(4, crc32(out.subarray(0, 64))); // header CRC, computed with itself zero
  out.set(data, 64);
  return out;
}

/**
 * `text` as a script image, the bytes `mkimage -A <arch> -O linux -T script -C none
 * -n <name> -d <file>` writes (with SOURCE_DATE_EPOCH = time): a multi-file body of
 * one file (its length, a zero end mark, the text; mkimage pads only files that
 * another follows).
 */
export function scriptImage(
  text: string,
  opts: Omit<LegacyImageOptions, "type" | "load" | "entry">,
): Uint8Array {
  const script = new TextEncoder().encode(text);
  const data = new Uint8Array(8 + script.length);
  new DataView(data.buffer).setUint32(0, script.length);
  data.set(script, 8);
  return legacyImage(data, { ...opts, type: "script" });
}
