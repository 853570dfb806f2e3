/**
 * Draw a boot chart (lib/qemu/boot_chart.ts) as SVG: a time axis from kernel start to
 * the login prompt, the three phases on top (kernel, /sbin/init's early steps,
 * icenet-init's services), then one row per bar long enough to see, like bootchart.
 * Each bar has a <title> with its exact figures (shown on hover).
 */
import type { BootChart, ChartBar } from "./boot_chart.ts";

const WIDTH = 1200, LABEL = 300, ROW = 16, TOP = 50;
const COLOURS: Record<ChartBar["lane"], string> = {
  kernel: "#6c8ebf",
  preinit: "#d79b00",
  services: "#82b366",
};

/** XML text escaping for names taken from the guest's log. */
function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The bars worth a row: every early step and service, kernel initcalls of 2 ms or more. */
export function visibleBars(chart: BootChart): ChartBar[] {
  const min = Math.max(0.002, chart.loginAt * 0.004);
  return chart.bars
    .filter((b) => b.lane !== "kernel" || b.end - b.start >= min)
    .sort((a, b) => a.start - b.start);
}

/** The SVG document of `chart`, titled `title`. */
export function bootChartSvg(chart: BootChart, title: string): string {
  const span = Math.max(chart.loginAt, ...chart.bars.map((b) => b.end)) * 1.02 || 1;
  const x = (t: number) => LABEL + (t / span) * (WIDTH - LABEL - 10);
  const phases: ChartBar[] = [
    { lane: "kernel", name: "kernel", start: 0, end: chart.initAt ?? chart.loginAt },
  ];
  // Before the first initcall: setup_arch, memory, SMP bring-up (no initcall bar shows it).
  const first = Math.min(...chart.bars.filter((b) => b.lane === "kernel").map((b) => b.start));
  if (Number.isFinite(first)) {
    phases.push({ lane: "kernel", name: "kernel before initcalls", start: 0, end: first });
  }
  if (chart.initAt !== undefined) {
    const to = chart.icenetInitAt ?? chart.loginAt;
    phases.push({ lane: "preinit", name: "/sbin/init (early boot)", start: chart.initAt, end: to });
  }
  if (chart.icenetInitAt !== undefined) {
    phases.push({
      lane: "services",
      name: "icenet-init to login",
      start: chart.icenetInitAt,
      end: chart.loginAt,
    });
  }
  const rows = [...phases.map((p) => ({ ...p, phase: true })), ...visibleBars(chart)];
  const height = TOP + rows.length * ROW + 30;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" ` +
    `font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="14">${esc(title)}: login prompt at ${
      chart.loginAt.toFixed(3)
    } s (guest clock)</text>`,
  ];
  // Grid lines every 0.1 s, or every 0.5 s for long boots; labelled.
  const step = span > 4 ? 0.5 : 0.1;
  for (let t = 0; t <= span; t += step) {
    out.push(
      `<line x1="${x(t)}" y1="${TOP - 10}" x2="${x(t)}" y2="${height - 25}" stroke="#eee"/>`,
      `<text x="${x(t)}" y="${TOP - 14}" text-anchor="middle" fill="#666">${t.toFixed(1)}</text>`,
    );
  }
  rows.forEach((b, i) => {
    const y = TOP + i * ROW;
    const w = Math.max(1, x(b.end) - x(b.start));
    const ms = ((b.end - b.start) * 1000).toFixed(1);
    out.push(
      `<text x="${LABEL - 6}" y="${y + 11}" text-anchor="end"${
        "phase" in b ? ' font-weight="bold"' : ""
      }>${esc(b.name)}</text>`,
      `<rect x="${x(b.start).toFixed(1)}" y="${y + 2}" width="${w.toFixed(1)}" height="${
        ROW - 4
      }" fill="${COLOURS[b.lane]}"><title>${esc(`${b.lane}: ${b.name}`)}: ${
        b.start.toFixed(3)
      } s to ${b.end.toFixed(3)} s (${ms} ms)</title></rect>`,
    );
  });
  const lx = x(chart.loginAt);
  out.push(
    `<line x1="${lx}" y1="${TOP - 10}" x2="${lx}" y2="${height - 25}" stroke="red"/>`,
    `<text x="${lx}" y="${height - 12}" text-anchor="middle" fill="red">login</text>`,
    ...Object.entries(COLOURS).map(([lane, c], i) =>
      `<rect x="${10 + i * 110}" y="${height - 20}" width="10" height="10" fill="${c}"/>` +
      `<text x="${24 + i * 110}" y="${height - 11}">${lane}</text>`
    ),
    "</svg>",
  );
  return out.join("\n") + "\n";
}
