/**
 * The `ActionResult` of the Remote Execution API (build.bazel.remote.execution.v2), as
 * Bazel's HTTP cache stores it under `ac/<key>`: just the fields IceNet writes and
 * reads, in protobuf's wire format by hand (varints and length-delimited fields).
 *
 * bazel-remote validates what is PUT under `ac/` (utils/validate/action_result.go):
 * every output file has a relative, non-empty path and a digest whose hash is 64
 * lower-case hex digits and whose size is not negative; every symlink a relative,
 * non-empty path and a non-empty target. On GET it answers 404 unless every file
 * digest (and the stdout digest) is in its CAS. It re-encodes the message with its own
 * `execution_metadata.worker` added, so the bytes read back differ from those written:
 * the decoder skips fields it does not know, and nothing is signed over these bytes.
 *
 * ```ts
 * const bytes = encodeActionResult({ outputFiles: [{ path: "out/a", digest }], ... });
 * decodeActionResult(bytes).outputFiles[0].path; // "out/a"
 * ```
 */

/** A content digest: sha256 (hex) and size. */
export interface Digest {
  hash: string;
  size: number;
}

/** An output file of the action: a path and the CAS blob of its content. */
export interface OutputFile {
  path: string;
  digest: Digest;
  isExecutable?: boolean;
}

/** An output symlink. */
export interface OutputSymlink {
  path: string;
  target: string;
}

/** The fields of an ActionResult that IceNet uses. */
export interface ActionResult {
  outputFiles: OutputFile[];
  outputSymlinks: OutputSymlink[];
  exitCode: number;
  stdoutDigest?: Digest;
}

// Field numbers from remote_execution.proto.
const AR = {
  outputFiles: 2,
  exitCode: 4,
  stdoutDigest: 6,
  outputFileSymlinks: 10,
  outputSymlinks: 12,
};
const OUTPUT_FILE = { path: 1, digest: 2, isExecutable: 4 };
const SYMLINK = { path: 1, target: 2 };
const DIGEST = { hash: 1, sizeBytes: 2 };
const VARINT = 0, I64 = 1, LEN = 2, I32 = 5;

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/** Serialise an ActionResult (fields in field-number order, proto3 defaults omitted). */
export function encodeActionResult(ar: ActionResult): Uint8Array {
  const w = new Writer();
  for (const f of ar.outputFiles) {
    const m = new Writer();
    m.string(OUTPUT_FILE.path, f.path);
    m.message(OUTPUT_FILE.digest, digestBytes(f.digest));
    if (f.isExecutable) m.varintField(OUTPUT_FILE.isExecutable, 1);
    w.message(AR.outputFiles, m.bytes());
  }
  if (ar.exitCode) w.varintField(AR.exitCode, ar.exitCode);
  if (ar.stdoutDigest) w.message(AR.stdoutDigest, digestBytes(ar.stdoutDigest));
  for (const s of ar.outputSymlinks) {
    const m = new Writer();
    m.string(SYMLINK.path, s.path);
    m.string(SYMLINK.target, s.target);
    w.message(AR.outputSymlinks, m.bytes());
  }
  return w.bytes();
}

/** Parse an ActionResult; unknown fields are skipped, malformed input throws. */
export function decodeActionResult(bytes: Uint8Array): ActionResult {
  const ar: ActionResult = { outputFiles: [], outputSymlinks: [], exitCode: 0 };
  for (const [field, v] of fields(bytes)) {
    if (field === AR.outputFiles && v instanceof Uint8Array) {
      const f: OutputFile = { path: "", digest: { hash: "", size: 0 } };
      for (const [ff, fv] of fields(v)) {
        if (ff === OUTPUT_FILE.path && fv instanceof Uint8Array) f.path = dec.decode(fv);
        if (ff === OUTPUT_FILE.digest && fv instanceof Uint8Array) f.digest = parseDigest(fv);
        if (ff === OUTPUT_FILE.isExecutable && typeof fv === "number") f.isExecutable = fv !== 0;
      }
      ar.outputFiles.push(f);
    } else if (
      (field === AR.outputSymlinks || field === AR.outputFileSymlinks) && v instanceof Uint8Array
    ) {
      const s: OutputSymlink = { path: "", target: "" };
      for (const [sf, sv] of fields(v)) {
        if (sf === SYMLINK.path && sv instanceof Uint8Array) s.path = dec.decode(sv);
        if (sf === SYMLINK.target && sv instanceof Uint8Array) s.target = dec.decode(sv);
      }
      ar.outputSymlinks.push(s);
    } else if (field === AR.exitCode && typeof v === "number") {
      ar.exitCode = v; // IceNet writes 0 (omitted); anything else marks a failed action
    } else if (field === AR.stdoutDigest && v instanceof Uint8Array) {
      ar.stdoutDigest = parseDigest(v);
    }
  }
  return ar;
}

