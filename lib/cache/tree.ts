/**
 * A stage's output tree as CAS blobs: every file by its sha256, the manifest as a
 * blob of its own. The manifest blob is the store's manifest.json plus `sparse`: the
 * data extents of files with holes (disk images keep holes exactly where no tool
 * wrote, and `flash` and `release` read them), so a downloaded tree is the same tree
 * down to its holes.
 *
 * Downloads check everything against the manifest: each blob's size and sha256 while
 * it streams to disk, zeros where the manifest says hole, paths that stay inside the
 * tree; the manifest itself must hash to the signed record's output hash. Symlinks
 * are made last, so no file is ever written through one.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { dataExtents, type Extent } from "../image/extents.ts";
import { type Manifest, type ManifestEntry, outputHash } from "../manifest.ts";
import { sha256 } from "../hash.ts";
import type { Digest } from "./action_result.ts";
import type { Kind, Transport } from "./transport.ts";
import { WHOLE_BODY_MAX } from "./transport.ts";

/** The manifest blob. */
export interface CacheManifest extends Manifest {
  /** Data extents ([start, end) byte ranges) of the files that have holes, by path. */
  sparse?: Record<string, [number, number][]>;
}

/** A blob that is missing, of the wrong size or content, or a manifest that is unsafe. */
export class BadEntry extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = "BadEntry";
  }
}

/** Counts transferred bytes. */
export type OnBytes = (n: number) => void;

/** Run `fn` over `items`, at most `limit` at once; the first failure rejects. */
export async function pool<T>(items: T[], limit: number, fn: (t: T) => Promise<void>) {
  let next = 0, failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** The manifest blob's bytes for an object in the store (`dir` is its out/ dir). */
export function cacheManifest(dir: string, m: Manifest): Uint8Array {
  const sparse: Record<string, [number, number][]> = {};
  for (const f of m.files) {
    if (f.type !== "file" || f.size === 0) continue;
    const st = Deno.statSync(join(dir, f.path));
    // Fewer blocks than bytes: the file has holes (cheap to ask; extents are not).
    if (st.blocks !== null && st.blocks * 512 >= f.size) continue;
    const ext = dataExtents(join(dir, f.path));
    if (ext.length === 1 && ext[0].start === 0 && ext[0].end === f.size) continue;
    sparse[f.path] = ext.map((e) => [e.start, e.end]);
  }
  const out: CacheManifest = { ...m, ...(Object.keys(sparse).length ? { sparse } : {}) };
  return new TextEncoder().encode(JSON.stringify(out));
}

/**
 * Upload every file of a stored output (those the cache lacks), then the manifest
 * blob. A file whose content no longer matches the manifest (a damaged store) fails
 * the upload rather than poisoning the cache.
 */
export async function uploadTree(
  t: Transport,
  dir: string,
  manifest: Manifest,
  manifestBlob: Uint8Array,
  onBytes: OnBytes,
  limit = 4,
): Promise<void> {
  const unique = new Map<string, Extract<ManifestEntry, { type: "file" }>>();
  for (const f of manifest.files) if (f.type === "file") unique.set(f.sha256, f);
  await pool([...unique.values()], limit, async (f) => {
    if (await t.has("cas", f.sha256)) return;
    const path = join(dir, f.path);
    if (f.size <= WHOLE_BODY_MAX) {
      const bytes = await Deno.readFile(path);
      if (sha256(bytes) !== f.sha256) {
        throw new Error(
          `${path}: content differs from the store's manifest (run deno task verify)`,
        );
      }
      await t.put("cas", f.sha256, bytes);
    } else await t.put("cas", f.sha256, { path, size: f.size });
    onBytes(f.size);
  });
  await putBlob(t, manifestBlob, onBytes);
}

/** Upload bytes as a CAS blob unless present; returns its digest. */
export async function putBlob(t: Transport, bytes: Uint8Array, onBytes: OnBytes): Promise<Digest> {
  const d = { hash: sha256(bytes), size: bytes.length };
  if (!(await t.has("cas", d.hash))) {
    await t.put("cas", d.hash, bytes);
    onBytes(bytes.length);
  }
  return d;
}

/**
 * A blob read whole (records, manifests, logs, action results), checked against its
 * digest when one is given; `undefined` when the cache does not have it.
 */
export async function readBlob(
  t: Transport,
  kind: Kind,
  hash: string,
  onBytes: OnBytes,
  expect?: Digest,
  max = 256 * 1024 * 1024,
): Promise<Uint8Array | undefined> {
  const body = await t.get(kind, hash);
  if (!body) return undefined;
  const limit = expect?.size ?? max;
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of body.stream) {
    n += c.length;
    onBytes(c.length);
    if (n > limit) {
      await body.stream.cancel().catch(() => {});
      throw new BadEntry(`${kind}/${hash}: longer than ${limit} bytes`);
    }
    chunks.push(c);
  }
  const bytes = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    bytes.set(c, off);
    off += c.length;
  }
  if (expect && (n !== expect.size || sha256(bytes) !== expect.hash)) {
    throw new BadEntry(`${kind}/${hash}: content does not match its digest (${n} bytes)`);
  }
  return bytes;
}

/** Parse and check a manifest blob against the record's output hash. */
export function parseManifest(bytes: Uint8Array, outputHashWanted: string): CacheManifest {
  let m: CacheManifest;
  try {
    m = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new BadEntry("manifest blob is not JSON");
  }
  if (!Array.isArray(m?.files)) throw new BadEntry("manifest blob has no file list");
  if (outputHash(m.files) !== outputHashWanted) {
    throw new BadEntry(`manifest's files do not hash to the record's output ${outputHashWanted}`);
  }
  checkPaths(m);
  return m;
}

