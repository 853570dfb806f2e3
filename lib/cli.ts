/**
 * The build CLI behind `deno task build|stage|explain|gc|verify|doctor` and behind
 * every `tasks/<name>.ts` run on its own.
 *
 *   deno task build [targets] --board B [--jobs N] [--dry-run] [--graph[=dot]] [--keep-going]
 *                   [--cache URL[,URL...]] [--cache-push] [--timeline OUT.svg]
 *   deno task timeline [OUT.svg] [--board B]
 *   deno task stage <name> --board B [--force]
 *   deno task explain <stage> --board B
 *   deno task gc [--keep N]      deno task verify      deno task doctor
 */
import { parseArgs } from "node:util";
import { boardNames, loadBoard } from "./board.ts";
import { cacheFromConfig } from "./cache/config.ts";
import { formatStats } from "./cache/stats.ts";
import { sha256File } from "./hash.ts";
import { explain } from "./explain.ts";
import { makeProgress } from "./progress.ts";
import { build, planStages } from "./runner.ts";
import { ensureBuildImage } from "./container.ts";
import type { Stage } from "./stage.ts";
import { defaultStoreDir, Store } from "./store.ts";
import { HOST_TOOLS, which } from "./tools.ts";
import { loadSite, mergeSites, SITE_ENV, type SiteFlags, siteFromFlags } from "./site.ts";
import { lastTimeline, summarize, type Timeline } from "./timeline.ts";
import { timelineSvg } from "./timeline_svg.ts";

/** Exit codes: 0 ok, 1 a stage failed, 2 usage or configuration error, 130 interrupted. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** Loads the stages of a board (lib/registry.ts; injectable for tests). */
export type StageLoader = (board: Awaited<ReturnType<typeof loadBoard>>) => Promise<Stage[]>;

const USAGE = `usage:
  build [targets...] --board B[,B...] [--jobs N] [--dry-run] [--graph[=dot]] [--keep-going] [--force]
        [--sandbox] [--container docker|podman]   (or ICENET_SANDBOX=1, ICENET_CONTAINER=...)
        [--cache URL[,URL...]] [--cache-push]     (or ICENET_CACHE=..., ICENET_CACHE_PUSH=1;
                                                   README "Shared build cache")
        [--timeline OUT.svg]   draw this build's timeline and print where the time went
        [site settings]
  stage <name> --board B [--force] [site settings]
site settings (laid over the image definition; see README "Your settings"):
  --config FILE          a YAML file of settings (the images/*.yaml schema, all optional)
  --hostname NAME        --timezone TZ (POSIX rule or UTC)
  --ssh-key KEY|FILE     root may log in with this key (repeatable)
  --ipv4 dhcp|ADDR/LEN   --gateway ADDR   --dns ADDR[,ADDR]
  --wifi-country CC      --wifi-ssid SSID   --wifi-psk PASS (or ICENET_WIFI_PSK)
  explain <stage> --board B
  timeline [OUT.svg] [--board B]   the last build's timeline (of board B): summary, and
                                   drawn to OUT.svg; every build keeps one in <store>/timelines
  gc [--keep N]
  verify
  doctor`;

