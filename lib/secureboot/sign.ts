/**
 * Sign an EFI program for Secure Boot with `sbsign` (Debian's sbsigntool): an
 * Authenticode signature by a db key, checked at once with `sbverify`.
 *
 * Reproducible: sbsign's PKCS#7 signature carries a signing time (OpenSSL adds the
 * current one), the only thing in it that is not a function of the program and the key
 * (RSA PKCS#1 v1.5 signatures are deterministic). It runs under `faketime` (Debian's
 * faketime, libfaketime) with the clock stopped at SOURCE_DATE_EPOCH, so the same program
 * and key give the same signed bytes.
 *
 * ```ts
 * await signEfi((await secureBootKeys()).db, "vmlinuz.unsigned.efi", "vmlinuz.efi");
 * ```
 */
import $ from "dax";
import { SOURCE_DATE_EPOCH } from "../stage_env.ts";
import type { KeyPair } from "./keys.ts";

/** `faketime`'s stopped-clock form of SOURCE_DATE_EPOCH ("2025-01-01 00:00:00", UTC). */
export function signingTime(epoch = Number(SOURCE_DATE_EPOCH)): string {
  return new Date(epoch * 1000).toISOString().replace("T", " ").slice(0, 19);
}

/** Run `cmd` with the clock stopped at the signing time (UTC). */
export function atSigningTime(args: string[]): ReturnType<typeof $> {
  return $`faketime -f ${signingTime()} ${args}`.env({ TZ: "UTC" });
}

/** Sign `input` with `pair` (a db key) into `output`, and verify the result against its cert. */
export async function signEfi(pair: KeyPair, input: string, output: string): Promise<void> {
  const sign = await atSigningTime([
    "sbsign",
    "--key",
    pair.key,
    "--cert",
    pair.cert,
    "--output",
    output,
    input,
  ]).stdout("piped").stderr("piped").noThrow();
  if (sign.code !== 0) throw new Error(`sbsign ${input}: ${sign.stderr.trim()}`);
  const check = await $`sbverify --cert ${pair.cert} ${output}`.stdout("piped").stderr("piped")
    .noThrow();
  if (check.code !== 0) {
    throw new Error(`sbverify ${output}: ${(check.stdout + check.stderr).trim()}`);
  }
}
