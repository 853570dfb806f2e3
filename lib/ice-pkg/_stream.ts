/**
 * Reading a byte stream (a child's stdout, a file, an HTTP body) through one buffer
 * that is filled again and again (a BYOB reader) instead of a new array per chunk:
 * over a gigabyte, that garbage is what made the RSS grow. Streams without BYOB
 * support are read as they come.
 *
 * ```ts
 * const r = new ChunkReader(stream);
 * for (let c = await r.read(); c; c = await r.read()) use(c); // c is valid until the next read
 * ```
 */

/** Chunks of a byte stream; each is valid until the next `read()`. */
export class ChunkReader {
  #reader: ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader;
  #spare?: Uint8Array;

  constructor(stream: ReadableStream<Uint8Array>, size = 64 * 1024) {
    try {
      this.#reader = stream.getReader({ mode: "byob" });
      this.#spare = new Uint8Array(size);
    } catch {
      this.#reader = stream.getReader();
    }
  }

  /** The next chunk, or null at the end of the stream. */
  async read(): Promise<Uint8Array | null> {
    if (!this.#spare) {
      const r = await (this.#reader as ReadableStreamDefaultReader<Uint8Array>).read();
      return r.done ? null : r.value;
    }
    const r = await (this.#reader as ReadableStreamBYOBReader).read(this.#spare);
    if (r.value) this.#spare = new Uint8Array(r.value.buffer);
    return r.done || !r.value ? null : r.value;
  }

  /** Stop reading (the stream is cancelled). */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}