/** Run a CLI command; returns the exit code. */
export async function main(args: string[], root: string, loader: StageLoader): Promise<number> {
  const [cmd, ...all] = args;
  // `--graph` takes an optional value (`--graph=dot`), which parseArgs cannot express.
  const graphArg = all.find((a) => a === "--graph" || a.startsWith("--graph="));
  const rest = all.filter((a) => a !== graphArg);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        board: { type: "string", short: "b" },
        jobs: { type: "string", short: "j" },
        "dry-run": { type: "boolean", short: "n" },
        "keep-going": { type: "boolean", short: "k" },
        force: { type: "boolean", short: "f" },
        keep: { type: "string" },
        quiet: { type: "boolean", short: "q" },
        sandbox: { type: "boolean" },
        container: { type: "string" },
        cache: { type: "string" },
        "cache-push": { type: "boolean" },
        timeline: { type: "string" },
        config: { type: "string" },
        hostname: { type: "string" },
        "ssh-key": { type: "string", multiple: true },
        timezone: { type: "string" },
        ipv4: { type: "string" },
        gateway: { type: "string" },
        dns: { type: "string" },
        "wifi-country": { type: "string" },
        "wifi-ssid": { type: "string" },
        "wifi-psk": { type: "string" },
      },
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return EXIT.usage;
  }
  const { positionals } = parsed;
  const v = { ...parsed.values, graph: graphArg?.replace(/^--graph=?/, "") };
  const store = new Store(defaultStoreDir());
  try {
    switch (cmd) {
      case "build":
      case "stage":
        await useSiteSettings(parsed.values);
        return await buildCmd(cmd, positionals, v, root, store, loader);
      case "explain":
        await useSiteSettings(parsed.values);
        return await explainCmd(positionals, v, root, store, loader);
      case "timeline": {
        if (positionals.length > 1) throw new Error("timeline: give at most one output file");
        const t = await lastTimeline(store.dir, v.board);
        await showTimeline(t, positionals[0]);
        return EXIT.ok;
      }
      case "gc": {
        const keep = Number(v.keep ?? 3);
        const r = await store.gc(keep);
        console.log(
          `gc: removed ${r.keys} keys, ${r.objects} objects (${
            mib(r.bytes)
          }), kept newest ${keep} per stage`,
        );
        return EXIT.ok;
      }
      case "verify": {
        const damaged = await store.verify();
        for (const d of damaged) console.log(`damaged: ${d.hash}: ${d.problem}`);
        console.log(`verify: ${damaged.length} damaged object(s) in ${store.dir}`);
        return damaged.length ? EXIT.failed : EXIT.ok;
      }
      case "doctor":
        return doctor();
      default:
        console.error(`unknown command ${JSON.stringify(cmd ?? "")}\n${USAGE}`);
        return EXIT.usage;
    }
  } catch (e) {
    console.error(`error: ${(e as Error).message}`);
    return EXIT.usage;
  }
}

/**
 * Site settings from `--config` (or ICENET_CONFIG) and the setting flags, handed to the
 * stage factories (and sandboxed children) through the environment (lib/site.ts).
 */
async function useSiteSettings(values: SiteFlags & { config?: string }): Promise<void> {
  const file = values.config ?? Deno.env.get("ICENET_CONFIG");
  let site = file ? await loadSite(file) : {};
  site = mergeSites(site, await siteFromFlags(values));
  if (Object.keys(site).length) Deno.env.set(SITE_ENV, JSON.stringify(site));
}

async function boardsOf(v: { board?: string }, root: string) {
  if (!v.board) throw new Error(`--board is required (boards: ${boardNames(root).join(", ")})`);
  const names = v.board === "all" ? boardNames(root) : v.board.split(",");
  return await Promise.all(names.map((n) => loadBoard(root, n)));
}

