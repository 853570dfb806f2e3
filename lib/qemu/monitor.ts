/**
 * QEMU's human monitor on a unix socket: type on the guest's keyboard (`sendkey`) and
 * take a picture of its screen (`screendump`), as a person at the board would.
 *
 * ```ts
 * const mon = await HumanMonitor.connect(socketPath);
 * await mon.type("root\n");
 * await mon.screendump("/tmp/screen.ppm");
 * mon.close();
 * ```
 */
import { stripEscapes } from "./serial.ts";

/** sendkey names of the characters that are not themselves (US layout). */
const KEYS: Record<string, string> = {
  " ": "spc",
  "\n": "ret",
  "-": "minus",
  "_": "shift-minus",
  "=": "equal",
  "+": "shift-equal",
  ".": "dot",
  ">": "shift-dot",
  ",": "comma",
  "/": "slash",
  ":": "shift-semicolon",
  ";": "semicolon",
  "'": "apostrophe",
  '"': "shift-apostrophe",
  "|": "shift-backslash",
  "$": "shift-4",
  "&": "shift-7",
  "*": "shift-8",
};

/** The sendkey name for one character. */
export function keyName(ch: string): string {
  if (/^[a-z0-9]$/.test(ch)) return ch;
  if (/^[A-Z]$/.test(ch)) return `shift-${ch.toLowerCase()}`;
  const k = KEYS[ch];
  if (!k) throw new Error(`monitor: no key for ${JSON.stringify(ch)}`);
  return k;
}

/** A connection to QEMU's human monitor. */
export class HumanMonitor {
  #conn: Deno.UnixConn;
  #buf = "";
  #dec = new TextDecoder();

  private constructor(conn: Deno.UnixConn) {
    this.#conn = conn;
  }

  /** Connect, retrying while QEMU has not created the socket yet. */
  static async connect(path: string, timeoutMs = 30_000): Promise<HumanMonitor> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      try {
        const m = new HumanMonitor(await Deno.connect({ transport: "unix", path }));
        await m.#prompt();
        return m;
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`monitor ${path}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Run a monitor command; returns what it printed (the echo and prompt removed). */
  async command(cmd: string): Promise<string> {
    await this.#conn.write(new TextEncoder().encode(cmd + "\n"));
    const out = await this.#prompt();
    // HMP echoes the command line (with terminal escapes) before its output.
    return stripEscapes(out)[0].split("\n").slice(1).join("\n").trim();
  }

  /** Type `text` on the guest's keyboard, one key press per character. */
  async type(text: string, delayMs = 30): Promise<void> {
    for (const ch of text) {
      const out = await this.command(`sendkey ${keyName(ch)}`);
      if (out) throw new Error(`sendkey ${keyName(ch)}: ${out}`);
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }

  /** Save the screen as a PPM image. */
  async screendump(file: string): Promise<void> {
    const out = await this.command(`screendump ${file}`);
    if (out) throw new Error(`screendump ${file}: ${out}`);
  }

  close(): void {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }

  /** Read up to the next "(qemu) " prompt; returns what came before it. */
  async #prompt(): Promise<string> {
    const chunk = new Uint8Array(4096);
    while (!this.#buf.includes("(qemu) ")) {
      const n = await this.#conn.read(chunk);
      if (n === null) throw new Error("monitor closed the connection");
      this.#buf += this.#dec.decode(chunk.subarray(0, n), { stream: true });
    }
    const i = this.#buf.indexOf("(qemu) ");
    const before = this.#buf.slice(0, i);
    this.#buf = this.#buf.slice(i + "(qemu) ".length);
    return before;
  }
}
