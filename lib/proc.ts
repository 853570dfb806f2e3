/** Process helpers: stopping every descendant of this process on abort. */

/** pids of all descendants of `pid` (from /proc). */
export function descendants(pid = Deno.pid): number[] {
  const children = new Map<number, number[]>();
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
    } catch {
      continue; // exited meanwhile
    }
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(e.name)]);
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const c of children.get(p) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(pid);
  return out;
}

/**
 * Signal every descendant (make's compilers included, which a signal to make alone
 * would leave running).
 */
export function killDescendants(signal: Deno.Signal = "SIGTERM"): void {
  for (const pid of descendants()) {
    try {
      Deno.kill(pid, signal);
    } catch { /* already gone */ }
  }
}
