/**
 * OVMF (UEFI for QEMU x86_64) firmware files. The code image is used read-only; the
 * variable store is copied per boot, since the guest writes to it.
 */
import { join } from "node:path";

/** Where distributions install OVMF (Debian: package ovmf). [code, vars] pairs. */
const CANDIDATES: [string, string][] = [
  ["/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"],
  ["/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"],
  ["/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd"],
  ["/usr/share/edk2-ovmf/x64/OVMF_CODE.fd", "/usr/share/edk2-ovmf/x64/OVMF_VARS.fd"],
];

/** Paths of the OVMF firmware pair. */
export interface Ovmf {
  code: string;
  /** A private, writable copy of the variable store. */
  vars: string;
}

/** Find OVMF and copy its variable store into `dir`. */
export async function prepareOvmf(dir: string): Promise<Ovmf> {
  for (const [code, vars] of CANDIDATES) {
    try {
      await Deno.stat(code);
      await Deno.stat(vars);
    } catch {
      continue;
    }
    const copy = join(dir, "OVMF_VARS.fd");
    await Deno.copyFile(vars, copy);
    return { code, vars: copy };
  }
  throw new Error(
    `UEFI firmware for QEMU not found (looked for ${CANDIDATES.map((c) => c[0]).join(", ")}); ` +
      `install the Debian package ovmf`,
  );
}
