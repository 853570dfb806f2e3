/**
 * `.ice` packages: a tar.xz whose first member is `.ice-meta.json` (the metadata,
 * with the full file list) followed by the payload. Creation is deterministic:
 * sorted entries, uid/gid 0, one fixed mtime, fixed xz options. Reading validates
 * everything against the metadata and refuses hostile archives.
 *
 * ```ts
 * const bytes = await createPackage("build/foo", { name: "foo", version: "1.0", release: 0, arch: "noarch" });
 * const pkg = await readPackage(bytes, { where: "foo-1.0-r0.ice" });
 * ```
 */
import { join } from "./_path.ts";
import { sha256Hex } from "./hash.ts";
import {
  type FileEntry,
  META_NAME,
  type PackageMeta,
  type PackageMetaInput,
  parseMeta,
} from "./metadata.ts";
import { readTar, type TarWriteEntry, writeTar } from "./format/tar.ts";
import { xzCompress, xzDecompress } from "./format/xz.ts";
import { checkEntryPath, checkSymlinkTarget, parentsOf } from "./safe_path.ts";
import { integrityError } from "./errors.ts";

/** A validated package: metadata plus the payload bytes of each regular file. */
export interface Package {
  meta: PackageMeta;
  /** File data by path (regular files only). */
  data: Map<string, Uint8Array>;
}

/** Limits applied when reading untrusted packages. */
export interface ReadOptions {
  /** Name used in error messages (file name or package id). */
  where: string;
  /** Largest accepted installed size in bytes (default 512 MiB). */
  maxInstalledSize?: number;
}

const DEFAULT_MAX = 512 * 1024 * 1024;
const SPECIAL_BITS = 0o7000;

/** Walk `dir` and describe its content, sorted by path. */
async function scanTree(
  dir: string,
): Promise<{ files: FileEntry[]; data: Map<string, Uint8Array> }> {
  const files: FileEntry[] = [];
  const data = new Map<string, Uint8Array>();
  const walk = async (rel: string) => {
    const names = [...Deno.readDirSync(join(dir, rel))].map((e) => e.name);
    for (const name of names.sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(dir, path);
      const st = Deno.lstatSync(abs);
      const mode = (st.mode ?? 0o644) & 0o7777;
      if (st.isSymlink) {
        files.push({
          path,
          type: "symlink",
          mode: 0o777,
          uid: 0,
          gid: 0,
          target: Deno.readLinkSync(abs),
        });
      } else if (st.isDirectory) {
        files.push({ path, type: "dir", mode, uid: 0, gid: 0 });
        await walk(path);
      } else if (st.isFile) {
        const bytes = Deno.readFileSync(abs);
        data.set(path, bytes);
        files.push({
          path,
          type: "file",
          mode,
          uid: 0,
          gid: 0,
          size: bytes.length,
          sha256: await sha256Hex(bytes),
        });
      } else {
        throw new Error(
          `${abs}: not a regular file, directory or symlink (devices are not packaged)`,
        );
      }
    }
  };
  await walk("");
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, data };
}

/**
 * Build a `.ice` from a directory tree. `mtime` (seconds) defaults to
 * SOURCE_DATE_EPOCH or 0; the same tree and metadata give byte-identical output.
 */
export async function createPackage(
  dir: string,
  input: PackageMetaInput,
  mtime = Number(Deno.env.get("SOURCE_DATE_EPOCH") ?? 0),
): Promise<Uint8Array> {
  const { files, data } = await scanTree(dir);
  const installedSize = files.reduce((n, f) => n + (f.size ?? 0), 0);
  const meta = parseMeta({ format: 1, ...input, installedSize, files }, `${dir}`);
  for (const f of meta.files) {
    checkEntryPath(f.path);
    if (f.type === "symlink") checkSymlinkTarget(f.path, f.target!);
  }
  const entries: TarWriteEntry[] = [{
    path: META_NAME,
    type: "file",
    mode: 0o644,
    mtime,
    data: new TextEncoder().encode(JSON.stringify(meta, null, 1) + "\n"),
  }];
  for (const f of meta.files) {
    entries.push({
      path: f.path,
      type: f.type,
      mode: f.mode,
      mtime,
      data: data.get(f.path),
      target: f.target,
    });
  }
  return await xzCompress(writeTar(entries));
}

const TYPE_NAMES: Record<string, string> = {
  "1": "hard link",
  "3": "character device node",
  "4": "block device node",
  "6": "fifo",
  "7": "contiguous file",
};

