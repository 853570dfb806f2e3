/**
 * The UEFI Secure Boot key set: PK (the platform key: who may change KEK), KEK (who may
 * change db) and db (whose signatures the firmware accepts on EFI programs). Each is an
 * RSA-2048 key (`<name>.key`, PEM) with a self-signed X.509 certificate (`<name>.crt`,
 * PEM) in one directory.
 *
 * The set comes from the directory named by ICENET_SECUREBOOT_KEYS, else development keys
 * made once under the store (`<store>/secureboot-keys/development/`), said out loud
 * (lib/key_source.ts). `deno task keys secureboot DIR` makes a set for release builds and
 * the files to enrol it (lib/secureboot/enrol.ts).
 *
 * A certificate is a function of its key: fixed subject (`IceNet-OS db 1a2b3c4d`, the
 * key's fingerprint), serial, validity (2025-01-01 to 2099-12-31) and extensions, made
 * with `openssl ca -selfsign` — so the same key files give the same certificates, and two
 * builds signed with them the same bytes.
 *
 * ```ts
 * const keys = await secureBootKeys();
 * keys.db; // { key: ".../db.key", cert: ".../db.crt" }
 * ```
 */
import { join } from "node:path";
import $ from "dax";
import { sha256 } from "../hash.ts";
import { announceDevelopmentKey, keySource, type KeySpec } from "../key_source.ts";
import { defaultStoreDir } from "../store.ts";

/** The keys of a Secure Boot set, in enrolment order's reverse: PK last. */
export const KEY_NAMES = ["PK", "KEK", "db"] as const;
/** One of PK, KEK, db. */
export type KeyName = typeof KEY_NAMES[number];

/** A private key file and its certificate file. */
export interface KeyPair {
  key: string;
  cert: string;
}

/** A loaded key set. */
export interface SecureBootKeys extends Record<KeyName, KeyPair> {
  /** The directory it is in. */
  dir: string;
  /** The development set of the store. */
  development: boolean;
  /** Fingerprint of db's certificate (sha256, 16 hex digits): names the set. */
  id: string;
}

const SPEC: KeySpec = {
  env: "ICENET_SECUREBOOT_KEYS",
  dir: "secureboot-keys",
  signs: "EFI programs (Secure Boot db)",
  expects: "a key directory (`deno task keys secureboot DIR`)",
};

/** Validity of every certificate (GeneralizedTime: openssl ca takes both forms). */
const NOT_BEFORE = "20250101000000Z";
const NOT_AFTER = "20991231235959Z";

async function run(what: string, cmd: ReturnType<typeof $>): Promise<string> {
  const r = await cmd.stdout("piped").stderr("piped").noThrow();
  if (r.code !== 0) throw new Error(`${what}: ${r.stderr.trim() || `exit status ${r.code}`}`);
  return r.stdout;
}

/** sha256 (hex) of a key's public half (DER): identifies it, whoever holds the file. */
async function publicKeyHash(keyFile: string): Promise<string> {
  const der = await $`openssl pkey -in ${keyFile} -pubout -outform DER`.stdout("piped")
    .stderr("piped").noThrow();
  if (der.code !== 0) throw new Error(`${keyFile}: not a private key: ${der.stderr.trim()}`);
  return sha256(der.stdoutBytes);
}

/** A new RSA-2048 private key at `file` (mode 0600). */
export async function makeKey(file: string): Promise<void> {
  await run(
    `${file}: openssl genpkey`,
    $`openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out ${file}`,
  );
  await Deno.chmod(file, 0o600);
}

/**
 * The self-signed certificate of `name`'s key (see the module doc) at `certFile`: the
 * same key gives the same bytes.
 */
