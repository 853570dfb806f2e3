/**
 * A small ustar/pax tar codec: the header writer and parser shared by the in-memory
 * writer/reader here and the streaming ones (`tar_stream.ts`, `../package_write.ts`).
 *
 * Hand-written rather than taken from npm (tar-stream, tar): the writer must be
 * byte-for-byte deterministic (fixed field encoding, fixed pax header name, no
 * timestamps or user names from the host, no padding to a host-chosen record size),
 * and the reader must hand every raw entry type (hard links, devices, GNU
 * extensions) to the package validator instead of silently following or skipping
 * it. A library would bring its own choices for both.
 *
 * ```ts
 * const bytes = writeTar([{ path: "a.txt", type: "file", mode: 0o644, data: enc("hi") }]);
 * for (const e of readTar(bytes)) console.log(e.path, e.typeflag);
 * ```
 */

/** An entry to write. uid/gid are written as 0 unless given; mtime defaults to 0. */
export interface TarWriteEntry {
  path: string;
  type: "file" | "dir" | "symlink";
  mode: number;
  uid?: number;
  gid?: number;
  mtime?: number;
  data?: Uint8Array;
  target?: string;
}

/** An entry's header as read: the raw type flag is kept so callers can refuse what they don't allow. */
export interface TarHeader {
  path: string;
  /** "0" file, "5" dir, "2" symlink, "1" hard link, "3"/"4" devices, "6" fifo, ... */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  linkname: string;
}

/** An entry read from a tar held in memory: its header and data. */
export interface TarReadEntry extends TarHeader {
  data: Uint8Array;
}

/** Tar block size. */
export const BLOCK = 512;
/** Largest pax extended header accepted (a path and a link target of PATH_MAX fit easily). */
export const MAX_PAX = 64 * 1024;

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

function octal(buf: Uint8Array, off: number, width: number, value: number): void {
  const s = value.toString(8).padStart(width - 1, "0");
  if (s.length > width - 1) throw new Error(`tar: value ${value} does not fit in ${width} bytes`);
  buf.set(enc.encode(s), off);
  buf[off + width - 1] = 0;
}

function putString(buf: Uint8Array, off: number, width: number, s: string): void {
  const b = enc.encode(s);
  if (b.length > width) throw new Error(`tar: ${JSON.stringify(s)} longer than ${width} bytes`);
  buf.set(b, off);
}

