/**
 * Reading untrusted `.ice` packages as a stream: xz decompresses in a child process,
 * the tar is parsed entry by entry, every header is checked against the metadata
 * (first member) *before* its data is read, and file data goes to the caller's sink
 * in chunks while it is hashed. Memory stays bounded whatever the package's size,
 * and a bomb is refused at the first entry that departs from the metadata.
 *
 * Refused (integrity error naming the package and entry): corrupt or truncated xz,
 * a compressed file whose sha256 is not the index's, missing or bad metadata or
 * metadata over {@linkcode MAX_META_BYTES}, anything {@linkcode checkFileList}
 * refuses, hard links, device nodes, fifos, undeclared setuid bits, any entry whose
 * type, mode, owner, size, hash or target differs from the metadata, data in a
 * directory or symlink entry, and data after the end of the archive.
 *
 * ```ts
 * const meta = await readPackageMeta("foo.ice", { where: "foo-1.0-r0.ice" });
 * await readPackageFile("foo.ice", { where }, { file: (f) => sinkFor(f) });
 * ```
 */
import { statSync } from "node:fs";
import { type FileEntry, META_NAME, type PackageMeta, parseMeta } from "./metadata.ts";
import { TarStreamReader } from "./format/tar_stream.ts";
import type { TarHeader } from "./format/tar.ts";
import { bytesStream, xzDecode, xzDecompress } from "./format/xz.ts";
import { Sha256 } from "./hash.ts";
import { ChunkReader } from "./_stream.ts";
import { checkFileList, SPECIAL_BITS } from "./package_check.ts";
import { IcePkgError, integrityError } from "./errors.ts";

/** Largest metadata member accepted (about 50,000 files). */
export const MAX_META_BYTES = 16 << 20;

/** Options of the readers. */
export interface ReadOptions {
  /** Name used in error messages (file name or package id). */
  where: string;
  /** Largest accepted installed size in bytes (default: no limit but the disk's). */
  maxInstalledSize?: number;
}

/** Where a regular file's data goes while it is read (after its header was checked). */
export interface EntrySink {
  write(chunk: Uint8Array): void | Promise<void>;
  /** All data written and its sha256 matched the metadata. */
  end(): void | Promise<void>;
}

/** Callbacks of a streaming read. */
export interface ReadHandlers {
  /** The validated metadata, before any payload entry is read. */
  meta?(meta: PackageMeta): void | Promise<void>;
  /** A sink for a regular file's data, or undefined to check it only. */
  file?(f: FileEntry): EntrySink | undefined | Promise<EntrySink | undefined>;
}

const TYPE_NAMES: Record<string, string> = {
  "1": "hard link",
  "3": "character device node",
  "4": "block device node",
  "6": "fifo",
  "7": "contiguous file",
};
const TYPES: Record<string, FileEntry["type"]> = { "0": "file", "5": "dir", "2": "symlink" };

/** A failure of the caller's sink (disk full, ...): not the package's fault. */
class SinkFailure extends Error {
  constructor(readonly inner: unknown) {
    super("sink failed");
  }
}

/** Run a caller's handler: its failures are its own (SinkFailure), not the package's. */
async function caller<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw new SinkFailure(e);
  }
}

async function readMeta(tar: TarStreamReader, opts: ReadOptions): Promise<PackageMeta> {
  const where = opts.where;
  const first = await tar.next();
  if (!first || first.path !== META_NAME || first.typeflag !== "0") {
    throw integrityError(`${where}: first member is not ${META_NAME}`);
  }
  if (first.size > MAX_META_BYTES) {
    throw integrityError(
      `${where}: ${META_NAME}: ${first.size} bytes, more than the ${MAX_META_BYTES} allowed for metadata`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(await tar.dataBytes()));
  } catch (e) {
    if (e instanceof Error && e.message.startsWith("tar:")) throw e;
    throw integrityError(`${where}: ${META_NAME}: not valid JSON (${(e as Error).message})`);
  }
  const meta = parseMeta(json, where);
  checkFileList(meta, where, opts.maxInstalledSize);
  return meta;
}