/**
 * What bazel-remote's validate.ActionResult refuses, as its message; undefined when
 * the result is valid. Used before every upload, so a result a stock server would
 * reject is never sent.
 */
export function actionResultProblem(ar: ActionResult): string | undefined {
  const hex = /^[a-f0-9]{64}$/;
  for (const f of ar.outputFiles) {
    if (f.path === "") return "empty path";
    if (f.path.startsWith("/")) return `absolute path in output file: ${JSON.stringify(f.path)}`;
    if (f.digest.size < 0) return `invalid Digest for path "${f.path}": negative SizeBytes`;
    if (!hex.test(f.digest.hash)) return `invalid Digest for path "${f.path}": invalid hash`;
  }
  for (const s of ar.outputSymlinks) {
    if (s.path === "") return "empty path in OutputSymlinks";
    if (s.target === "") return "empty target in OutputSymlinks";
    if (s.path.startsWith("/")) return `absolute path in output symlink: ${JSON.stringify(s.path)}`;
  }
  if (ar.stdoutDigest && !hex.test(ar.stdoutDigest.hash)) return "invalid StdoutDigest";
  return undefined;
}

function digestBytes(d: Digest): Uint8Array {
  const m = new Writer();
  m.string(DIGEST.hash, d.hash);
  if (d.size) m.varintField(DIGEST.sizeBytes, d.size);
  return m.bytes();
}

function parseDigest(bytes: Uint8Array): Digest {
  const d: Digest = { hash: "", size: 0 };
  for (const [f, v] of fields(bytes)) {
    if (f === DIGEST.hash && v instanceof Uint8Array) d.hash = dec.decode(v);
    if (f === DIGEST.sizeBytes && typeof v === "number") d.size = v;
  }
  return d;
}

/** The fields of one message: (field number, varint value or length-delimited bytes). */
function* fields(buf: Uint8Array): Generator<[number, number | Uint8Array]> {
  let pos = 0;
  const varint = (): number => {
    let v = 0, mul = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= buf.length) throw new Error("protobuf: truncated varint");
      const b = buf[pos++];
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
    throw new Error("protobuf: varint longer than 10 bytes");
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8), type = key % 8;
    if (field === 0) throw new Error("protobuf: field number 0");
    if (type === VARINT) yield [field, varint()];
    else if (type === LEN) {
      const n = varint();
      if (pos + n > buf.length) throw new Error("protobuf: truncated field");
      yield [field, buf.subarray(pos, pos + n)];
      pos += n;
    } else if (type === I64 || type === I32) {
      pos += type === I64 ? 8 : 4;
      if (pos > buf.length) throw new Error("protobuf: truncated fixed field");
    } else throw new Error(`protobuf: unsupported wire type ${type}`);
  }
}

class Writer {
  #parts: number[] = [];
  #chunks: Uint8Array[] = [];

  varint(v: number): void {
    if (v < 0 || !Number.isSafeInteger(v)) throw new Error(`protobuf: bad varint ${v}`);
    while (v >= 0x80) {
      this.#parts.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    this.#parts.push(v);
  }

  varintField(field: number, v: number): void {
    this.varint(field * 8 + VARINT);
    this.varint(v);
  }

  message(field: number, bytes: Uint8Array): void {
    this.varint(field * 8 + LEN);
    this.varint(bytes.length);
    this.#flush();
    this.#chunks.push(bytes);
  }

  string(field: number, s: string): void {
    this.message(field, enc.encode(s));
  }

  #flush(): void {
    if (this.#parts.length) this.#chunks.push(Uint8Array.from(this.#parts));
    this.#parts = [];
  }

  bytes(): Uint8Array {
    this.#flush();
    const out = new Uint8Array(this.#chunks.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of this.#chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}
