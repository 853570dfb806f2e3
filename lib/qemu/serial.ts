/**
 * A serial console driver: reads a guest's console stream, lets callers wait for a
 * pattern (with a timeout that reports what was seen last) and type text.
 * Works on any byte streams, typically QEMU's `-serial stdio`.
 *
 * ```ts
 * const con = new SerialConsole(child.stdout, child.stdin);
 * await con.expect(/login: $/, 60_000, "the login prompt");
 * await con.write("root\n");
 * ```
 */

// CSI sequences (ESC [ params final), other two-byte escapes, and \r: matching
// control characters is the point here.
// deno-lint-ignore no-control-regex
const ESCAPES = /\x1b\[[0-9;?=<>]*[ -\/]*[@-~]|\x1b[@-Z\\-_]|\r/g;
// deno-lint-ignore no-control-regex
const WHOLE_ESCAPE = /^\x1b(\[[0-9;?=<>]*[ -\/]*[@-~]|[@-Z\\-_])/;

/**
 * Remove terminal escapes and \r from `s`; an escape cut off at the end of `s` is
 * returned separately, to be completed by the next chunk.
 */
export function stripEscapes(s: string): [clean: string, rest: string] {
  const esc = s.lastIndexOf("\x1b");
  let rest = "";
  if (
    esc >= 0 && s.length - esc < 32 &&
    !WHOLE_ESCAPE.test(s.slice(esc))
  ) {
    rest = s.slice(esc);
    s = s.slice(0, esc);
  }
  return [s.replace(ESCAPES, ""), rest];
}

/** A console that can be waited on and typed into. */
export class SerialConsole {
  #text = "";
  #cursor = 0;
  #closed = false;
  #wake: (() => void)[] = [];
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #encoder = new TextEncoder();
  #diagnose: () => Promise<string> = () => Promise.resolve("");
  #firstOutput = Promise.withResolvers<boolean>();
  /** Resolves when the output stream ends (the guest or QEMU went away). */
  readonly done: Promise<void>;
  /** Resolves to true at the first byte of output, to false if the stream ends without any. */
  readonly firstOutput = this.#firstOutput.promise;

  /**
   * @param output the guest's console output
   * @param input the guest's console input
   * @param tee receives every decoded chunk (e.g. to show or log the console)
   */
  constructor(
    output: ReadableStream<Uint8Array>,
    input: WritableStream<Uint8Array>,
    tee?: (chunk: string) => void,
  ) {
    this.#writer = input.getWriter();
    this.done = (async () => {
      const decoder = new TextDecoder();
      try {
        let pending = "";
        for await (const chunk of output) {
          const s = decoder.decode(chunk, { stream: true });
          this.#firstOutput.resolve(true);
          tee?.(s);
          // Serial lines end in \r\n and carry terminal escapes (firmware screen
          // clears, the shell's cursor queries); patterns see plain text with \n.
          const [clean, rest] = stripEscapes(pending + s);
          pending = rest;
          this.#text += clean;
          this.#notify();
        }
      } catch {
        // The stream broke because the process died: same as closing.
      } finally {
        this.#closed = true;
        this.#firstOutput.resolve(false);
        this.#notify();
      }
    })();
  }

  /**
   * What to add to every expect() failure, e.g. how the emulator exited and its own
   * error output (a guest that never printed a byte is usually an emulator's failure).
   */
  setDiagnostics(diagnose: () => Promise<string>): void {
    this.#diagnose = diagnose;
  }

  /** Everything received so far (without \r). */
  get transcript(): string {
    return this.#text;
  }

  /** Offset up to which output has been consumed by expect(). */
  get cursor(): number {
    return this.#cursor;
  }

  /**
   * Wait until `pattern` matches output not yet consumed; consume up to the end of
   * the match. Fails after `timeoutMs` or when the console closes, naming `what` and
   * quoting the last output.
   */
  async expect(
    pattern: RegExp,
    timeoutMs: number,
    what = String(pattern),
  ): Promise<RegExpExecArray> {
    if (pattern.global || pattern.sticky) {
      throw new Error(`expect(${pattern}): use a non-global regexp`);
    }
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const m = pattern.exec(this.#text.slice(this.#cursor));
      if (m) {
        m.index += this.#cursor;
        this.#cursor = m.index + m[0].length;
        return m;
      }
      if (this.#closed) {
        throw new Error(
          `console closed while waiting for ${what}${this.#tail()}${await this.#diagnose()}`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(
          `timed out after ${timeoutMs / 1000} s waiting for ${what}${this.#tail()}${await this
            .#diagnose()}`,
        );
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, left);
        this.#wake.push(done);
        function done() {
          clearTimeout(t);
          resolve();
        }
      });
    }
  }

  /** Type `text` into the console. */
  async write(text: string): Promise<void> {
    await this.#writer.write(this.#encoder.encode(text));
  }

  /** Close the input side (the guest sees no more keystrokes). */
  async close(): Promise<void> {
    await this.#writer.close().catch(() => {});
  }

  #notify() {
    const wake = this.#wake;
    this.#wake = [];
    for (const f of wake) f();
  }

  #tail(): string {
    const tail = this.#text.slice(-600);
    return tail ? `; last output:\n${tail}` : " (no output at all)";
  }
}