/** Check one payload header against the metadata; returns the entry it stands for. */
function checkHeader(
  e: TarHeader,
  expected: Map<string, FileEntry>,
  seen: Set<string>,
  where: string,
): FileEntry {
  const kind = TYPE_NAMES[e.typeflag];
  if (kind) throw integrityError(`${where}: ${e.path}: ${kind} entries are not allowed`);
  const type = TYPES[e.typeflag];
  if (!type) {
    throw integrityError(
      `${where}: ${e.path}: unknown tar entry type ${JSON.stringify(e.typeflag)}`,
    );
  }
  const path = type === "dir" ? e.path.replace(/\/$/, "") : e.path;
  const f = expected.get(path);
  if (!f) throw integrityError(`${where}: ${path}: not listed in the metadata`);
  if (seen.has(path)) throw integrityError(`${where}: ${path}: appears twice in the archive`);
  seen.add(path);
  if (type !== f.type) {
    throw integrityError(`${where}: ${path}: is a ${type}, metadata says ${f.type}`);
  }
  if ((e.mode & SPECIAL_BITS) & ~f.mode) {
    throw integrityError(
      `${where}: ${path}: undeclared setuid/setgid/sticky bit (mode ${e.mode.toString(8)})`,
    );
  }
  if ((e.mode & 0o7777) !== f.mode || e.uid !== f.uid || e.gid !== f.gid) {
    throw integrityError(`${where}: ${path}: mode/owner differ from the metadata`);
  }
  if (type === "file" && e.size !== f.size) {
    throw integrityError(`${where}: ${path}: size ${e.size}, metadata says ${f.size}`);
  }
  if (type !== "file" && e.size !== 0) {
    throw integrityError(`${where}: ${path}: ${type} entry with ${e.size} bytes of data`);
  }
  if (type === "symlink" && e.linkname !== f.target) {
    throw integrityError(`${where}: ${path}: symlink target differs from the metadata`);
  }
  return f;
}

/** Read one regular file's data into `sink` (if any) and check its sha256. */
async function readFileData(
  tar: TarStreamReader,
  f: FileEntry,
  sink: EntrySink | undefined,
  where: string,
): Promise<void> {
  const h = new Sha256(f.size);
  await tar.data(async (c) => {
    await h.update(c);
    if (sink) {
      try {
        await sink.write(c);
      } catch (e) {
        throw new SinkFailure(e);
      }
    }
  });
  const got = await h.hex();
  if (got !== f.sha256) {
    throw integrityError(`${where}: ${f.path}: sha256 ${got}, metadata says ${f.sha256}`);
  }
  try {
    await sink?.end();
  } catch (e) {
    throw new SinkFailure(e);
  }
}

/**
 * Validate a package tar stream; with `metaOnly`, stop after the metadata. Plain
 * errors from the tar reader become integrity errors naming `where`; a sink's own
 * errors pass through unchanged.
 */
export async function readPackageTar(
  stream: ReadableStream<Uint8Array>,
  opts: ReadOptions,
  handlers: ReadHandlers = {},
  metaOnly = false,
): Promise<PackageMeta> {
  const where = opts.where;
  const tar = new TarStreamReader(stream);
  try {
    const meta = await readMeta(tar, opts);
    await caller(() => handlers.meta?.(meta));
    if (metaOnly) return meta;
    const expected = new Map(meta.files.map((f) => [f.path, f]));
    const seen = new Set<string>();
    for (let e = await tar.next(); e; e = await tar.next()) {
      const f = checkHeader(e, expected, seen, where);
      if (f.type === "file") {
        await readFileData(tar, f, await caller(() => handlers.file?.(f)), where);
      }
    }
    for (const f of meta.files) {
      if (!seen.has(f.path)) {
        throw integrityError(`${where}: ${f.path}: listed in the metadata but missing`);
      }
    }
    return meta;
  } catch (e) {
    if (e instanceof SinkFailure) throw e.inner;
    if (e instanceof IcePkgError) throw e;
    throw integrityError(`${where}: ${(e as Error).message}`);
  } finally {
    await tar.cancel();
  }
}

/** Expected identity of a package file (from the index or the history). */
export interface Expected {
  sha256: string;
  size?: number;
}

/**
 * Read and validate a `.ice` file as a stream (see the module doc). With `expected`,
 * the compressed bytes must also have that sha256 (and size): they are hashed as
 * they are decompressed, so what is checked is what is extracted.
 */