function header(
  name: string,
  typeflag: string,
  mode: number,
  uid: number,
  gid: number,
  size: number,
  mtime: number,
  linkname: string,
): Uint8Array {
  const h = new Uint8Array(BLOCK);
  putString(h, 0, 100, name);
  octal(h, 100, 8, mode);
  octal(h, 108, 8, uid);
  octal(h, 116, 8, gid);
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h[156] = typeflag.charCodeAt(0);
  putString(h, 157, 100, linkname);
  putString(h, 257, 6, "ustar");
  putString(h, 263, 2, "00");
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  putString(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let len = enc.encode(body).length + 1;
  while (String(len).length + enc.encode(body).length !== len) len++;
  return `${len}${body}`;
}

/** Zero bytes that pad `size` bytes of data to a whole block. */
export function padding(size: number): Uint8Array {
  const rest = size % BLOCK;
  return new Uint8Array(rest ? BLOCK - rest : 0);
}

/** The end-of-archive marker: two zero blocks. */
export function endOfArchive(): Uint8Array {
  return new Uint8Array(BLOCK * 2);
}

/**
 * The header blocks of one entry whose data is `size` bytes (a pax header first when
 * the path or link target does not fit ustar's 100 bytes). The data and its
 * {@linkcode padding} follow.
 */
export function entryHeader(e: TarWriteEntry, size: number): Uint8Array {
  const name = e.type === "dir" && !e.path.endsWith("/") ? `${e.path}/` : e.path;
  const link = e.target ?? "";
  const mtime = e.mtime ?? 0;
  let pax = "";
  if (enc.encode(name).length > 100) pax += paxRecord("path", name);
  if (enc.encode(link).length > 100) pax += paxRecord("linkpath", link);
  const parts: Uint8Array[] = [];
  if (pax) {
    const body = enc.encode(pax);
    parts.push(header("././@PaxHeader", "x", 0o644, 0, 0, body.length, mtime, ""), body);
    parts.push(padding(body.length));
  }
  const flag = e.type === "file" ? "0" : e.type === "dir" ? "5" : "2";
  parts.push(
    header(
      pax.includes(" path=") ? "././@LongName" : name,
      flag,
      e.mode,
      e.uid ?? 0,
      e.gid ?? 0,
      e.type === "file" ? size : 0,
      mtime,
      pax.includes(" linkpath=") ? "././@LongLink" : link,
    ),
  );
  return concat(parts);
}

/** Concatenate byte arrays. */
export function concat(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Write entries in the given order (callers sort) into one tar byte array. */
export function writeTar(entries: TarWriteEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    const data = e.type === "file" ? (e.data ?? new Uint8Array()) : new Uint8Array();
    parts.push(entryHeader(e, data.length));
    if (data.length) parts.push(data, padding(data.length));
  }
  parts.push(endOfArchive());
  return concat(parts);
}

function cstring(h: Uint8Array, off: number, width: number): string {
  let end = off;
  while (end < off + width && h[end] !== 0) end++;
  try {
    return dec.decode(h.subarray(off, end));
  } catch {
    throw new Error(`tar: header field at byte ${off} is not valid UTF-8`);
  }
}

function parseOctal(h: Uint8Array, off: number, width: number, field: string): number {
  if (h[off] & 0x80) throw new Error(`tar: base-256 ${field} is not supported`);
  const s = cstring(h, off, width).trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new Error(`tar: bad octal ${field} ${JSON.stringify(s)}`);
  const n = parseInt(s, 8);
  if (!Number.isSafeInteger(n)) throw new Error(`tar: ${field} too large`);
  return n;
}

/** Parse a pax extended header's records. */
export function parsePax(body: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let text: string;
  try {
    text = dec.decode(body);
  } catch {
    throw new Error("tar: pax header is not valid UTF-8");
  }
  let i = 0;
  while (i < text.length) {
    const sp = text.indexOf(" ", i);
    const len = Number(text.slice(i, sp));
    if (sp < 0 || !Number.isInteger(len) || len <= 0) throw new Error("tar: bad pax record");
    const rec = enc.encode(text.slice(i)).subarray(0, len);
    const recText = dec.decode(rec);
    if (!recText.endsWith("\n")) throw new Error("tar: bad pax record length");
    const kv = recText.slice(sp - i + 1, -1);
    const eq = kv.indexOf("=");
    if (eq < 0) throw new Error("tar: bad pax record");
    out[kv.slice(0, eq)] = kv.slice(eq + 1);
    i += recText.length;
  }
  return out;
}

/** True if a block is all zeros (the end-of-archive marker). */
export function isZeroBlock(h: Uint8Array): boolean {
  for (let i = 0; i < h.length; i++) if (h[i] !== 0) return false;
  return true;
}

/**
 * Parse one header block (at archive offset `off`, for messages), applying the
 * pax records of a preceding `x` header. Checks the checksum.
 */
export function parseHeader(
  h: Uint8Array,
  off: number,
  pax: Record<string, string> | undefined,
): TarHeader {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  if (parseOctal(h, 148, 8, "checksum") !== sum) {
    throw new Error(`tar: header checksum mismatch at byte ${off}`);
  }
  const typeflag = h[156] === 0 ? "0" : String.fromCharCode(h[156]);
  let size = parseOctal(h, 124, 12, "size");
  if (pax?.size !== undefined) {
    size = Number(pax.size);
    if (!Number.isSafeInteger(size) || size < 0) {
      throw new Error(`tar: bad pax size at byte ${off}`);
    }
  }
  if (typeflag === "g" || typeflag === "L" || typeflag === "K") {
    throw new Error(`tar: unsupported header type ${typeflag} at byte ${off}`);
  }
  const prefix = cstring(h, 345, 155);
  const name = cstring(h, 0, 100);
  return {
    path: pax?.path ?? (prefix ? `${prefix}/${name}` : name),
    typeflag,
    mode: parseOctal(h, 100, 8, "mode"),
    uid: parseOctal(h, 108, 8, "uid"),
    gid: parseOctal(h, 116, 8, "gid"),
    size,
    linkname: pax?.linkpath ?? cstring(h, 157, 100),
  };
}

/**
 * Read all entries of a tar held in memory. Checks header checksums and bounds;
 * throws `tar: ...` on anything malformed or truncated. Pax `x` headers are applied
 * to the next entry; global (`g`) and GNU long-name headers are refused.
 */
export function readTar(buf: Uint8Array): TarReadEntry[] {
  const out: TarReadEntry[] = [];
  let off = 0;
  let pax: Record<string, string> | undefined;
  while (true) {
    if (off + BLOCK > buf.length) throw new Error("tar: truncated (no end-of-archive marker)");
    const h = buf.subarray(off, off + BLOCK);
    if (isZeroBlock(h)) break;
    const e = parseHeader(h, off, pax);
    const start = off + BLOCK;
    if (start + e.size > buf.length) {
      throw new Error(`tar: truncated entry at byte ${off} (size ${e.size})`);
    }
    const data = buf.subarray(start, start + e.size);
    off = start + Math.ceil(e.size / BLOCK) * BLOCK;
    if (e.typeflag === "x") {
      if (e.size > MAX_PAX) {
        throw new Error(`tar: pax header of ${e.size} bytes at byte ${start - BLOCK}`);
      }
      pax = parsePax(data);
      continue;
    }
    out.push({ ...e, data });
    pax = undefined;
  }
  return out;
}
