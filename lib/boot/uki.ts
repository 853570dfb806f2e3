/**
 * A unified kernel image (UKI): one EFI program holding the kernel, its command line and
 * the os-release of the system, built on systemd's EFI stub (`linuxx64.efi.stub` of
 * Debian's systemd-boot-efi) the way systemd 252 documents it and ukify does: each part
 * goes in as a PE section (`.osrel`, `.cmdline`, `.linux`, optionally `.initrd`) with
 * `objcopy --add-section`, placed at the first section-aligned address after the stub's
 * last section and after one another. The stub, started by the firmware or systemd-boot,
 * boots the `.linux` section with the `.cmdline` section — under Secure Boot ignoring any
 * command line it is given — so signing the one file (lib/secureboot/sign.ts) covers the
 * kernel and its command line together.
 *
 * Reproducible: the same inputs give the same bytes. objcopy stamps the current time into
 * the PE header; the builder puts the stub's own stamp back and recomputes the checksum.
 *
 * ```ts
 * const sections = await buildUki({ stub, kernel: "bzImage", cmdline: "console=ttyS0 ...",
 *   osRelease: 'NAME="IceNet-OS"\n' }, "vmlinuz.efi", tmp);
 * ```
 */
import { join } from "node:path";
import $ from "dax";
import { readPe, setPeTimestamp } from "./pe.ts";

/** The parts of a UKI. */
export interface UkiParts {
  /** systemd's EFI stub (`usr/lib/systemd/boot/efi/linuxx64.efi.stub`). */
  stub: string;
  /** The kernel image (an x86 bzImage with the EFI handover protocol). */
  kernel: string;
  /** The kernel command line (one line). */
  cmdline: string;
  /** The os-release text of the system the kernel boots. */
  osRelease: string;
  /** An initramfs, if any. */
  initrd?: string;
}

/** Where a part went: its section, virtual address (with the image base) and size. */
export interface UkiSection {
  name: string;
  vma: bigint;
  size: number;
}

/** Sections start on page boundaries (a multiple of any PE section alignment up to 4 KiB). */
const PAGE = 0x1000;

function alignUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

/**
 * The addresses of the added sections, given the stub's headers and each part's size:
 * the first after the end of the stub's last section, each aligned.
 */
export function ukiLayout(
  stub: Uint8Array,
  parts: { name: string; size: number }[],
): UkiSection[] {
  const pe = readPe(stub);
  const align = Math.max(pe.sectionAlignment, PAGE);
  let next = alignUp(Math.max(...pe.sections.map((s) => s.rva + s.virtualSize)), align);
  return parts.map(({ name, size }) => {
    const s = { name, vma: pe.imageBase + BigInt(next), size };
    next = alignUp(next + size, align);
    return s;
  });
}

/** Build the UKI of `parts` at `out` (unsigned); `tmp` holds the small part files. */
export async function buildUki(parts: UkiParts, out: string, tmp: string): Promise<UkiSection[]> {
  await Deno.mkdir(tmp, { recursive: true });
  const osrel = join(tmp, "os-release");
  const cmdline = join(tmp, "cmdline");
  await Deno.writeTextFile(osrel, parts.osRelease);
  if (/[\n\0]/.test(parts.cmdline.trimEnd())) {
    throw new Error(
      `UKI: the kernel command line must be one line: ${JSON.stringify(parts.cmdline)}`,
    );
  }
  await Deno.writeTextFile(cmdline, parts.cmdline.trimEnd());
  const files: [string, string][] = [
    [".osrel", osrel],
    [".cmdline", cmdline],
    [".linux", parts.kernel],
    ...(parts.initrd ? [[".initrd", parts.initrd] as [string, string]] : []),
  ];
  const stub = await Deno.readFile(parts.stub);
  const sizes = await Promise.all(files.map(async ([, f]) => (await Deno.stat(f)).size));
  const layout = ukiLayout(stub, files.map(([name], i) => ({ name, size: sizes[i] })));
  const args = layout.flatMap((s, i) => [
    "--add-section",
    `${s.name}=${files[i][1]}`,
    "--change-section-vma",
    `${s.name}=0x${s.vma.toString(16)}`,
    "--set-section-flags",
    `${s.name}=data,readonly`,
  ]);
  const r = await $`objcopy ${args} ${parts.stub} ${out}`.stderr("piped").noThrow();
  if (r.code !== 0) throw new Error(`UKI: objcopy failed: ${r.stderr.trim()}`);
  const bytes = await Deno.readFile(out);
  setPeTimestamp(bytes, readPe(stub).timestamp);
  await Deno.writeFile(out, bytes);
  return layout;
}
