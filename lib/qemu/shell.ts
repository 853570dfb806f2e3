/**
 * Logging in on a guest's serial console and running commands there. After login the
 * prompt is emptied and echo turned off, and each command ends by printing a numbered
 * marker with its exit status, so its output can be cut out exactly.
 *
 * ```ts
 * const sh = await GuestShell.login(con, { user: "root", timeoutMs: 120_000 });
 * const { out } = await sh.run("cat /proc/uptime");
 * ```
 */
import type { SerialConsole } from "./serial.ts";

/** How to log in. */
export interface LoginOptions {
  user: string;
  /** Password, when the account has one. */
  password?: string;
  /** How long to wait for the login prompt (boot time included). */
  timeoutMs: number;
  /** The login prompt (default: a line ending in "login: "). */
  prompt?: RegExp;
  /** Lower the kernel's console log level so messages don't interleave (default true). */
  quietKernel?: boolean;
}

/** The result of a command on the guest. */
export interface GuestResult {
  out: string;
  status: number;
}

// A prompt is the last thing printed, or is followed at once by a line that
// icenet-init or the kernel wrote to the console meanwhile: on a slow boot
// "host:~# icenet-init: info: setup: done" arrives as one chunk.
const PROMPT_END = String.raw`(?=$|icenet-init: |\[ *\d+\.\d+\] )`;

/** A logged-in shell on a guest console. */
export class GuestShell {
  #seq = 0;
  private constructor(readonly console: SerialConsole, readonly promptSeenAt: number) {}

  /** Wait for the login prompt, log in, and prepare the shell for run(). */
  static async login(con: SerialConsole, opts: LoginOptions): Promise<GuestShell> {
    const loginPrompt = opts.prompt ?? new RegExp(`login: ${PROMPT_END}`);
    await con.expect(loginPrompt, opts.timeoutMs, "the login prompt");
    const seenAt = performance.now();
    await con.write(`${opts.user}\n`);
    const shellPrompt = new RegExp(`[#$] ${PROMPT_END}|Login incorrect`);
    const passwordOrShell = new RegExp(`Password: ${PROMPT_END}|${shellPrompt.source}`);
    const next = await con.expect(passwordOrShell, 30_000, "a shell prompt");
    if (next[0] === "Password: ") {
      if (opts.password === undefined) {
        throw new Error(`login as ${opts.user}: the guest asks for a password and none was given`);
      }
      await con.write(`${opts.password}\n`);
      const after = await con.expect(shellPrompt, 30_000, "a shell prompt");
      if (after[0] === "Login incorrect") throw new Error(`login as ${opts.user}: Login incorrect`);
    } else if (next[0] === "Login incorrect") {
      throw new Error(`login as ${opts.user}: Login incorrect`);
    }
    // No prompt, no echo, no kernel messages between our markers. The quotes keep the
    // typed command (if echoed) from matching the marker.
    await con.write(
      `PS1=''; PS2=''; stty -echo 2>/dev/null; dmesg -n 1 2>/dev/null; echo __REA""DY__\n`,
    );
    await con.expect(/__READY__\n/, 30_000, "the shell to answer");
    return new GuestShell(con, seenAt);
  }

  /** Run a shell command line; returns its output (stdout+stderr) and exit status. */
  async run(cmd: string, timeoutMs = 60_000): Promise<GuestResult> {
    const n = ++this.#seq;
    const start = this.console.cursor;
    await this.console.write(`${cmd} 2>&1; echo __IC${n}""_$?__\n`);
    const m = await this.console.expect(
      new RegExp(`__IC${n}_(\\d+)__\\n`),
      timeoutMs,
      `\`${cmd}\``,
    );
    let out = this.console.transcript.slice(start, m.index);
    // With echo still on (no stty on the guest), drop the echoed command line.
    const echoed = out.indexOf(`__IC${n}""_`);
    if (echoed >= 0) out = out.slice(out.indexOf("\n", echoed) + 1);
    // icenet-init reports service events on the console too (a restart can land in the
    // middle of a command's output, even of a line without a newline of its own); those
    // messages are not the command's.
    out = out.replace(/icenet-init: info: [^\n]*\n/g, "");
    return { out, status: Number(m[1]) };
  }

  /** Run a command that must succeed; returns its output. */
  async check(cmd: string, timeoutMs = 60_000): Promise<string> {
    const r = await this.run(cmd, timeoutMs);
    if (r.status !== 0) throw new Error(`guest: \`${cmd}\` exited with ${r.status}:\n${r.out}`);
    return r.out;
  }

  /** Type a command without waiting for it to finish (poweroff, reboot). */
  async send(cmd: string): Promise<void> {
    await this.console.write(`${cmd}\n`);
  }
}