async function buildCmd(
  cmd: string,
  positionals: string[],
  v: Record<string, string | string[] | boolean | undefined>,
  root: string,
  store: Store,
  loader: StageLoader,
): Promise<number> {
  if (cmd === "stage" && positionals.length !== 1) {
    throw new Error("stage: give exactly one stage name");
  }
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const boards = await boardsOf(v as { board?: string }, root);
    if (v.timeline !== undefined && (boards.length > 1 || v["dry-run"] || v.graph !== undefined)) {
      throw new Error("--timeline draws one build: one board, and not with --dry-run or --graph");
    }
    // One remote cache for the whole command: its warnings and figures are per build.
    const cache = v.graph !== undefined || v["dry-run"] ? undefined : await cacheFromConfig(
      { cache: v.cache as string | undefined, "cache-push": Boolean(v["cache-push"]) },
      (m) => console.error(m),
    );
    for (const board of boards) {
      const stages = await loader(board);
      const targets = positionals.length ? positionals : defaultTargets(stages);
      if (v.graph !== undefined) {
        console.log(graph(planStages(stages, targets, board.name), board.name, v.graph === "dot"));
        continue;
      }
      const progress = makeProgress(Boolean(v.quiet));
      const engine = (v.container as string | undefined) || Deno.env.get("ICENET_CONTAINER");
      if (engine && engine !== "docker" && engine !== "podman") {
        throw new Error(`--container ${engine}: use docker or podman`);
      }
      const container = engine
        ? await ensureBuildImage(engine as "docker" | "podman", (l) => progress.message(l))
        : undefined;
      const result = await build({
        root,
        board,
        stages,
        targets,
        store,
        jobs: v.jobs ? Number(v.jobs) : undefined,
        force: v.force ? positionals : undefined,
        dryRun: Boolean(v["dry-run"]),
        keepGoing: Boolean(v["keep-going"]),
        progress,
        signal: abort.signal,
        sandbox: Boolean(v.sandbox) || Deno.env.get("ICENET_SANDBOX") === "1",
        container,
        cache,
      });
      progress.summary(cache && formatStats(cache.stats));
      if (v.timeline !== undefined && result.timeline) {
        await showTimeline(result.timeline, v.timeline as string);
      }
      if (abort.signal.aborted) return EXIT.interrupted;
      if (!result.ok) return EXIT.failed;
      for (const t of targets) await printOutput(t, board.name, result.results.get(t)?.out);
    }
    return EXIT.ok;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

/** Print a timeline's summary and, given a file, draw it there. */
async function showTimeline(t: Timeline, svg?: string): Promise<void> {
  console.log(summarize(t));
  if (!svg) return;
  await Deno.writeTextFile(svg, timelineSvg(t));
  console.log(`timeline: drawn to ${svg}`);
}

/** Stages nothing else needs: what `build` makes with no targets. */
function defaultTargets(stages: Stage[]): string[] {
  const needed = new Set(stages.flatMap((s) => s.needs));
  return stages.map((s) => s.name).filter((n) => !needed.has(n));
}

/** Print a target's output dir; for disk images also size and sha256. */
async function printOutput(target: string, board: string, out?: string): Promise<void> {
  if (!out) return;
  console.log(`${target}@${board}: ${out}`);
  for (const e of Deno.readDirSync(out)) {
    if (!e.isFile || !e.name.endsWith(".img")) continue;
    const path = `${out}/${e.name}`;
    const size = Deno.statSync(path).size;
    console.log(
      `image: ${path}\nsize: ${size} B (${mib(size)})\nsha256: ${await sha256File(path)}`,
    );
  }
}

async function explainCmd(
  positionals: string[],
  v: Record<string, string | string[] | boolean | undefined>,
  root: string,
  store: Store,
  loader: StageLoader,
): Promise<number> {
  if (positionals.length !== 1) throw new Error("explain: give exactly one stage name");
  for (const board of await boardsOf(v as { board?: string }, root)) {
    const e = await explain(await loader(board), positionals[0], board, root, store);
    console.log(`${e.stage}@${board.name}: ${e.rebuild ? "will rebuild" : "will not rebuild"}`);
    for (const r of e.reasons) console.log(`  ${r}`);
  }
  return EXIT.ok;
}

/** The plan as text (stage <- needs) or Graphviz dot. */
export function graph(plan: Stage[], board: string, dot: boolean): string {
  if (!dot) {
    return plan.map((s) => `${s.name}@${board}${s.needs.length ? ` <- ${s.needs.join(", ")}` : ""}`)
      .join("\n");
  }
  const lines = [`digraph "icenet-${board}" {`, "  rankdir=LR;"];
  for (const s of plan) {
    lines.push(`  "${s.name}";`);
    for (const d of s.needs) lines.push(`  "${d}" -> "${s.name}";`);
  }
  return [...lines, "}"].join("\n");
}

/** List every host tool, whether it is there, and the package of a missing one. */
function doctor(): number {
  let missing = 0;
  for (const [tool, { pkg }] of Object.entries(HOST_TOOLS).sort()) {
    const path = which(tool);
    if (!path) missing++;
    console.log(
      `${path ? "ok     " : "MISSING"} ${tool.padEnd(26)} ${path ?? `apt-get install ${pkg}`}`,
    );
  }
  console.log(
    missing
      ? `doctor: ${missing} tool(s) missing; run \`deno task setup\``
      : "doctor: all host tools present",
  );
  return missing ? EXIT.failed : EXIT.ok;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/**
 * Entry point of a stage module run on its own (`deno run -A tasks/musl.ts --board
 * rpi`): builds the stage and, from the store, its dependencies.
 */
export async function runStandalone(stage: Stage): Promise<never> {
  const { ROOT, loadStages } = await import("./registry.ts");
  const code = await main(["stage", stage.name, ...Deno.args], ROOT, (b) => loadStages(b, ROOT));
  Deno.exit(code);
}