/** Every path relative and inside the tree, below a directory the manifest lists. */
function checkPaths(m: CacheManifest): void {
  const dirs = new Set([""]);
  for (const f of m.files) {
    const parts = typeof f.path === "string" ? f.path.split("/") : [];
    if (!parts.length || parts.some((p) => p === "" || p === "." || p === "..")) {
      throw new BadEntry(`manifest path ${JSON.stringify(f.path)} leaves the tree`);
    }
    if (!dirs.has(parts.slice(0, -1).join("/"))) {
      throw new BadEntry(`manifest path ${f.path} is not below a listed directory`);
    }
    if (f.type === "dir") dirs.add(f.path);
    else if (f.type === "file") {
      if (!/^[0-9a-f]{64}$/.test(f.sha256) || !Number.isSafeInteger(f.size) || f.size < 0) {
        throw new BadEntry(`manifest entry ${f.path}: bad sha256 or size`);
      }
    } else if (f.type !== "symlink") {
      throw new BadEntry(`manifest entry ${(f as { path: string }).path}: bad type`);
    }
  }
  const sizes = new Map(m.files.flatMap((f) => f.type === "file" ? [[f.path, f.size]] : []));
  for (const [path, ext] of Object.entries(m.sparse ?? {})) {
    const size = sizes.get(path);
    let at = 0;
    const ok = size !== undefined && Array.isArray(ext) && ext.every((e) => {
      const good = Array.isArray(e) && Number.isSafeInteger(e[0]) && Number.isSafeInteger(e[1]) &&
        e[0] >= at && e[0] < e[1] && e[1] <= size;
      at = good ? e[1] : Infinity;
      return good;
    });
    if (!ok) throw new BadEntry(`manifest extents of ${path}: not ordered ranges within the file`);
  }
}

/**
 * Make the tree of a checked manifest under `out` (which must not exist): dirs,
 * then files (each blob verified while written), then symlinks, then dir modes.
 */
export async function downloadTree(
  t: Transport,
  m: CacheManifest,
  out: string,
  onBytes: OnBytes,
  signal?: AbortSignal,
  limit = 8,
): Promise<void> {
  Deno.mkdirSync(out, { mode: 0o755 });
  for (const f of m.files) if (f.type === "dir") Deno.mkdirSync(join(out, f.path), { mode: 0o755 });
  const files = m.files.filter((f) => f.type === "file");
  await pool(files, limit, async (f) => {
    if (signal?.aborted) throw new Error("interrupted");
    const ext = m.sparse?.[f.path]?.map(([start, end]) => ({ start, end }));
    await fetchFile(t, f, join(out, f.path), onBytes, ext);
    Deno.chmodSync(join(out, f.path), f.mode);
  });
  for (const f of m.files) {
    if (f.type === "symlink") Deno.symlinkSync(f.target, join(out, f.path));
  }
  // Deepest first, so a read-only dir is closed after everything below it is made.
  const dirs = m.files.filter((f) => f.type === "dir").reverse();
  for (const d of dirs) Deno.chmodSync(join(out, d.path), d.mode);
}

/** One file from its blob: size and sha256 checked; only the data extents written. */
async function fetchFile(
  t: Transport,
  f: Extract<ManifestEntry, { type: "file" }>,
  path: string,
  onBytes: OnBytes,
  extents?: Extent[],
): Promise<void> {
  using file = Deno.openSync(path, { write: true, createNew: true, mode: 0o600 });
  if (f.size === 0) return;
  const body = await t.get("cas", f.sha256);
  if (!body) throw new BadEntry(`cas/${f.sha256} (${f.path}) is missing`);
  const h = createHash("sha256");
  let pos = 0;
  try {
    for await (const chunk of body.stream) {
      onBytes(chunk.length);
      if (pos + chunk.length > f.size) {
        throw new BadEntry(`cas/${f.sha256} is longer than ${f.path}`);
      }
      h.update(chunk);
      if (extents) writeExtents(file, chunk, pos, extents, f.path);
      else writeAll(file, chunk);
      pos += chunk.length;
    }
  } catch (e) {
    await body.stream.cancel().catch(() => {});
    throw e;
  }
  if (pos !== f.size) throw new BadEntry(`cas/${f.sha256} (${f.path}): ${pos} of ${f.size} bytes`);
  if (h.digest("hex") !== f.sha256) {
    throw new BadEntry(`cas/${f.sha256} (${f.path}): content does not match its sha256`);
  }
  if (extents) file.truncateSync(f.size);
}

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let off = 0;
  while (off < bytes.length) off += file.writeSync(bytes.subarray(off));
}

/** Write the parts of a chunk at `pos` that fall in data extents; the rest must be zeros. */
function writeExtents(
  file: Deno.FsFile,
  chunk: Uint8Array,
  pos: number,
  extents: Extent[],
  name: string,
): void {
  const end = pos + chunk.length;
  let covered = pos;
  for (const e of extents) {
    if (e.end <= pos || e.start >= end) continue;
    const a = Math.max(e.start, pos), b = Math.min(e.end, end);
    checkZeros(chunk.subarray(covered - pos, a - pos), name);
    file.seekSync(a, Deno.SeekMode.Start);
    writeAll(file, chunk.subarray(a - pos, b - pos));
    covered = b;
  }
  checkZeros(chunk.subarray(covered - pos), name);
}

function checkZeros(bytes: Uint8Array, name: string): void {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== 0) throw new BadEntry(`${name}: data where the manifest says hole`);
  }
}
