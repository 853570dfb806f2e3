/**
 * The signed record of a cached stage result, kept as a CAS blob that the action
 * result lists as `icenet/record.json`. The cache is not trusted: a result is used
 * only if this record is signed (Ed25519) by a key in ICENET_CACHE_KEYS and names the
 * key, stage and board being looked up; the record pins the manifest blob by sha256,
 * and the manifest's files must hash to the record's output hash (lib/cache/tree.ts).
 * Nothing else the server returns is believed.
 *
 * Key files are the repositories' (lib/ice-pkg/keys.ts): a private key file signs
 * (`deno task repo keygen FILE`), `ed25519 <base64>` public key files verify.
 *
 * ```ts
 * const bytes = await signRecord({ key, stage, board, outputHash, manifest }, signer);
 * const rec = await verifyRecord(bytes, trusted, { key, stage, board });
 * ```
 */
import { keyIdOf, signBytes, type TrustedKeys } from "../ice-pkg/keys.ts";
import { loadTrustedKeys as loadKeyDir } from "../ice-pkg/keys.ts";
import { parseKeyFile } from "../recipe/repo_key.ts";
import { canonicalJson } from "../hash.ts";
import type { Digest } from "./action_result.ts";

/** What a record states about one stage result. */
export interface CacheRecord {
  key: string;
  stage: string;
  board: string;
  /** The output hash of the stage's tree (lib/manifest.ts). */
  outputHash: string;
  /** The manifest blob: the store's manifest.json plus sparse-file extents. */
  manifest: Digest;
  /** The build log blob, if uploaded. */
  log?: Digest;
}

/** A private key that signs records. */
export interface Signer {
  keyId: string;
  privateFile: string;
  /** Raw public key (trusted by its own signer). */
  publicRaw: Uint8Array;
}

/** A record that is not to be used: unsigned, foreign, forged or for another key. */
export class UntrustedRecord extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "UntrustedRecord";
  }
}

const TYPE = "icenet-cache-record";
const enc = new TextEncoder();

/** The bytes a signature covers: a prefixed canonical serialisation of the record. */
function signedBytes(rec: CacheRecord): Uint8Array<ArrayBuffer> {
  return enc.encode(`icenet:cache-record:v1:${canonicalJson(rec)}`);
}

/** The record, signed, as the JSON bytes of its blob. */
export async function signRecord(rec: CacheRecord, signer: Signer): Promise<Uint8Array> {
  const sig = await signBytes(signer.privateFile, signedBytes(rec));
  return enc.encode(
    JSON.stringify({ type: TYPE, ...rec, keyId: sig.keyId, signature: sig.signature }) + "\n",
  );
}

/** Parse a record blob and check its signature and subject; throws UntrustedRecord. */
export async function verifyRecord(
  bytes: Uint8Array,
  trusted: TrustedKeys,
  expect: { key: string; stage: string; board: string },
): Promise<CacheRecord> {
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new UntrustedRecord("record is not JSON");
  }
  if (j?.type !== TYPE) throw new UntrustedRecord("not an icenet cache record");
  const rec = recordFields(j);
  if (!rec) throw new UntrustedRecord("record lacks key, stage, board, outputHash or manifest");
  if (typeof j.keyId !== "string" || typeof j.signature !== "string") {
    throw new UntrustedRecord("unsigned record");
  }
  const raw = trusted.get(j.keyId);
  if (!raw) {
    throw new UntrustedRecord(`signed by key ${j.keyId}, which is not in ICENET_CACHE_KEYS`);
  }
  const pub = await crypto.subtle.importKey(
    "raw",
    raw as Uint8Array<ArrayBuffer>,
    "Ed25519",
    false,
    [
      "verify",
    ],
  );
  let ok = false;
  try {
    ok = await crypto.subtle.verify("Ed25519", pub, unb64(j.signature), signedBytes(rec));
  } catch {
    ok = false;
  }
  if (!ok) throw new UntrustedRecord(`bad signature (key ${j.keyId})`);
  for (const f of ["key", "stage", "board"] as const) {
    if (rec[f] !== expect[f]) {
      throw new UntrustedRecord(`record is for ${f} ${rec[f]}, not ${expect[f]}`);
    }
  }
  return rec;
}

/** The signed fields, exactly (an extra field would go unsigned). */
function recordFields(j: Record<string, unknown>): CacheRecord | undefined {
  const str = (v: unknown) => typeof v === "string";
  const digest = (v: unknown): Digest | undefined => {
    const d = v as Digest;
    return d && str(d.hash) && Number.isSafeInteger(d.size) && d.size >= 0
      ? { hash: d.hash, size: d.size }
      : undefined;
  };
  const manifest = digest(j.manifest);
  if (!str(j.key) || !str(j.stage) || !str(j.board) || !str(j.outputHash) || !manifest) {
    return undefined;
  }
  const rec: CacheRecord = {
    key: j.key as string,
    stage: j.stage as string,
    board: j.board as string,
    outputHash: j.outputHash as string,
    manifest,
  };
  if (j.log !== undefined) {
    const log = digest(j.log);
    if (!log) return undefined;
    rec.log = log;
  }
  return rec;
}

/** Load a private key file for signing; errors name the file and the variable. */
export async function loadSigner(path: string, variable: string): Promise<Signer> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`${variable}=${path}: cannot read: ${(e as Error).message}`);
  }
  const k = parseKeyFile(path, text);
  const publicRaw = unb64(k.publicLine.trim().split(" ")[1]);
  if (await keyIdOf(publicRaw) !== k.keyId) {
    throw new Error(`${path}: key id does not match its public key`);
  }
  return { keyId: k.keyId, privateFile: k.privateFile, publicRaw };
}

/**
 * Trusted public keys from a list of paths: each an `ed25519 <base64>` key file or a
 * directory of `*.pub` files (as under `<root>/etc/icenet/keys/`).
 */
export async function loadTrusted(paths: string[]): Promise<TrustedKeys> {
  const keys: TrustedKeys = new Map();
  for (const p of paths) {
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(p);
    } catch (e) {
      throw new Error(`ICENET_CACHE_KEYS: ${p}: ${(e as Error).message}`);
    }
    if (st.isDirectory) {
      for (const [id, raw] of await loadKeyDir(p)) keys.set(id, raw);
      continue;
    }
    const m = (await Deno.readTextFile(p)).trim().match(/^ed25519 ([A-Za-z0-9+/=]+)$/);
    if (!m) throw new Error(`ICENET_CACHE_KEYS: ${p}: not an "ed25519 <base64>" public key`);
    const raw = unb64(m[1]);
    keys.set(await keyIdOf(raw), raw);
  }
  return keys;
}

function unb64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