export async function makeCert(name: KeyName, keyFile: string, certFile: string): Promise<void> {
  const hash = await publicKeyHash(keyFile);
  const tmp = await Deno.makeTempDir({ prefix: "icenet-sbcert-" });
  try {
    const conf = join(tmp, "ca.cnf");
    await Deno.writeTextFile(
      conf,
      [
        "[ca]",
        "default_ca = icenet",
        "[icenet]",
        `database = ${join(tmp, "index.txt")}`,
        `new_certs_dir = ${tmp}`,
        `serial = ${join(tmp, "serial")}`,
        "default_md = sha256",
        "policy = any",
        "unique_subject = no",
        "email_in_dn = no",
        "copy_extensions = none",
        "x509_extensions = ext",
        "[any]",
        "commonName = supplied",
        "[req]",
        "distinguished_name = dn",
        "prompt = no",
        "[dn]",
        `CN = IceNet-OS ${name} ${hash.slice(0, 8)}`,
        "[ext]",
        "basicConstraints = critical, CA:FALSE",
        "keyUsage = critical, digitalSignature",
        "subjectKeyIdentifier = hash",
        "authorityKeyIdentifier = keyid",
        "",
      ].join("\n"),
    );
    await Deno.writeTextFile(join(tmp, "index.txt"), "");
    // A positive 63-bit serial from the key: two keys never share one by accident.
    const serial = (BigInt(`0x${hash.slice(0, 16)}`) & 0x7fffffffffffffffn).toString(16);
    await Deno.writeTextFile(join(tmp, "serial"), serial.padStart(16, "0") + "\n");
    const csr = join(tmp, "req.csr");
    await run(
      `${keyFile}: openssl req`,
      $`openssl req -new -key ${keyFile} -config ${conf} -out ${csr}`,
    );
    await run(
      `${keyFile}: openssl ca -selfsign`,
      $`openssl ca -batch -config ${conf} -selfsign -keyfile ${keyFile} -in ${csr} -startdate ${NOT_BEFORE} -enddate ${NOT_AFTER} -notext -out ${certFile}`,
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/**
 * Make the key set in `dir`: keys that are missing, then every certificate whose file
 * is missing. An existing key or certificate is kept.
 */
export async function makeKeySet(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  for (const name of KEY_NAMES) {
    const key = join(dir, `${name}.key`), cert = join(dir, `${name}.crt`);
    if (!await exists(key)) await makeKey(key);
    if (!await exists(cert)) await makeCert(name, key, cert);
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await Deno.stat(p);
    return true;
  } catch {
    return false;
  }
}

/** `name`'s key and certificate in `dir`; errors name the missing file and how to make it. */
async function loadPair(dir: string, name: KeyName): Promise<KeyPair> {
  const pair = { key: join(dir, `${name}.key`), cert: join(dir, `${name}.crt`) };
  for (const f of [pair.key, pair.cert]) {
    if (!await exists(f)) {
      throw new Error(
        `${f}: missing from the Secure Boot key set ${dir} ` +
          `(\`deno task keys secureboot ${dir}\` makes what is missing)`,
      );
    }
  }
  return pair;
}

/** A certificate's fingerprint: sha256 of its DER form, 16 hex digits. */
async function certId(cert: string): Promise<string> {
  const der = await $`openssl x509 -in ${cert} -outform DER`.stdout("piped").stderr("piped")
    .noThrow();
  if (der.code !== 0) throw new Error(`${cert}: not a certificate: ${der.stderr.trim()}`);
  return sha256(der.stdoutBytes).slice(0, 16);
}

/** Load the key set of `dir`; errors name the missing file and how to make it. */
export async function loadKeySet(dir: string, development = false): Promise<SecureBootKeys> {
  const pairs = {} as Record<KeyName, KeyPair>;
  for (const name of KEY_NAMES) pairs[name] = await loadPair(dir, name);
  return { ...pairs, dir, development, id: await certId(pairs.db.cert) };
}

/** The Secure Boot key set of builds (see the module doc). */
export async function secureBootKeys(storeDir = defaultStoreDir()): Promise<SecureBootKeys> {
  const { path, development } = await keySource(SPEC, makeKeySet, storeDir);
  const keys = await loadKeySet(path, development);
  if (development) announceDevelopmentKey(SPEC, keys.id, path);
  return keys;
}

/** The db key and certificate of the build's set: all that signing needs (PK, KEK may be offline). */
export interface DbKey extends KeyPair {
  /** Fingerprint of the certificate, as SecureBootKeys' id. */
  id: string;
  development: boolean;
}

/** The db key of the build's key set (see the module doc); PK and KEK need not be there. */
export async function dbKey(storeDir = defaultStoreDir()): Promise<DbKey> {
  const { path, development } = await keySource(SPEC, makeKeySet, storeDir);
  const pair = await loadPair(path, "db");
  const id = await certId(pair.cert);
  if (development) announceDevelopmentKey(SPEC, id, path);
  return { ...pair, id, development };
}
