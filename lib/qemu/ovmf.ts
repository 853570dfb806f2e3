/**
 * OVMF (UEFI for QEMU x86_64) firmware files. The code image is used read-only; the
 * variable store is copied per boot, since the guest writes to it. The Secure Boot pair
 * is OVMF's secure-boot build (SMM; QEMU must give it a secure flash) with an empty
 * variable store into which a key set is enrolled (lib/qemu/ovmf_vars.ts).
 */
import { join } from "node:path";
import { addVariables, secureBootVariables } from "./ovmf_vars.ts";

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
  /** The secure-boot build: QEMU needs SMM and a secure flash for it. */
  secureBoot?: boolean;
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

/** Debian's OVMF build with Secure Boot (and SMM), and its empty 4 MiB variable store. */
const SECURE_BOOT: [string, string] = [
  "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd",
  "/usr/share/OVMF/OVMF_VARS_4M.fd",
];

/**
 * OVMF's secure-boot build with a variable store in `dir`: the signature lists `esl`
 * enrolled as PK, KEK and db, stamped `time` (Secure Boot on); without `esl`, empty
 * (setup mode: Secure Boot off until a PK is enrolled).
 */
export async function prepareSecureBootOvmf(
  dir: string,
  esl: { PK: Uint8Array; KEK: Uint8Array; db: Uint8Array } | undefined,
  time: Date,
): Promise<Ovmf> {
  const [code, vars] = SECURE_BOOT;
  for (const f of SECURE_BOOT) {
    try {
      await Deno.stat(f);
    } catch {
      throw new Error(`${f} not found: install the Debian package ovmf (bookworm or later)`);
    }
  }
  const copy = join(dir, "OVMF_VARS.secboot.fd");
  const empty = await Deno.readFile(vars);
  await Deno.writeFile(copy, esl ? addVariables(empty, secureBootVariables(esl, time)) : empty);
  return { code, vars: copy, secureBoot: true };
}
