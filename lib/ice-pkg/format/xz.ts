/**
 * xz through the `xz` program (Debian's xz-utils at build time, busybox's xz/unxz on
 * the device), streaming: compressed bytes go in and decompressed bytes come out in
 * chunks with the pipe's back-pressure between, so memory stays bounded whatever the
 * size. Compression options are fixed so output is deterministic: single-threaded
 * (-T1; the multi-threaded format splits blocks differently), preset 6, CRC64.
 *
 * ```ts
 * const dec = xzDecode(fileStream, "foo.ice");
 * for await (const chunk of dec.output) use(chunk);
 * await dec.done(); // throws if the xz data was corrupt or truncated
 * ```
 */
import { open } from "node:fs/promises";
import { integrityError } from "../errors.ts";
import { type PipedChild, spawnPiped } from "../_process.ts";

const COMPRESS = ["-z", "-c", "-6", "-T1", "--check=crc64"];
// No -T here: busybox's xz applet knows only -d -c -f -k -t; decoding is deterministic anyway.
const DECOMPRESS = ["-d", "-c"];

function spawnXz(args: string[]): PipedChild {
  try {
    return spawnPiped("xz", args);
  } catch (e) {
    throw new Error(`xz: cannot run the xz program (Debian package xz-utils): ${e}`);
  }
}

/** Read a stream to its end keeping at most `limit` bytes (xz's error messages). */
async function tail(stream: ReadableStream<Uint8Array>, limit: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of stream) {
    if (n < limit) chunks.push(c.slice(0, limit - n));
    n += c.length;
  }
  return new TextDecoder().decode(join(chunks));
}

/** A running decompression. */
export interface XzDecoder {
  /** The decompressed bytes. */
  output: ReadableStream<Uint8Array>;
  /**
   * Wait for xz to finish. Throws an integrity error naming the file if the data was
   * truncated or corrupt; resolves quietly after {@linkcode XzDecoder.kill}.
   */
  done(): Promise<void>;
  /** Stop early (the rest of the input is not wanted). */
  kill(): void;
}

/** A file to decompress, each compressed chunk also passed to `onChunk` (hashing). */
export interface XzFileInput {
  file: string;
  onChunk?: (c: Uint8Array) => void | Promise<void>;
}

/** Feed a file to a writable through one reused buffer (no garbage per chunk). */
async function pumpFile(input: XzFileInput, stdin: WritableStream<Uint8Array>): Promise<void> {
  const f = await open(input.file);
  try {
    const w = stdin.getWriter();
    const buf = new Uint8Array(64 * 1024);
    while (true) {
      const { bytesRead: n } = await f.read(buf, 0, buf.length, null);
      if (n === 0) break;
      await input.onChunk?.(buf.subarray(0, n));
      await w.write(buf.subarray(0, n)); // resolved once written: buf may be refilled
    }
    await w.close();
  } finally {
    await f.close();
  }
}

/** Decompress `input` (a stream, or a file) with `xz -d -c`; `what` names it in errors. */
export function xzDecode(input: ReadableStream<Uint8Array> | XzFileInput, what: string): XzDecoder {
  const child = spawnXz(DECOMPRESS);
  let killed = false;
  // xz exiting early (corrupt input, or killed) breaks the pipe: reported by done().
  const pump =
    (input instanceof ReadableStream ? input.pipeTo(child.stdin) : pumpFile(input, child.stdin))
      .catch(() => {});
  const err = tail(child.stderr, 1 << 16);
  return {
    output: child.stdout,
    kill() {
      killed = true;
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    },
    async done() {
      const status = await child.status;
      await pump;
      const msg = (await err).trim().replace(/^xz: \(stdin\): /, "");
      if (killed) return;
      if (!status.success) {
        throw integrityError(
          `${what}: truncated or corrupt xz data (${msg || `exit ${status.code}`})`,
        );
      }
    },
  };
}

/** A stream of bytes held in memory (tests, small packages), one or more chunks. */
export function bytesStream(...chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(c) {
      for (const chunk of chunks) if (chunk.length) c.enqueue(chunk);
      c.close();
    },
  });
}

/**
 * Compress what `produce` writes (fixed options: the result depends only on the
 * bytes) and hand each compressed chunk to `sink`.
 */
export async function xzEncode(
  produce: (write: (chunk: Uint8Array) => Promise<void>) => Promise<void>,
  sink: (chunk: Uint8Array) => void | Promise<void>,
): Promise<void> {
  const child = spawnXz(COMPRESS);
  const w = child.stdin.getWriter();
  const err = tail(child.stderr, 1 << 16);
  const reading = (async () => {
    for await (const c of child.stdout) await sink(c);
  })();
  try {
    await produce((chunk) => w.write(chunk));
    await w.close();
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* gone */ }
    await reading.catch(() => {});
    throw e;
  }
  await reading;
  const status = await child.status;
  if (!status.success) throw new Error(`xz: compression failed: ${(await err).trim()}`);
}

/** Compress bytes held in memory. */
export async function xzCompress(data: Uint8Array): Promise<Uint8Array> {
  const out: Uint8Array[] = [];
  await xzEncode(async (write) => await write(data), (c) => {
    out.push(c);
  });
  return join(out);
}

/** Decompress bytes held in memory, refusing output larger than `limit` bytes. */
export async function xzDecompress(
  data: Uint8Array,
  limit: number,
  what = "xz",
): Promise<Uint8Array> {
  const dec = xzDecode(bytesStream(data), what);
  const out: Uint8Array[] = [];
  let n = 0;
  for await (const c of dec.output) {
    n += c.length;
    if (n > limit) {
      dec.kill();
      await dec.done();
      throw integrityError(`${what}: decompressed data exceeds ${limit} bytes`);
    }
    out.push(c);
  }
  await dec.done();
  return join(out);
}

function join(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
