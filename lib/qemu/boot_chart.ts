/**
 * A boot chart from the guest's kernel log, like bootchart's: the kernel's initcalls
 * (the kernel booted with `initcall_debug`), the early-boot steps /sbin/init marks
 * (icenet-preinit: "icenet-preinit: step ..."), and each service's start and readiness as
 * icenet-init logs them, up to the login prompt. Every time is the guest clock's.
 *
 * ```ts
 * const chart = bootChart(dmesgText, report.bootToLoginSeconds);
 * timeSinks(chart).slice(0, 10); // where the time went
 * ```
 */

/** One bar of the chart: seconds since the kernel started. */
export interface ChartBar {
  lane: "kernel" | "preinit" | "services";
  name: string;
  start: number;
  end: number;
}

/** What the chart shows (also written as JSON beside the SVG). */
export interface BootChart {
  /** Kernel start to login prompt, seconds. */
  loginAt: number;
  /** When the kernel ran /sbin/init, and when icenet-init took over from it. */
  initAt?: number;
  icenetInitAt?: number;
  bars: ChartBar[];
  /** Kernel log lines that start a stretch no bar covers, with their time (for gaps). */
  lines: { at: number; text: string }[];
}

const LINE = /^\[\s*(\d+\.\d+)\]\s?(.*)$/;
// `name+0x0/0x1c` with kallsyms, a bare address without.
const FN = String.raw`(0x[0-9a-f]+|\S+?\+0x[0-9a-f]+\/0x[0-9a-f]+)(?: \[[^\]]+\])?`;
const CALLING = new RegExp(String.raw`^calling {1,2}${FN} @ \d+`);
const RETURNED = new RegExp(String.raw`^initcall ${FN} returned -?\d+ after (\d+) usecs`);
const STEP = /^icenet-preinit: step (.+)$/;
const STARTED = /^icenet-init: info: ([\w.@-]+): started, pid \d+/;
const READY = /^icenet-init: info: ([\w.@-]+): (?:ready after \d+ ms|done$)/; // done: a oneshot

/**
 * Names for the kernel's code addresses from its System.map: a kernel without kallsyms
 * logs `initcall 0xffffffff8123abcd`; booted with `nokaslr`, those are link addresses.
 */
export function symbolizer(systemMap: string): (name: string) => string {
  const syms: [bigint, string][] = [];
  for (const line of systemMap.split("\n")) {
    const [addr, type, name] = line.split(" ");
    if (name && /^[tT]$/.test(type)) syms.push([BigInt(`0x${addr}`), name]);
  }
  syms.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const exact = (at: bigint) => {
    let lo = 0, hi = syms.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (syms[mid][0] === at) return syms[mid][1];
      if (syms[mid][0] < at) lo = mid + 1;
      else hi = mid - 1;
    }
  };
  return (name) => {
    if (!/^0x[0-9a-f]+$/.test(name)) return name;
    const at = BigInt(name);
    // x86 functions may start at odd addresses; a Thumb-2 kernel's (rpi32) function
    // pointers are the address plus 1.
    return exact(at) ?? ((at & 1n) ? exact(at - 1n) : undefined) ?? name;
  };
}

/**
 * Build the chart from `dmesg` output and the login time the boot report measured;
 * `name` turns a logged initcall address into its function's name (symbolizer()).
 */
