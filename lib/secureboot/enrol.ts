/**
 * The files a user enrols a Secure Boot key set from (`deno task keys secureboot DIR`),
 * beside the keys in DIR:
 *   - `<name>.crt` / `<name>.cer`: the certificate, PEM and DER (firmware setup screens
 *     that read certificate files from a USB stick take the DER one);
 *   - `<name>.esl`: an EFI_SIGNATURE_LIST holding the certificate (`sbsiglist`), the
 *     variable's content as the firmware stores it;
 *   - `<name>.auth`: the signed variable update (`sbvarsign`): PK signed by PK, KEK by PK,
 *     db by KEK — what `efi-updatevar`-style tools and efivarfs writes take, and what
 *     setup screens offering "authenticated variable" files take;
 *   - `PK-delete.auth`: an empty PK update signed by PK, which puts the firmware back in
 *     setup mode (to enrol other keys later).
 * The .auth files are signed at SOURCE_DATE_EPOCH (lib/secureboot/sign.ts), so the same
 * keys give the same files.
 *
 * ```ts
 * const files = await writeEnrolFiles("sb-keys"); // makes missing keys first
 * ```
 */
import { join } from "node:path";
import $ from "dax";
import { KEY_NAMES, type KeyName, loadKeySet, makeKeySet, type SecureBootKeys } from "./keys.ts";
import { atSigningTime } from "./sign.ts";

/**
 * The owner GUID of IceNet's signature list entries (EFI_SIGNATURE_DATA.SignatureOwner):
 * a fixed value, so that the lists are a function of the certificates.
 */
export const OWNER_GUID = "6d0cd4a4-3f39-4d58-9c1c-2a4e1b7c5e10";

/** Who signs each variable's update. */
const SIGNER: Record<KeyName, KeyName> = { PK: "PK", KEK: "PK", db: "KEK" };

async function run(what: string, cmd: ReturnType<typeof $>): Promise<void> {
  const r = await cmd.stdout("piped").stderr("piped").noThrow();
  if (r.code !== 0) throw new Error(`${what}: ${(r.stderr || r.stdout).trim()}`);
}

/** `<name>.esl` of a key set's certificate (via its DER form `<name>.cer`). */
export async function signatureList(keys: SecureBootKeys, name: KeyName, dir: string) {
  const cer = join(dir, `${name}.cer`), esl = join(dir, `${name}.esl`);
  await run(
    `${name}: openssl x509`,
    $`openssl x509 -in ${keys[name].cert} -outform DER -out ${cer}`,
  );
  await run(
    `${name}: sbsiglist`,
    $`sbsiglist --owner ${OWNER_GUID} --type x509 --output ${esl} ${cer}`,
  );
  return { cer, esl };
}

/** A signed update of variable `name` with `data` (a file), by `signer`'s key. */
async function signedUpdate(
  keys: SecureBootKeys,
  name: KeyName,
  signer: KeyName,
  data: string,
  out: string,
): Promise<void> {
  await run(
    `${name}: sbvarsign`,
    atSigningTime([
      "sbvarsign",
      "--key",
      keys[signer].key,
      "--cert",
      keys[signer].cert,
      "--attr",
      "NON_VOLATILE,BOOTSERVICE_ACCESS,RUNTIME_ACCESS",
      "--output",
      out,
      name,
      data,
    ]),
  );
}

/** Make the key set in `dir` (what is missing) and write its enrolment files there. */
export async function writeEnrolFiles(dir: string): Promise<string[]> {
  await makeKeySet(dir);
  const keys = await loadKeySet(dir);
  const written: string[] = [];
  for (const name of KEY_NAMES) {
    const { cer, esl } = await signatureList(keys, name, dir);
    const auth = join(dir, `${name}.auth`);
    await signedUpdate(keys, name, SIGNER[name], esl, auth);
    written.push(keys[name].cert, cer, esl, auth);
  }
  const empty = join(dir, ".empty");
  await Deno.writeFile(empty, new Uint8Array());
  const del = join(dir, "PK-delete.auth");
  await signedUpdate(keys, "PK", "PK", empty, del);
  await Deno.remove(empty);
  written.push(del);
  return written;
}
