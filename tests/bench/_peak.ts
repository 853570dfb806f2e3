/**
 * Run a command and measure its peak memory: GNU time's maximum RSS (the largest
 * process of the tree: ice-pkg or its xz child) and, sampled every 20 ms from /proc,
 * the peak anonymous (private) memory of the command's own process — the part that
 * is not the shared, file-backed pages of the executable.
 */

/** What one measured run gives. */
export interface Peak {
  code: number;
  stderr: string;
  seconds: number;
  /** GNU time %M, KiB. */
  maxRssKiB: number;
  /** Largest RssAnon seen, KiB. */
  maxAnonKiB: number;
}

function status(pid: number): string | undefined {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/status`);
  } catch {
    return undefined;
  }
}

function childOf(pid: number): number | undefined {
  try {
    const c = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/)[0];
    return c ? Number(c) : undefined;
  } catch {
    return undefined;
  }
}

/** Run `argv` under /usr/bin/time and sample its memory. */
export async function measured(argv: string[], cwd?: string): Promise<Peak> {
  const out = await Deno.makeTempFile();
  try {
    const t0 = performance.now();
    const child = new Deno.Command("/usr/bin/time", {
      args: ["-f", "%M", "-o", out, ...argv],
      cwd,
      stdout: "null",
      stderr: "piped",
    }).spawn();
    let maxAnon = 0;
    let done = false;
    const sampling = (async () => {
      while (!done) {
        const pid = childOf(child.pid);
        const m = pid ? status(pid)?.match(/RssAnon:\s+(\d+)/) : undefined;
        if (m) maxAnon = Math.max(maxAnon, Number(m[1]));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const res = await child.output();
    done = true;
    await sampling;
    return {
      code: res.code,
      stderr: new TextDecoder().decode(res.stderr),
      seconds: (performance.now() - t0) / 1000,
      maxRssKiB: Number(Deno.readTextFileSync(out).trim().split("\n").at(-1)),
      maxAnonKiB: maxAnon,
    };
  } finally {
    Deno.removeSync(out);
  }
}