export function bootChart(
  dmesg: string,
  loginAt: number,
  name: (initcall: string) => string = (n) => n,
): BootChart {
  const chart: BootChart = { loginAt, bars: [], lines: [] };
  const started = new Map<string, number>();
  let stepFrom: number | undefined;
  for (const raw of dmesg.split("\n")) {
    const m = LINE.exec(raw.trimEnd());
    if (!m) continue;
    const at = Number(m[1]), text = m[2];
    let r: RegExpExecArray | null;
    let line = text;
    if ((r = RETURNED.exec(text))) {
      line = `initcall ${name(r[1].replace(/\+0x.*$/, ""))} returned`;
      // The log line is written when the call returns: its start is that less its length.
      const start = Math.round(at * 1e6 - Number(r[2])) / 1e6; // µs, as the log has them
      chart.bars.push({ lane: "kernel", name: name(r[1].replace(/\+0x.*$/, "")), start, end: at });
    } else if (CALLING.test(text)) {
      continue; // its RETURNED line has everything
    } else if (/^Run \S+ as init process/.test(text)) {
      chart.initAt = at;
      stepFrom = at;
    } else if ((r = STEP.exec(text))) {
      chart.bars.push({ lane: "preinit", name: r[1], start: stepFrom ?? at, end: at });
      stepFrom = at;
    } else if ((r = STARTED.exec(text))) {
      started.set(r[1], at);
    } else if ((r = READY.exec(text))) {
      const from = started.get(r[1]) ?? at;
      chart.bars.push({ lane: "services", name: r[1], start: from, end: at });
      started.delete(r[1]);
    }
    if (text.startsWith("icenet-init: ") && chart.icenetInitAt === undefined) {
      chart.icenetInitAt = at;
    }
    chart.lines.push({ at, text: line });
  }
  // Services never ready by the time the log was read: up to the login.
  for (const [name, from] of started) {
    chart.bars.push({ lane: "services", name: `${name} (not ready)`, start: from, end: loginAt });
  }
  return chart;
}

/** A stretch of the boot and what it was, for the "where the time went" list. */
export interface TimeSink {
  what: string;
  seconds: number;
}

/**
 * Where the time went, longest first: the bars, and the stretches no bar covers up to
 * the login prompt, each named by what ends it (a kernel log line, a bar, the login),
 * e.g. "before: Run /sbin/init as init process". Async initcalls overlap others: the
 * bars say what took long, the stretches what was on nobody's bar.
 */
export function timeSinks(chart: BootChart): TimeSink[] {
  const sinks: TimeSink[] = chart.bars.map((b) => ({
    what: `${b.lane}: ${b.name}`,
    seconds: b.end - b.start,
  }));
  const union = mergeIntervals(chart.bars);
  const ends = [
    ...chart.lines.map((l) => ({ at: l.at, what: l.text })),
    ...chart.bars.map((b) => ({ at: b.start, what: `${b.lane}: ${b.name}` })),
    { at: chart.loginAt, what: "login prompt" },
  ].sort((a, b) => a.at - b.at);
  let t = 0;
  for (const e of ends) {
    if (e.at <= t || e.at > chart.loginAt) continue;
    const free = e.at - t - overlap(union, t, e.at);
    if (free > 0.0005) sinks.push({ what: `before: ${e.what}`, seconds: free });
    t = e.at;
  }
  return sinks.sort((a, b) => b.seconds - a.seconds);
}

/** The union of the bars as sorted, disjoint [start, end] pairs. */
function mergeIntervals(bars: ChartBar[]): [number, number][] {
  const out: [number, number][] = [];
  for (const b of [...bars].sort((x, y) => x.start - y.start)) {
    const last = out[out.length - 1];
    if (last && b.start <= last[1]) last[1] = Math.max(last[1], b.end);
    else out.push([b.start, b.end]);
  }
  return out;
}

/** How much of [a, b] the intervals cover. */
function overlap(intervals: [number, number][], a: number, b: number): number {
  let sum = 0;
  for (const [s, e] of intervals) sum += Math.max(0, Math.min(b, e) - Math.max(a, s));
  return sum;
}

/** Format the top `n` sinks as lines: "  0.412 s  kernel: foo_init". */
export function formatSinks(sinks: TimeSink[], n = 10): string {
  return sinks.slice(0, n).map((s) => `${s.seconds.toFixed(3).padStart(8)} s  ${s.what}`).join(
    "\n",
  );
}
