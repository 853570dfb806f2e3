/**
 * A build timeline (lib/timeline.ts) drawn as SVG, in the manner of Bazel's profile or
 * chrome://tracing: one lane per slot of stages running at once, a bar per stage
 * coloured by how it ended and labelled with its name where it fits, a time axis, a
 * legend, and a <title> per bar (shown on hover) with the exact figures.
 */
import type { Outcome } from "./progress.ts";
import type { Timeline, TimelineStage } from "./timeline.ts";

export const COLORS: Record<Outcome, string> = {
  built: "#e8743b",
  cached: "#59a14f",
  fetched: "#4e9fd1",
  failed: "#d62728",
  skipped: "#bab0ac",
  "would build": "#f1ce63",
};

/** Layout, px; the side margins leave room for the first and last tick labels. */
const WIDTH = 1200, LEFT = 30, RIGHT = 30, TOP = 44, LANE = 22, GAP = 4;
/** Average width of a character of the 11px label font, to decide if a label fits. */
const CHAR = 6.2;

/** Escape text for XML content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(
    /[<>&"']/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!,
  );
}

/**
 * Lanes, by index of `stages`: in order of start, each stage goes to the first lane
 * free at its start, so the number of lanes is the most stages that ran at once.
 */
export function assignLanes(stages: TimelineStage[]): number[] {
  const laneEnds: number[] = [];
  const lanes: number[] = [];
  const order = stages.map((_, i) => i)
    .sort((i, j) => stages[i].start - stages[j].start || stages[i].end - stages[j].end);
  for (const i of order) {
    const s = stages[i];
    let lane = laneEnds.findIndex((end) => end <= s.start);
    if (lane < 0) lane = laneEnds.push(0) - 1;
    // A zero-length bar still takes its lane for a moment, or instants would stack.
    laneEnds[lane] = Math.max(s.end, s.start + 1e-6);
    lanes[i] = lane;
  }
  return lanes;
}

/** A "nice" tick step (1, 2 or 5 times a power of ten) giving about `n` ticks. */
function tickStep(span: number, n = 10): number {
  const raw = Math.max(span / n, 1e-3);
  const p = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw)!;
}

const ms = (v: number) => `${(v / 1000).toFixed(3)} s`;

/** The SVG document for a timeline. */
export function timelineSvg(t: Timeline): string {
  const stages = t.stages;
  const lanes = assignLanes(stages);
  const laneCount = Math.max(1, ...lanes.map((l) => l + 1));
  const span = Math.max(t.wall, ...stages.map((s) => s.end), 1);
  const scale = (WIDTH - LEFT - RIGHT) / span;
  const x = (v: number) => (LEFT + v * scale).toFixed(2);
  const lanesBottom = TOP + laneCount * (LANE + GAP);
  const height = lanesBottom + 40;
  const out: string[] = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" ` +
    `viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<title>${xmlEscape(title(t))}</title>`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="16" font-size="13" font-weight="bold">${xmlEscape(title(t))}</text>`,
  ];
  // Time axis: a grid line and a label per tick.
  const step = tickStep(span);
  const ticks = Array.from({ length: Math.floor(span / step) + 1 }, (_, i) => i * step);
  const digits = step >= 1000 ? 0 : 3;
  out.push(`<g class="axis" stroke="#ddd">`);
  for (const v of ticks) {
    out.push(`<line x1="${x(v)}" y1="${TOP - 6}" x2="${x(v)}" y2="${lanesBottom}"/>`);
  }
  out.push(`</g>`, `<g class="axis-labels" fill="#555" text-anchor="middle">`);
  for (const v of ticks) {
    out.push(`<text x="${x(v)}" y="${TOP - 10}">${(v / 1000).toFixed(digits)} s</text>`);
  }
  out.push(`</g>`);
  stages.forEach((s, i) => out.push(bar(s, x(s.start), (s.end - s.start) * scale, lanes[i])));
  out.push(legend(lanesBottom + 22), `</svg>`);
  return out.join("\n") + "\n";
}

function title(t: Timeline): string {
  return `${t.targets.join(" ")}@${t.board}, started ${t.started}: wall ${ms(t.wall)}, ` +
    `child CPU ${(t.cpu.user + t.cpu.sys).toFixed(2)} s, ${t.stages.length} stages` +
    `${t.ok ? "" : ", FAILED"}`;
}

/** One stage: the bar, its hover title and, when it fits, its name. */
function bar(s: TimelineStage, x: string, width: number, lane: number): string {
  const y = TOP + lane * (LANE + GAP);
  const cpu = s.cpu
    ? `CPU ${s.cpu.user.toFixed(2)} s user + ${s.cpu.sys.toFixed(2)} s sys`
    : "CPU not attributable (ran alongside other stages)";
  const tip = `${s.stage}@${s.board}: ${s.outcome}, ${ms(s.end - s.start)} ` +
    `(from ${ms(s.start)} to ${ms(s.end)}); ${cpu}` +
    `${s.needs.length ? `; needs ${s.needs.join(", ")}` : ""}${s.error ? `; ${s.error}` : ""}`;
  const w = Math.max(width, 1).toFixed(2);
  const label = s.stage.length * CHAR + 6 <= width
    ? `<text x="${(Number(x) + 3).toFixed(2)}" y="${y + 15}" fill="black">${
      xmlEscape(s.stage)
    }</text>`
    : "";
  return `<g class="stage"><rect class="bar" data-stage="${xmlEscape(s.stage)}" x="${x}" ` +
    `y="${y}" width="${w}" height="${LANE}" fill="${COLORS[s.outcome]}" stroke="white" ` +
    `stroke-width="0.5"><title>${xmlEscape(tip)}</title></rect>${label}</g>`;
}

function legend(y: number): string {
  let x = LEFT;
  // "would build" is a dry run's, and dry runs keep no timeline.
  const shown = Object.entries(COLORS).filter(([o]) => o !== "would build");
  const items = shown.map(([outcome, color]) => {
    const item = `<rect x="${x}" y="${y - 10}" width="12" height="12" fill="${color}"/>` +
      `<text x="${x + 16}" y="${y}">${xmlEscape(outcome)}</text>`;
    x += 16 + outcome.length * CHAR + 18;
    return item;
  });
  return `<g class="legend">${items.join("")}</g>`;
}
