/**
 * xz compression through the `xz` program (Debian's xz-utils at build time,
 * busybox's xz/unxz on the device). Options are fixed so output is deterministic:
 * single-threaded (-T1; the multi-threaded format splits blocks differently),
 * preset 6, CRC64 check.
 *
 * ```ts
 * const packed = await xzCompress(bytes);
 * const back = await xzDecompress(packed, 64 << 20);
 * ```
 */
import { integrityError } from "../errors.ts";

async function collect(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  onLimit: () => void,
): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const c of stream) {
    total += c.length;
    if (total > limit) {
      onLimit();
      return undefined;
    }
    chunks.push(c);
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

async function run(args: string[], input: Uint8Array, limit: number, what: string) {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("xz", { args, stdin: "piped", stdout: "piped", stderr: "piped" })
      .spawn();
  } catch (e) {
    throw new Error(`xz: cannot run the xz program (Debian package xz-utils): ${e}`);
  }
  let overLimit = false;
  const writer = (async () => {
    const w = child.stdin.getWriter();
    try {
      await w.write(input);
      await w.close();
    } catch {
      // xz exited early (corrupt input or killed at the size limit): reported below.
    }
  })();
  const [out, err] = await Promise.all([
    collect(child.stdout, limit, () => {
      overLimit = true;
      try {
        child.kill("SIGKILL");
      } catch { /* already gone */ }
    }),
    collect(child.stderr, 1 << 16, () => {}),
    writer,
  ]);
  const status = await child.status;
  if (overLimit) throw integrityError(`${what}: decompressed data exceeds ${limit} bytes`);
  if (!status.success || !out) {
    const msg = new TextDecoder().decode(err ?? new Uint8Array()).trim().replace(
      /^xz: \(stdin\): /,
      "",
    );
    throw integrityError(`${what}: truncated or corrupt xz data (${msg || `exit ${status.code}`})`);
  }
  return out;
}

/** Compress with fixed options; the result depends only on the input bytes. */
export function xzCompress(data: Uint8Array): Promise<Uint8Array> {
  return run(["-z", "-c", "-6", "-T1", "--check=crc64"], data, Number.MAX_SAFE_INTEGER, "xz");
}

/** Decompress, refusing output larger than `limit` bytes; `what` names the file in errors. */
export function xzDecompress(data: Uint8Array, limit: number, what = "xz"): Promise<Uint8Array> {
  // No -T here: busybox's xz applet knows only -d -c -f -k -t; decoding is deterministic anyway.
  return run(["-d", "-c"], data, limit, what);
}