export async function readPackageFile(
  file: string,
  opts: ReadOptions & { expected?: Expected },
  handlers: ReadHandlers = {},
  metaOnly = false,
): Promise<PackageMeta> {
  const h = new Sha256(opts.expected?.size ?? statSync(file).size);
  let size = 0;
  const dec = xzDecode({
    file,
    onChunk: async (c) => {
      size += c.length;
      if (opts.expected && !metaOnly) await h.update(c);
    },
  }, opts.where);
  let meta: PackageMeta;
  try {
    meta = await readPackageTar(dec.output, opts, handlers, metaOnly);
  } catch (e) {
    dec.kill();
    await dec.done();
    throw e;
  }
  if (metaOnly) dec.kill();
  await dec.done();
  if (opts.expected && !metaOnly) {
    const got = await h.hex();
    const want = opts.expected;
    if (got !== want.sha256 || (want.size !== undefined && size !== want.size)) {
      throw integrityError(
        `${opts.where}: sha256 ${got} (${size} bytes), expected ${want.sha256}${
          want.size !== undefined ? ` (${want.size} bytes)` : ""
        }`,
      );
    }
  }
  return meta;
}

/** The validated metadata of a `.ice` file (only its first member is decompressed). */
export function readPackageMeta(file: string, opts: ReadOptions): Promise<PackageMeta> {
  return readPackageFile(file, opts, {}, true);
}

/**
 * The metadata of a `.ice` file and, when its whole tar fits in `keep` bytes, that
 * tar too (the compressed bytes checked against `expected` on the way): a small
 * package is then decompressed once, by one xz process, instead of once for its
 * metadata and again to install it. Bigger ones come back without `tar`.
 */
export async function readPackageHead(
  file: string,
  opts: ReadOptions & { expected?: Expected },
  keep: number,
): Promise<{ meta: PackageMeta; tar?: Uint8Array[] }> {
  if (keep <= 0 || statSync(file).size > keep) {
    return { meta: await readPackageMeta(file, opts) };
  }
  const h = new Sha256();
  let size = 0;
  const dec = xzDecode({
    file,
    onChunk: async (c) => {
      size += c.length;
      await h.update(c);
    },
  }, opts.where);
  const tar: Uint8Array[] = [];
  let n = 0;
  const r = new ChunkReader(dec.output);
  for (let c = await r.read(); c; c = await r.read()) {
    n += c.length;
    if (n > keep) {
      await r.cancel();
      dec.kill();
      await dec.done();
      return { meta: await readPackageMeta(file, opts) };
    }
    tar.push(c.slice());
  }
  await dec.done();
  const want = opts.expected;
  const got = await h.hex();
  if (want && (got !== want.sha256 || (want.size !== undefined && size !== want.size))) {
    throw integrityError(`${opts.where}: sha256 ${got} (${size} bytes), expected ${want.sha256}`);
  }
  return { meta: await readPackageTar(bytesStream(...tar), opts, {}, true), tar };
}

/** A validated package held in memory: metadata and each regular file's bytes. */
export interface Package {
  meta: PackageMeta;
  /** File data by path (regular files only). */
  data: Map<string, Uint8Array>;
}

/** Validate a decompressed package tar held in memory (fuzzing, tests). */
export async function parsePackageTar(tar: Uint8Array, opts: ReadOptions): Promise<Package> {
  const data = new Map<string, Uint8Array>();
  const meta = await readPackageTar(bytesStream(tar), opts, {
    file(f) {
      const parts: Uint8Array[] = [];
      return {
        write: (c) => {
          parts.push(c.slice());
        },
        end: () => {
          const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
          let off = 0;
          for (const p of parts) {
            all.set(p, off);
            off += p.length;
          }
          data.set(f.path, all);
        },
      };
    },
  });
  return { meta, data };
}

/** Decompress and validate a `.ice` held in memory (small packages, tests). */
export async function readPackage(bytes: Uint8Array, opts: ReadOptions): Promise<Package> {
  // The limit only bounds this in-memory convenience; files go through readPackageFile.
  const tar = await xzDecompress(bytes, 256 << 20, opts.where);
  return await parsePackageTar(tar, opts);
}