/** Check the metadata's own file list: canonical paths, types, sizes, parents. */
function checkFileList(meta: PackageMeta, where: string, max: number): void {
  if (meta.installedSize > max) {
    throw integrityError(
      `${where}: declares installed size ${meta.installedSize} bytes, more than the limit of ${max}`,
    );
  }
  const byPath = new Map<string, FileEntry>();
  let total = 0;
  for (const f of meta.files) {
    try {
      checkEntryPath(f.path);
      if (f.type === "symlink") {
        if (!f.target) throw new Error(`${JSON.stringify(f.path)}: symlink without target`);
        checkSymlinkTarget(f.path, f.target);
      }
    } catch (e) {
      throw integrityError(`${where}: ${(e as Error).message}`);
    }
    if (byPath.has(f.path)) throw integrityError(`${where}: ${f.path}: listed twice`);
    if (f.type === "file" && (f.size === undefined || f.sha256 === undefined)) {
      throw integrityError(`${where}: ${f.path}: file without size or sha256`);
    }
    if ((f.mode & SPECIAL_BITS) && (f.mode & 0o002)) {
      throw integrityError(`${where}: ${f.path}: setuid/setgid/sticky on a world-writable file`);
    }
    byPath.set(f.path, f);
    total += f.size ?? 0;
  }
  if (total !== meta.installedSize) {
    throw integrityError(
      `${where}: installedSize ${meta.installedSize} but the files add up to ${total} bytes`,
    );
  }
  for (const c of meta.conffiles) {
    if (byPath.get(c)?.type !== "file") {
      throw integrityError(`${where}: conffiles: ${c}: not a regular file of the package`);
    }
  }
  for (const f of meta.files) {
    for (const p of parentsOf(f.path)) {
      const parent = byPath.get(p);
      if (parent && parent.type !== "dir") {
        throw integrityError(
          `${where}: ${f.path}: parent ${p} is a ${parent.type}, not a directory (writing through a symlink)`,
        );
      }
    }
  }
}

/**
 * Decompress and validate an untrusted `.ice`. Refuses (with an error naming the
 * package and entry): corrupt or truncated xz, missing or bad metadata, paths that
 * leave the root, symlinks pointing outside, hard links, device nodes, fifos,
 * undeclared setuid bits, and any entry whose type, mode, size, hash or target
 * differs from the metadata.
 */
export async function readPackage(bytes: Uint8Array, opts: ReadOptions): Promise<Package> {
  const where = opts.where;
  const max = opts.maxInstalledSize ?? DEFAULT_MAX;
  // The tar adds headers and a metadata member: allow some slack over the payload limit.
  const tar = await xzDecompress(bytes, max + (64 << 20), where);
  return await parsePackageTar(tar, opts);
}

/** Validate a decompressed package tar (see {@linkcode readPackage}). */
export async function parsePackageTar(tar: Uint8Array, opts: ReadOptions): Promise<Package> {
  const where = opts.where;
  const max = opts.maxInstalledSize ?? DEFAULT_MAX;
  let entries;
  try {
    entries = readTar(tar);
  } catch (e) {
    throw integrityError(`${where}: ${(e as Error).message}`);
  }
  const first = entries[0];
  if (!first || first.path !== META_NAME || first.typeflag !== "0") {
    throw integrityError(`${where}: first member is not ${META_NAME}`);
  }
  let metaJson: unknown;
  try {
    metaJson = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(first.data));
  } catch (e) {
    throw integrityError(`${where}: ${META_NAME}: not valid JSON (${(e as Error).message})`);
  }
  const meta = parseMeta(metaJson, where);
  checkFileList(meta, where, max);
  const expected = new Map(meta.files.map((f) => [f.path, f]));
  const data = new Map<string, Uint8Array>();
  const seen = new Set<string>();
  for (const e of entries.slice(1)) {
    const kind = TYPE_NAMES[e.typeflag];
    if (kind) throw integrityError(`${where}: ${e.path}: ${kind} entries are not allowed`);
    if (!["0", "5", "2"].includes(e.typeflag)) {
      throw integrityError(
        `${where}: ${e.path}: unknown tar entry type ${JSON.stringify(e.typeflag)}`,
      );
    }
    const path = e.typeflag === "5" ? e.path.replace(/\/$/, "") : e.path;
    try {
      checkEntryPath(path);
    } catch (err) {
      throw integrityError(`${where}: ${(err as Error).message}`);
    }
    const f = expected.get(path);
    if (!f) throw integrityError(`${where}: ${path}: not listed in the metadata`);
    if (seen.has(path)) throw integrityError(`${where}: ${path}: appears twice in the archive`);
    seen.add(path);
    const type = e.typeflag === "0" ? "file" : e.typeflag === "5" ? "dir" : "symlink";
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
    if (type === "file") {
      if (e.size !== f.size) {
        throw integrityError(`${where}: ${path}: size ${e.size}, metadata says ${f.size}`);
      }
      const h = await sha256Hex(e.data);
      if (h !== f.sha256) {
        throw integrityError(`${where}: ${path}: sha256 ${h}, metadata says ${f.sha256}`);
      }
      data.set(path, e.data);
    } else if (type === "symlink" && e.linkname !== f.target) {
      throw integrityError(`${where}: ${path}: symlink target differs from the metadata`);
    }
  }
  for (const f of meta.files) {
    if (!seen.has(f.path)) {
      throw integrityError(`${where}: ${f.path}: listed in the metadata but missing`);
    }
  }
  return { meta, data };
}
