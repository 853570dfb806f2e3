/**
 * Reading files from a repository: `http(s)://...` through fetch (with a progress
 * line on a TTY), anything else as a local directory (`file://` allowed). Nothing is
 * read without a bound: small files (index, signature) up to a fixed size, packages
 * streamed to disk and stopped at the size the signed index gives, hashed on the way.
 *
 * ```ts
 * const bytes = await repoRead("http://127.0.0.1:8080/repo", "INDEX.json");
 * await repoDownload(url, "foo-1.0-r0.ice", "/var/cache/ice-pkg/foo-1.0-r0.ice.part", { size, sha256 }, "foo-1.0-r0");
 * ```
 */
import { writeSync } from "node:fs";
import { type FileHandle, open as openFile, rm } from "node:fs/promises";
import { isatty } from "node:tty";
import { isNotFound } from "./_fs.ts";
import { IcePkgError, integrityError } from "./errors.ts";
import { Sha256 } from "./hash.ts";
import { ChunkReader } from "./_stream.ts";

/** Largest index (or signature) read from a repository. */
export const MAX_INDEX_BYTES = 32 << 20;

/** A repository file that does not exist (e.g. an unsigned index has no `.sig`). */
export class RepoFileMissing extends IcePkgError {
  constructor(where: string) {
    super(`${where}: not found`);
  }
}

/** A file's bytes as a web stream; the handle is closed at the end or on cancel. */
function fileStream(f: FileHandle): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    async pull(c) {
      const buf = new Uint8Array(256 * 1024);
      const { bytesRead } = await f.read(buf, 0, buf.length, null);
      if (bytesRead) return c.enqueue(buf.subarray(0, bytesRead));
      await f.close();
      c.close();
    },
    cancel: () => f.close(),
  });
}

function isHttp(url: string): boolean {
  return /^https?:\/\//.test(url);
}

/** The bytes of `name` in the repository as a stream, and where it is (for messages). */
async function open(
  url: string,
  name: string,
): Promise<{ stream: ReadableStream<Uint8Array>; where: string; length?: number }> {
  if (!isHttp(url)) {
    const where = `${url.replace(/^file:\/\//, "")}/${name}`;
    try {
      const f = await openFile(where);
      return { stream: fileStream(f), where, length: (await f.stat()).size };
    } catch (e) {
      if (isNotFound(e)) throw new RepoFileMissing(where);
      throw new IcePkgError(`${where}: ${(e as Error).message}`);
    }
  }
  const where = `${url.replace(/\/$/, "")}/${name}`;
  let res: Response;
  try {
    res = await fetch(where);
  } catch (e) {
    throw new IcePkgError(`${where}: ${(e as Error).message}`);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    throw new RepoFileMissing(where);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new IcePkgError(`${where}: HTTP ${res.status}`);
  }
  const len = res.headers.get("content-length");
  return { stream: res.body, where, length: len === null ? undefined : Number(len) };
}

/** A progress line on stderr when it is a terminal. */
function progressLine(name: string, total: number | undefined, enabled: boolean) {
  const show = enabled && isatty(2);
  const enc = new TextEncoder();
  let shown = 0;
  return {
    update(got: number) {
      if (!show || performance.now() - shown < 100) return;
      shown = performance.now();
      const pct = total ? ` ${Math.floor((got / total) * 100)}%` : "";
      writeSync(2, enc.encode(`\r${name}:${pct} ${(got / 1048576).toFixed(1)} MiB `));
    },
    done() {
      if (show) writeSync(2, enc.encode("\r\x1b[K"));
    },
  };
}

/** Read a small file (at most `max` bytes) from the repository at `url`. */
export async function repoRead(
  url: string,
  name: string,
  progress = false,
  max = MAX_INDEX_BYTES,
): Promise<Uint8Array> {
  const { stream, where, length } = await open(url, name);
  if (length !== undefined && length > max) {
    await stream.cancel();
    throw integrityError(`${where}: ${length} bytes, more than the ${max} allowed`);
  }
  const line = progressLine(name, length, progress);
  const chunks: Uint8Array[] = [];
  let got = 0;
  const r = new ChunkReader(stream);
  for (let c = await r.read(); c; c = await r.read()) {
    got += c.length;
    if (got > max) {
      line.done();
      await r.cancel();
      throw integrityError(`${where}: more than the ${max} bytes allowed`);
    }
    chunks.push(c.slice());
    line.update(got);
  }
  line.done();
  const out = new Uint8Array(got);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** What the signed index says a file is. */
export interface Expect {
  size: number;
  sha256: string;
}

/**
 * Stream `name` from the repository into the file `dest`, hashing it; stop as soon as
 * it exceeds `expect.size`. On any mismatch `dest` is deleted and an integrity error
 * names `id`. Memory stays bounded whatever the size.
 */
export async function repoDownload(
  url: string,
  name: string,
  dest: string,
  expect: Expect,
  id: string,
  progress = false,
): Promise<void> {
  const { stream, length } = await open(url, name);
  const tooBig = () =>
    integrityError(
      `${id}: downloaded ${name}: more than the ${expect.size} bytes the index gives (stopped there)`,
    );
  if (length !== undefined && length > expect.size) {
    await stream.cancel();
    throw tooBig();
  }
  const line = progressLine(name, expect.size, progress);
  const h = new Sha256(expect.size);
  let got = 0;
  const r = new ChunkReader(stream);
  try {
    const f = await openFile(dest, "w");
    try {
      for (let c = await r.read(); c; c = await r.read()) {
        got += c.length;
        if (got > expect.size) throw tooBig();
        await h.update(c);
        let off = 0;
        while (off < c.length) off += (await f.write(c, off, c.length - off)).bytesWritten;
        line.update(got);
      }
      await f.sync();
    } finally {
      await f.close();
    }
    const sha = await h.hex();
    if (got !== expect.size || sha !== expect.sha256) {
      throw integrityError(
        `${id}: downloaded ${name} has sha256 ${sha} (${got} bytes), the index says ${expect.sha256} (${expect.size} bytes)`,
      );
    }
  } catch (e) {
    await r.cancel();
    await rm(dest, { force: true });
    throw e;
  } finally {
    line.done();
  }
}
