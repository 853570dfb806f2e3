/**
 * Build stages of a board for the userland tests through the real runner, by
 * default in the user's store (so repeated runs reuse the outputs).
 */
import { join } from "node:path";
import { type Board, loadBoard } from "../../lib/board.ts";
import type { Stage } from "../../lib/stage.ts";
import { defaultDownloadDir } from "../../lib/fetch/mod.ts";
import { SilentProgress } from "../../lib/progress.ts";
import { build, type StageResult } from "../../lib/runner.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { loadStages, ROOT } from "../../lib/registry.ts";

/** The project root. */
export { ROOT };

const loaded = new Map<string, Promise<Stage[]>>();

/**
 * The stages of a board, loaded once per test process: two concurrent loads (two
 * builds at once) would import the task modules concurrently, which panics Deno 2.9
 * ("RefCell already borrowed" in its module map).
 */
function stagesOf(board: Board): Promise<Stage[]> {
  if (!loaded.has(board.name)) loaded.set(board.name, loadStages(board, ROOT));
  return loaded.get(board.name)!;
}

/** Build `targets` for `board`; returns each target's result (throws on failure). */
export async function buildFor(
  board: string,
  targets: string[],
  storeDir = defaultStoreDir(),
): Promise<Map<string, StageResult>> {
  const b = await loadBoard(ROOT, board);
  const result = await build({
    root: ROOT,
    board: b,
    stages: await stagesOf(b),
    targets,
    store: new Store(storeDir),
    // Sources are fetched once, whatever store the outputs go to.
    downloadDir: defaultDownloadDir(defaultStoreDir()),
    progress: new SilentProgress(),
    jobs: 2,
  });
  if (!result.ok) {
    const bad = [...result.results.values()].filter((r) => r.outcome === "failed");
    throw new Error(
      `build ${targets.join(" ")} for ${board} failed: ` +
        bad.map((r) => `${r.name}: ${r.error} (log: ${r.log})`).join("; "),
    );
  }
  return result.results;
}

/** Output directory of one stage for one board. */
export async function stageOut(board: string, stage: string): Promise<string> {
  return (await buildFor(board, [stage])).get(stage)!.out!;
}

/** Run a command; returns its exit code and text output. */
export async function run(
  cmd: string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: opts.cwd,
    env: opts.env,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, stdout: dec.decode(r.stdout), stderr: dec.decode(r.stderr) };
}

/** The boards the userland tests cover, one per architecture, with how to run their binaries. */
export const ARCHES = [
  {
    board: "zima",
    arch: "x86_64",
    machine: "Advanced Micro Devices X86-64",
    macro: "__x86_64__",
    flags: /^0x0$/,
    emulator: [],
  },
  {
    board: "rpi",
    arch: "aarch64",
    machine: "AArch64",
    macro: "__aarch64__",
    flags: /^0x0$/,
    emulator: ["qemu-aarch64-static"],
  },
  {
    board: "rpi32",
    arch: "armv7",
    machine: "ARM",
    macro: "__ARM_PCS_VFP",
    /** armv7 boards are hard-float: readelf says so in the ELF header flags. */
    flags: /hard-float ABI/,
    emulator: ["qemu-arm-static"],
  },
] as const;

/** `readelf -h -l` facts of an ELF file. */
export async function elfInfo(
  path: string,
): Promise<{ machine: string; flags: string; interp?: string }> {
  const r = await run(["readelf", "-h", "-l", path]);
  if (r.code !== 0) throw new Error(`readelf ${path}: ${r.stderr}`);
  const machine = r.stdout.match(/^\s*Machine:\s*(.+)$/m)?.[1].trim() ?? "";
  const flags = r.stdout.match(/^\s*Flags:\s*(.+)$/m)?.[1].trim() ?? "";
  const interp = r.stdout.match(/\[Requesting program interpreter: (.+)\]/)?.[1];
  return { machine, flags, interp };
}

export { join };
