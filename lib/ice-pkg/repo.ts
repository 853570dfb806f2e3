/**
 * Repositories: a directory of `.ice` files plus `INDEX.json` and its detached
 * Ed25519 signature `INDEX.json.sig`. The index carries a serial number that must
 * never go down and an expiry time, so a mirror can neither replay an old index
 * nor freeze a device on one (TUF's rollback and freeze attacks).
 *
 * ```ts
 * await buildRepo({ packages: ["foo-1.0-r0.ice"], outDir: "repo", privateKey });
 * const { index } = await fetchIndex("http://127.0.0.1:8080/repo", { keys, previous });
 * ```
 */
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "./_path.ts";
import { fullVersion, type Index, type IndexEntry, parseIndex } from "./metadata.ts";
import { readPackageFile } from "./package_read.ts";
import { sha256File, sha256Hex } from "./hash.ts";
import { type Signature, signBytes, type TrustedKeys, verifySignature } from "./keys.ts";
import { RepoFileMissing, repoRead } from "./fetch.ts";
import { IcePkgError, integrityError } from "./errors.ts";
import { compareVersions } from "./version.ts";
import { checkIndexTimes } from "./freshness.ts";

/** File names inside a repository. */
export const INDEX_FILE = "INDEX.json";
export const SIG_FILE = "INDEX.json.sig";

/** Options of {@linkcode buildRepo}. */
export interface BuildRepoOptions {
  /** Paths of `.ice` files to include. */
  packages: string[];
  /** Repository directory (created; packages are copied into it). */
  outDir: string;
  /** Content of the private key file. */
  privateKey: string;
  /** Serial number; default: the existing index's serial + 1, or 1. */
  serial?: number;
  /** Creation time; default now. */
  created?: Date;
  /** Expiry; default created + 30 days. */
  expires?: Date;
}

/** Build (or rebuild) a signed repository from packages. Returns the index. */
export async function buildRepo(opts: BuildRepoOptions): Promise<Index> {
  mkdirSync(opts.outDir, { recursive: true });
  const entries: IndexEntry[] = [];
  const seen = new Set<string>();
  for (const path of opts.packages) {
    // Validated in full (streaming): a repository never signs what ice-pkg would refuse.
    const meta = await readPackageFile(path, { where: path });
    const id = `${meta.name}-${fullVersion(meta)}`;
    if (seen.has(id)) throw new IcePkgError(`${path}: ${id} is already in the repository`);
    seen.add(id);
    const file = `${id}.ice`;
    if (basename(path) !== file || join(opts.outDir, file) !== path) {
      copyFileSync(path, join(opts.outDir, file));
    }
    entries.push({
      name: meta.name,
      version: fullVersion(meta),
      arch: meta.arch,
      description: meta.description,
      depends: meta.depends,
      provides: meta.provides,
      conflicts: meta.conflicts,
      replaces: meta.replaces,
      sha256: await sha256File(path),
      size: statSync(path).size,
      installedSize: meta.installedSize,
      file,
    });
  }
  entries.sort((a, b) => a.name.localeCompare(b.name) || compareVersions(a.version, b.version));
  let serial = opts.serial;
  if (serial === undefined) {
    try {
      serial = JSON.parse(readFileSync(join(opts.outDir, INDEX_FILE), "utf8")).serial + 1;
    } catch {
      serial = 1;
    }
  }
  const created = opts.created ?? new Date();
  const expires = opts.expires ?? new Date(created.getTime() + 30 * 86400_000);
  const index = parseIndex({
    format: 1,
    serial,
    created: created.toISOString(),
    expires: expires.toISOString(),
    packages: entries,
  }, "new index");
  const bytes = new TextEncoder().encode(JSON.stringify(index, null, 1) + "\n");
  const sig = await signBytes(opts.privateKey, bytes);
  writeFileSync(join(opts.outDir, INDEX_FILE), bytes);
  writeFileSync(join(opts.outDir, SIG_FILE), JSON.stringify(sig) + "\n");
  return index;
}

/** What we remember about a repository from the last accepted index. */
export interface RepoState {
  serial: number;
  sha256: string;
}

/** Options of {@linkcode fetchIndex}. */
export interface FetchIndexOptions {
  keys: TrustedKeys;
  /** The last accepted index of this repository, if any. */
  previous?: RepoState;
  /** Accept unsigned, badly signed, expired or older indexes (with a warning). */
  allowInsecure?: boolean;
  /** Accept an expired, future-dated or overlong index (with a warning). */
  allowExpired?: boolean;
  /** Current time (tests). */
  now?: Date;
  /** Receives warnings about accepted insecure indexes. */
  warn?: (msg: string) => void;
  progress?: boolean;
}

/**
 * Fetch and verify a repository index: signature by a trusted key, fresh dates
 * (freshness.ts), serial not lower than before (and not the same serial with other
 * content).
 */
export async function fetchIndex(
  url: string,
  opts: FetchIndexOptions,
): Promise<{ index: Index; bytes: Uint8Array; sha256: string }> {
  const bytes = await repoRead(url, INDEX_FILE, opts.progress);
  const what = `${url}/${INDEX_FILE}`;
  const refuse = (msg: string) => {
    if (!opts.allowInsecure) throw integrityError(`${msg} (pass --allow-insecure to accept)`);
    opts.warn?.(`WARNING: ${msg}; accepted because of --allow-insecure`);
  };
  let sig: Signature | undefined;
  try {
    sig = JSON.parse(new TextDecoder().decode(await repoRead(url, SIG_FILE, false, 64 * 1024)));
  } catch (e) {
    if (!(e instanceof RepoFileMissing) && !(e instanceof SyntaxError)) throw e;
    refuse(`${what}: unsigned index (no valid ${SIG_FILE})`);
  }
  if (sig) {
    try {
      await verifySignature(opts.keys, sig, bytes, what);
    } catch (e) {
      if (!opts.allowInsecure) throw e;
      opts.warn?.(`WARNING: ${(e as Error).message}; accepted because of --allow-insecure`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw integrityError(`${what}: not valid JSON (${(e as Error).message})`);
  }
  const index = parseIndex(json, what);
  checkIndexTimes(index, what, {
    now: opts.now,
    allowExpired: opts.allowExpired || opts.allowInsecure,
    warn: opts.warn,
  });
  const sha256 = await sha256Hex(bytes);
  const prev = opts.previous;
  if (prev && index.serial < prev.serial) {
    refuse(
      `${what}: index serial ${index.serial} is older than the serial ${prev.serial} seen before (replayed index?)`,
    );
  } else if (prev && index.serial === prev.serial && sha256 !== prev.sha256) {
    refuse(`${what}: index serial ${index.serial} reused with different content`);
  }
  return { index, bytes, sha256 };
}
