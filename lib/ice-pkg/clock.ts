/**
 * Is the system clock synchronised? The kernel knows: an NTP client (chrony,
 * busybox ntpd, systemd-timesyncd) that has a good time clears the STA_UNSYNC status
 * flag or lowers `maxerror` below the kernel's 16 s limit (chrony lowers maxerror;
 * it clears the flag only with `rtcsync`). Setting the clock by hand (`date -s`, the
 * saved time restored at boot) leaves it unsynchronised. Deno cannot call adjtimex(2)
 * itself, so this asks busybox's `adjtimex` applet — only when a refusal needs to
 * say so, never on the fast path.
 *
 * ```ts
 * clockSynchronised(); // false right after a Pi boots, true once NTP answered
 * ```
 */
import { spawnSync } from "node:child_process";

const STA_UNSYNC = 0x0040;
/** The kernel's NTP_PHASE_LIMIT: maxerror at boot and whenever nobody disciplines the clock. */
const UNSYNC_MAXERROR_US = 16_000_000;

/** Read busybox `adjtimex` output; undefined if it is not that. */
export function parseAdjtimex(text: string): boolean | undefined {
  const max = text.match(/^\s*maxerror:\s+(\d+)/m);
  const status = text.match(/^\s*status:\s+(\d+)/m);
  if (!max || !status) return undefined;
  return !(Number(status[1]) & STA_UNSYNC) || Number(max[1]) < UNSYNC_MAXERROR_US;
}

/** The kernel's view through busybox `adjtimex` (undefined when it cannot be asked). */
export function clockSynchronised(): boolean | undefined {
  for (const [cmd, args] of [["adjtimex", []], ["busybox", ["adjtimex"]]] as const) {
    try {
      const out = spawnSync(cmd, [...args], { stdio: ["ignore", "pipe", "ignore"] });
      if (out.status === 0) return parseAdjtimex(out.stdout.toString());
    } catch { /* not installed: try the next */ }
  }
  return undefined;
}
