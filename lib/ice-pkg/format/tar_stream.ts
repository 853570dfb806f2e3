/**
 * A streaming tar reader: headers one at a time, each entry's data handed on in
 * chunks as it arrives, so memory stays bounded whatever the archive's size. The
 * caller decides after each header whether the entry is acceptable *before* its data
 * is read (a bomb is refused at its header, not after decompressing it).
 *
 * Strict about the end: exactly two zero blocks, then nothing (what the package
 * writer produces); anything after them is refused rather than drained.
 *
 * ```ts
 * const tar = new TarStreamReader(stream);
 * for (let h = await tar.next(); h; h = await tar.next()) {
 *   await tar.data((chunk) => sink.write(chunk));
 * }
 * ```
 */
import { BLOCK, isZeroBlock, MAX_PAX, parseHeader, parsePax, type TarHeader } from "./tar.ts";
import { ChunkReader } from "../_stream.ts";

/** Reads a tar archive from a byte stream. Errors are `tar: ...` Errors. */
export class TarStreamReader {
  #reader: ChunkReader;
  #buf: Uint8Array = new Uint8Array(0);
  #pos = 0;
  #offset = 0;
  #pending = 0;
  #pendingPad = 0;
  #done = false;

  /**
   * Chunks handed to callers are valid until the callback returns (with a byte
   * stream the buffer is reused: no garbage per chunk, which keeps the RSS flat).
   */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = new ChunkReader(stream);
  }

  /** Bytes of the archive consumed so far. */
  get offset(): number {
    return this.#offset;
  }

  /** Fill the buffer with at least one more byte; false at the end of the stream. */
  async #more(): Promise<boolean> {
    while (this.#pos >= this.#buf.length) {
      const c = await this.#reader.read();
      if (!c) return false;
      this.#buf = c;
      this.#pos = 0;
    }
    return true;
  }

  /** Exactly `n` bytes (small n: headers, pax records, metadata). */
  async #exact(n: number, what: string): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      if (!(await this.#more())) {
        throw new Error(`tar: truncated ${what} at byte ${this.#offset}`);
      }
      const take = Math.min(n - got, this.#buf.length - this.#pos);
      out.set(this.#buf.subarray(this.#pos, this.#pos + take), got);
      this.#pos += take;
      got += take;
      this.#offset += take;
    }
    return out;
  }

  /** Pass `n` bytes to `onChunk` as they arrive (no copy beyond the stream's chunks). */
  async #pass(n: number, onChunk: (c: Uint8Array) => void | Promise<void>): Promise<void> {
    let left = n;
    while (left > 0) {
      if (!(await this.#more())) {
        throw new Error(`tar: truncated entry data at byte ${this.#offset}`);
      }
      const take = Math.min(left, this.#buf.length - this.#pos);
      const chunk = this.#buf.subarray(this.#pos, this.#pos + take);
      this.#pos += take;
      this.#offset += take;
      left -= take;
      await onChunk(chunk);
    }
  }

  /**
   * The next entry's header, or null after the end-of-archive marker. The previous
   * entry's data is skipped if it was not read.
   */
  async next(): Promise<TarHeader | null> {
    if (this.#done) return null;
    if (this.#pending) await this.data(() => {});
    let pax: Record<string, string> | undefined;
    while (true) {
      const at = this.#offset;
      const h = await this.#exact(BLOCK, "header");
      if (isZeroBlock(h)) {
        const second = await this.#exact(BLOCK, "end-of-archive marker");
        if (!isZeroBlock(second)) throw new Error(`tar: bad end-of-archive marker at byte ${at}`);
        if (await this.#more()) throw new Error("data after the end of the archive");
        this.#done = true;
        return null;
      }
      const e = parseHeader(h, at, pax);
      if (e.typeflag !== "x") {
        this.#pending = e.size;
        this.#pendingPad = (BLOCK - (e.size % BLOCK)) % BLOCK;
        return e;
      }
      if (e.size > MAX_PAX) throw new Error(`tar: pax header of ${e.size} bytes at byte ${at}`);
      const body = await this.#exact(e.size, "pax header");
      await this.#exact((BLOCK - (e.size % BLOCK)) % BLOCK, "pax header");
      pax = parsePax(body);
    }
  }

  /** Hand the current entry's data to `onChunk`, then skip its padding. */
  async data(onChunk: (c: Uint8Array) => void | Promise<void>): Promise<void> {
    const n = this.#pending;
    this.#pending = 0;
    await this.#pass(n, onChunk);
    await this.#exact(this.#pendingPad, "padding");
    this.#pendingPad = 0;
  }

  /** The current entry's data in one array (callers check the size first). */
  async dataBytes(): Promise<Uint8Array> {
    const n = this.#pending;
    this.#pending = 0;
    const out = await this.#exact(n, "entry data");
    await this.#exact(this.#pendingPad, "padding");
    this.#pendingPad = 0;
    return out;
  }

  /** Stop reading (the stream is cancelled). */
  async cancel(): Promise<void> {
    this.#done = true;
    await this.#reader.cancel();
  }
}
