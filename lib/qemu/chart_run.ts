/**
 * `deno task boot <board> --chart`: build the image with `initcall_debug` on its kernel
 * command line (an image definition beside the chosen one, adding only that), boot it,
 * log in, read the kernel log and draw the chart (lib/qemu/boot_chart.ts). The image
 * is the test image (tests/e2e/fixtures/test-image.yaml: the default image with a
 * console password) with the default image's kernel arguments (`quiet`), unless
 * ICENET_IMAGE names another one that allows a console login.
 *
 * initcall_debug logs at debug level (kept out of the console), so a charted boot
 * costs about one log line per initcall over a plain one.
 */
import { join } from "node:path";
import { stringify } from "yaml";
import type { Board } from "../board.ts";
import { loadImageDef } from "../image_def.ts";
import { imageFile } from "../rootfs/stage.ts";
import {
  type BootChart,
  bootChart,
  formatSinks,
  symbolizer,
  type TimeSink,
  timeSinks,
} from "./boot_chart.ts";
import { bootChartSvg } from "./boot_chart_svg.ts";
import { buildImage, buildStage, withImageDef } from "./build_image.ts";
import { type BootReport, bootReport, type ReportLogin, type ReportOptions } from "./report.ts";

/**
 * The arguments a charted boot adds: the initcall log, room for it in the kernel's buffer,
 * the kernel at its linked address (System.map names the initcalls), and every line
 * icenet-init writes to /dev/kmsg (by default the kernel keeps 10 per 5 s of a writer).
 */
export const CHART_ARGS = ["initcall_debug", "log_buf_len=4M", "nokaslr", "printk.devkmsg=on"];

/**
 * Write an image definition = `base` plus `args` on the kernel command line; returns its
 * path (under `dir`, as `name`).
 */
export async function imageDefWithArgs(
  base: string,
  args: string[],
  dir: string,
  name: string,
): Promise<string> {
  const def = await loadImageDef(base);
  const file = join(dir, name);
  const cmdline = [...def.cmdline, ...args.filter((a) => !def.cmdline.includes(a))];
  await Deno.writeTextFile(file, stringify({ ...def, cmdline }));
  return file;
}

/**
 * The kernel arguments of the product's image (images/default.yaml, e.g. `quiet`): the
 * test image leaves them out (its tests read the boot on the console), the boot bench
 * and the chart put them back so that they time the boot users get.
 */
export async function productArgs(root: string): Promise<string[]> {
  return (await loadImageDef(join(root, "images/default.yaml"))).cmdline;
}

/** Write an image definition = `base` plus CHART_ARGS; returns its path (under `dir`). */
export function chartImageDef(base: string, dir: string, args: string[] = []): Promise<string> {
  return imageDefWithArgs(base, [...args, ...CHART_ARGS], dir, "chart-image.yaml");
}

/** What a charted boot gives. */
export interface ChartedBoot {
  chart: BootChart;
  report: BootReport;
  /** Where the time went, longest first (timeSinks()). */
  sinks: TimeSink[];
  svg: string;
  json: string;
}

/**
 * Build the charted image of `board`, boot it under `work`, and chart the boot. `again`:
 * boot it once first, and chart the second boot of the same disk (a later boot, without
 * the first boot's work).
 */
export async function chartBoot(
  root: string,
  board: Board,
  work: string,
  login: ReportLogin,
  opts: Pick<ReportOptions, "machine" | "tee" | "again"> = {},
): Promise<ChartedBoot> {
  const { machine, tee } = opts;
  const base = Deno.env.get("ICENET_IMAGE")
    ? imageFile(root)
    : join(root, "tests/e2e/fixtures/test-image.yaml");
  const args = Deno.env.get("ICENET_IMAGE") ? [] : await productArgs(root);
  const [image, kernel] = await withImageDef(await chartImageDef(base, work, args), async () => [
    await buildImage(root, board, true),
    await buildStage(root, board, "kernel", true),
  ]);
  if (opts.again) await bootReport(board, image, work, login, { tee, machine });
  const report = await bootReport(board, image, work, login, {
    tee,
    machine,
    withKernelLog: true,
    again: opts.again,
  });
  const log = report.kernelLog ?? "";
  if (!/^\[\s*\d+\.\d+\] initcall /m.test(log)) {
    throw new Error(
      `boot chart: the kernel log of ${board.name} has no initcall lines (initcall_debug ` +
        `on the command line, CONFIG_PRINTK_TIME in the kernel?)`,
    );
  }
  const map = await Deno.readTextFile(join(kernel, "System.map")).catch(() => "");
  const chart = bootChart(log, report.bootToLoginSeconds, symbolizer(map));
  const svg = bootChartSvg(chart, `IceNet-OS ${board.name} on ${report.machine} (${report.accel})`);
  const sinks = timeSinks(chart);
  const { kernelLog: _, ...figures } = report;
  const json = JSON.stringify({ report: figures, sinks, chart }, null, 1) + "\n";
  return { chart, report, sinks, svg, json };
}

/** The chart's files in `dir` (boot-chart-<label>.svg and .json); returns their paths. */
export async function writeChart(c: ChartedBoot, dir: string, label: string): Promise<string[]> {
  await Deno.mkdir(dir, { recursive: true });
  const svg = join(dir, `boot-chart-${label}.svg`), json = join(dir, `boot-chart-${label}.json`);
  await Deno.writeTextFile(svg, c.svg);
  await Deno.writeTextFile(json, c.json);
  return [svg, json];
}

/** The ten longest stretches of the boot, one per line. */
export function topTen(c: ChartedBoot): string {
  return formatSinks(c.sinks, 10);
}
