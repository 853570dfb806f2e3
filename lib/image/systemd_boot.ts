/**
 * systemd-boot configuration on the EFI system partition: loader/loader.conf and one
 * entry per kernel (the Boot Loader Specification's type #1 entries).
 *
 * ```ts
 * loaderConf("icenet.conf"); // "default icenet.conf\ntimeout 0\n..."
 * loaderEntry({ title: "IceNet-OS", linux: "/vmlinuz", options: "root=..." });
 * ```
 */

/** loader.conf: boot `entry` at once (press a key during boot for the menu). */
export function loaderConf(entry: string, timeout = 0): string {
  return `default ${entry}\ntimeout ${timeout}\neditor no\n`;
}

/** One boot entry. */
export interface LoaderEntry {
  title: string;
  /** Kernel path on the ESP (an EFI-stub kernel). */
  linux: string;
  /** Kernel command line. */
  options: string;
  /** Optional initramfs path on the ESP. */
  initrd?: string;
}

/** The text of loader/entries/<name>.conf. */
export function loaderEntry(e: LoaderEntry): string {
  const lines = [`title ${e.title}`, `linux ${e.linux}`];
  if (e.initrd) lines.push(`initrd ${e.initrd}`);
  lines.push(`options ${e.options}`);
  return lines.join("\n") + "\n";
}

/** Where UEFI firmware looks for a boot loader on removable media, per architecture. */
export const EFI_FALLBACK: Record<string, string> = {
  x86_64: "EFI/BOOT/BOOTX64.EFI",
  aarch64: "EFI/BOOT/BOOTAA64.EFI",
};
