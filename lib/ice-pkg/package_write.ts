/**
 * Writing `.ice` packages from a directory tree, streaming: files are hashed and
 * later copied into xz's input in chunks, so a package of any size is built in
 * bounded memory. Output is deterministic: sorted entries, uid/gid 0, one mtime,
 * fixed xz options; the same tree and metadata give the same bytes. The file list
 * must pass the same rules as on install ({@linkcode checkFileList}).
 *
 * ```ts
 * await writePackage("build/foo", { name: "foo", version: "1.0", release: 0, arch: "noarch" }, "foo.ice");
 * ```
 */
import { lstatSync, readdirSync, readlinkSync } from "node:fs";
import { open } from "node:fs/promises";
import process from "node:process";
import { join } from "./_path.ts";
import { sha256File } from "./hash.ts";
import {
  type FileEntry,
  META_NAME,
  type PackageMeta,
  type PackageMetaInput,
  parseMeta,
} from "./metadata.ts";
import { endOfArchive, entryHeader, padding, type TarWriteEntry } from "./format/tar.ts";
import { xzEncode } from "./format/xz.ts";
import { checkFileList } from "./package_check.ts";

/** Walk `dir` and describe its content, sorted by path (file contents are hashed, not kept). */
async function scanTree(dir: string): Promise<FileEntry[]> {
  const files: FileEntry[] = [];
  const walk = async (rel: string) => {
    const names = readdirSync(join(dir, rel));
    for (const name of names.sort()) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(dir, path);
      const st = lstatSync(abs);
      const mode = st.mode & 0o7777;
      if (st.isSymbolicLink()) {
        files.push({
          path,
          type: "symlink",
          mode: 0o777,
          uid: 0,
          gid: 0,
          target: readlinkSync(abs),
        });
      } else if (st.isDirectory()) {
        files.push({ path, type: "dir", mode, uid: 0, gid: 0 });
        await walk(path);
      } else if (st.isFile()) {
        files.push({
          path,
          type: "file",
          mode,
          uid: 0,
          gid: 0,
          size: st.size,
          sha256: await sha256File(abs),
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
  return files;
}

/** Copy a file's bytes to `write`, checking it still has `size` bytes. */
async function copyFile(
  abs: string,
  size: number,
  write: (c: Uint8Array) => Promise<void>,
): Promise<void> {
  const f = await open(abs);
  let n = 0;
  try {
    while (true) {
      const buf = new Uint8Array(256 * 1024);
      const { bytesRead: got } = await f.read(buf, 0, buf.length, null);
      if (got === 0) break;
      n += got;
      if (n > size) break;
      await write(buf.subarray(0, got));
    }
  } finally {
    await f.close();
  }
  if (n !== size) throw new Error(`${abs}: changed while it was being packaged`);
}

/** Options of the writers. */
export interface WriteOptions {
  /** Name for messages (default: the directory), e.g. the recipe file. */
  where?: string;
  /**
   * The directories the recipe declares: a world-writable one (sticky, or refused
   * anyway) must be among them, so none appears by accident from a `make install`.
   */
  declaredDirs?: string[];
}

/** Refuse a world-writable directory that `declared` does not list. */
function checkDeclared(meta: PackageMeta, declared: string[], where: string): void {
  for (const f of meta.files) {
    if (f.type === "dir" && (f.mode & 0o002) && !declared.includes(f.path)) {
      throw new Error(
        `${where}: ${f.path}: world-writable directory (mode ${
          f.mode.toString(8)
        }) not declared under dirs: (declare it with its mode, or make it not world-writable)`,
      );
    }
  }
}

/**
 * Build a package from `dir` and hand the compressed bytes to `sink`. `mtime`
 * (seconds) defaults to SOURCE_DATE_EPOCH or 0. Returns the metadata.
 */
export async function streamPackage(
  dir: string,
  input: PackageMetaInput,
  sink: (chunk: Uint8Array) => void | Promise<void>,
  mtime = Number(process.env.SOURCE_DATE_EPOCH ?? 0),
  opts: WriteOptions = {},
): Promise<PackageMeta> {
  const where = opts.where ?? dir;
  const files = await scanTree(dir);
  const installedSize = files.reduce((n, f) => n + (f.size ?? 0), 0);
  const meta = parseMeta({ format: 1, ...input, installedSize, files }, where);
  checkFileList(meta, where);
  if (opts.declaredDirs) checkDeclared(meta, opts.declaredDirs, where);
  const metaBytes = new TextEncoder().encode(JSON.stringify(meta, null, 1) + "\n");
  await xzEncode(async (write) => {
    const metaEntry: TarWriteEntry = { path: META_NAME, type: "file", mode: 0o644, mtime };
    await write(entryHeader(metaEntry, metaBytes.length));
    await write(metaBytes);
    await write(padding(metaBytes.length));
    for (const f of meta.files) {
      const size = f.type === "file" ? f.size! : 0;
      await write(entryHeader({ ...f, mtime, uid: 0, gid: 0 }, size));
      if (f.type === "file") {
        await copyFile(join(dir, f.path), size, write);
        await write(padding(size));
      }
    }
    await write(endOfArchive());
  }, sink);
  return meta;
}

/** Build a package from `dir` into the file `out` (see {@linkcode streamPackage}). */
export async function writePackage(
  dir: string,
  input: PackageMetaInput,
  out: string,
  mtime?: number,
  opts: WriteOptions = {},
): Promise<PackageMeta> {
  const f = await open(out, "w");
  try {
    return await streamPackage(
      dir,
      input,
      async (c) => {
        let off = 0;
        while (off < c.length) off += (await f.write(c, off, c.length - off)).bytesWritten;
      },
      mtime,
      opts,
    );
  } finally {
    await f.close();
  }
}

/** Build a package from `dir` and return its bytes (small packages, tests). */
export async function createPackage(
  dir: string,
  input: PackageMetaInput,
  mtime?: number,
  opts: WriteOptions = {},
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  await streamPackage(
    dir,
    input,
    (c) => {
      parts.push(c);
    },
    mtime,
    opts,
  );
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
