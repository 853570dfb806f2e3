/**
 * Ed25519 keys and detached signatures through WebCrypto.
 *
 * Files: a private key is JSON `{"type":"icenet-ed25519-private","keyId","pkcs8"}`
 * (keep it secret); a public key is one line `ed25519 <base64 raw key>`, named
 * `<keyId>.pub` under `<root>/etc/icenet/keys/`. The key id is the first 16 hex
 * digits of the sha256 of the raw public key.
 *
 * ```ts
 * const { privateFile, publicLine } = await generateKeyFiles();
 * const sig = await signBytes(privateFile, bytes);
 * ```
 */
import { readdirSync, readFileSync } from "node:fs";
import { isNotFound } from "./_fs.ts";
import { sha256Hex } from "./hash.ts";
import { IcePkgError, integrityError } from "./errors.ts";

const ALG = { name: "Ed25519" };

function b64(bytes: Uint8Array | ArrayBuffer): string {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s);
}

function unb64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Key id of a raw public key. */
export async function keyIdOf(raw: Uint8Array): Promise<string> {
  return (await sha256Hex(raw)).slice(0, 16);
}

/** A new key pair as file contents. */
export async function generateKeyFiles(): Promise<
  { keyId: string; privateFile: string; publicLine: string }
> {
  const pair = await crypto.subtle.generateKey(ALG, true, ["sign", "verify"]) as CryptoKeyPair;
  const raw = new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", pair.privateKey);
  const keyId = await keyIdOf(raw);
  const privateFile = JSON.stringify({
    type: "icenet-ed25519-private",
    keyId,
    pkcs8: b64(pkcs8),
    public: b64(raw),
  }) + "\n";
  return { keyId, privateFile, publicLine: `ed25519 ${b64(raw)}\n` };
}

/** A detached signature: which key, and the base64 Ed25519 signature. */
export interface Signature {
  keyId: string;
  signature: string;
}

/** Sign `data` with a private key file's content. */
export async function signBytes(privateFile: string, data: Uint8Array): Promise<Signature> {
  const k = JSON.parse(privateFile);
  if (k.type !== "icenet-ed25519-private") {
    throw new Error("not an icenet-ed25519-private key file");
  }
  const key = await crypto.subtle.importKey("pkcs8", unb64(k.pkcs8), ALG, false, ["sign"]);
  const sig = await crypto.subtle.sign(ALG, key, data as Uint8Array<ArrayBuffer>);
  return { keyId: k.keyId, signature: b64(sig) };
}

/** Trusted public keys: key id -> raw key. */
export type TrustedKeys = Map<string, Uint8Array>;

/** Read every `*.pub` under `dir` (missing dir = no keys). */
export async function loadTrustedKeys(dir: string): Promise<TrustedKeys> {
  const keys: TrustedKeys = new Map();
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch (e) {
    if (isNotFound(e)) return keys;
    throw e;
  }
  for (const name of entries) {
    if (!name.endsWith(".pub")) continue;
    const text = readFileSync(`${dir}/${name}`, "utf8").trim();
    const m = text.match(/^ed25519 ([A-Za-z0-9+/=]+)$/);
    if (!m) throw new IcePkgError(`${dir}/${name}: not an "ed25519 <base64>" public key`);
    const raw = unb64(m[1]);
    keys.set(await keyIdOf(raw), raw);
  }
  return keys;
}

/** Verify a detached signature against trusted keys; throws naming `what` if it fails. */
export async function verifySignature(
  keys: TrustedKeys,
  sig: Signature,
  data: Uint8Array,
  what: string,
): Promise<void> {
  const raw = keys.get(sig.keyId);
  if (!raw) {
    throw integrityError(
      `${what}: signed by key ${sig.keyId}, which is not in the trusted keys (pass --allow-insecure to accept)`,
    );
  }
  const key = await crypto.subtle.importKey("raw", raw as Uint8Array<ArrayBuffer>, ALG, false, [
    "verify",
  ]);
  let ok = false;
  try {
    ok = await crypto.subtle.verify(
      ALG,
      key,
      unb64(sig.signature),
      data as Uint8Array<ArrayBuffer>,
    );
  } catch {
    ok = false;
  }
  if (!ok) throw integrityError(`${what}: bad signature (pass --allow-insecure to accept)`);
}
