/**
 * Progress of a long byte count (writing, verifying). On a terminal: one bar redrawn
 * in place at most ten times a second — share, bytes, rate and time left. Otherwise
 * (logs, CI): a line at each quarter, so a log shows it moved without filling up.
 *
 * ```ts
 * const p = byteProgress("write", mapped);
 * p.update(4 << 20);
 * p.end();
 * ```
 */

/** Receives the running total of bytes done. */
export interface ByteProgress {
  update(done: number): void;
  /** Draw the final state and end the line. */
  end(): void;
}

const enc = new TextEncoder();

function mib(b: number): string {
  return (b / 1048576).toFixed(1);
}

/** Progress of `label` to `total` bytes on `out` (stderr), as a bar when `tty`. */
export function byteProgress(
  label: string,
  total: number,
  out: { writeSync(p: Uint8Array): number } = Deno.stderr,
  tty: boolean = Deno.stderr.isTerminal(),
): ByteProgress {
  const t0 = performance.now();
  let last = 0, drawnAt = -Infinity, quarter = 0, done = 0;
  const rate = () => done / 1e6 / Math.max((performance.now() - t0) / 1000, 1e-3);
  const write = (s: string) => out.writeSync(enc.encode(s));
  const bar = () => {
    const share = total ? done / total : 1;
    const width = 24;
    const full = Math.round(share * width);
    const r = rate();
    const left = r > 0 ? (total - done) / 1e6 / r : 0;
    write(
      `\r\x1b[K${label.padEnd(6)} [${"#".repeat(full)}${"-".repeat(width - full)}] ${
        Math.floor(share * 100).toString().padStart(3)
      }%  ${mib(done)}/${mib(total)} MiB  ${r.toFixed(1)} MB/s  ${Math.ceil(left)} s left`,
    );
  };
  return {
    update(n) {
      done = n;
      if (tty) {
        const now = performance.now();
        if (now - drawnAt >= 100) {
          drawnAt = now;
          bar();
        }
        return;
      }
      const q = total ? Math.floor((done / total) * 4) : 4;
      if (q > quarter && q < 4) {
        quarter = q;
        write(
          `${label}: ${q * 25}% (${mib(done)} of ${mib(total)} MiB, ${rate().toFixed(1)} MB/s)\n`,
        );
      }
      last = n;
    },
    end() {
      if (tty) {
        bar();
        write("\n");
      } else {
        write(
          `${label}: 100% (${mib(done || last)} MiB in ${
            ((performance.now() - t0) / 1000).toFixed(1)
          } s, ${rate().toFixed(1)} MB/s)\n`,
        );
      }
    },
  };
}
