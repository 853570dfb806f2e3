/**
 * The log of one stage being built: a file in its scratch dir (moved into the store
 * with the output, or kept as `<key>.failed.log`) whose last line also feeds the
 * progress display.
 */
import type { Progress } from "./progress.ts";

/** A stage's log file plus its progress line. */
export class StageLog {
  #file: Deno.FsFile;
  #partial = "";
  #enc = new TextEncoder();
  #dec = new TextDecoder();

  constructor(readonly path: string, readonly sid: string, readonly progress: Progress) {
    this.#file = Deno.openSync(path, { write: true, create: true, append: true });
  }

  /** Append one line. */
  line(text: string): void {
    this.#file.writeSync(this.#enc.encode(text.endsWith("\n") ? text : text + "\n"));
    this.progress.line(this.sid, text.trimEnd());
  }

  /** A sink for command output: every byte to the file, the last full line to progress. */
  readonly stream = {
    writeSync: (chunk: Uint8Array): number => {
      this.#file.writeSync(chunk);
      this.#partial = (this.#partial + this.#dec.decode(chunk)).slice(-4096);
      const lines = this.#partial.split("\n");
      this.#partial = lines.pop()!;
      const last = lines.filter((l) => l.trim()).pop();
      if (last) this.progress.line(this.sid, last);
      return chunk.length;
    },
  };

  /** Close the file (twice is harmless). */
  close(): void {
    try {
      this.#file.close();
    } catch { /* already closed */ }
  }
}
