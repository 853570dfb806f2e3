/**
 * `deno task boot <board> [--machine NAME] [--report | --chart [--out DIR]] [--again] [--image FILE] [--user U] [--password P]`
 *
 * Builds the board's image (reusing the store) and runs it in QEMU with the serial
 * console on this terminal (Ctrl-A X quits), on the board's first QEMU machine or the
 * one `--machine` names (`deno task boot rpi --machine raspi4b`: the Pi 4, on the qemu
 * stage's QEMU). With --report it logs in on the console
 * instead, prints a JSON report (boot-to-login time on the guest clock, idle memory,
 * image and root sizes, services and their states) and powers the guest off.
 * With --chart it builds the image with `initcall_debug` (lib/qemu/chart_run.ts), boots
 * and logs in the same way, and writes boot-chart-<board>.svg and .json (the kernel's
 * initcalls, the early-boot steps, each service's start and readiness) into --out
 * (default: the current directory), printing the ten longest stretches of the boot.
 * --again (with --report or --chart) boots the image once first and reports the second
 * boot of the same disk: a later boot, without the first boot's work.
 * The login defaults to root; ICENET_BOOT_USER / ICENET_BOOT_PASSWORD override it.
 */
import { parseArgs } from "node:util";
import { loadBoard, qemuMachine } from "../lib/board.ts";
import { buildImage } from "../lib/qemu/build_image.ts";
import { boardVm } from "../lib/qemu/board_vm.ts";
import { qemuArgv, type QemuSpec } from "../lib/qemu/machine.ts";
import { bootReport } from "../lib/qemu/report.ts";
import { chartBoot, topTen, writeChart } from "../lib/qemu/chart_run.ts";
import { ROOT } from "../lib/registry.ts";

const USAGE = "usage: deno task boot <board> [--machine NAME] [--report | --chart [--out DIR]] " +
  "[--again] [--image FILE] [--user U] [--password P]";

async function main(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      report: { type: "boolean" },
      chart: { type: "boolean" },
      again: { type: "boolean" },
      out: { type: "string" },
      machine: { type: "string" },
      image: { type: "string" },
      user: { type: "string" },
      password: { type: "string" },
      verbose: { type: "boolean", short: "v" },
    },
  });
  if (
    positionals.length !== 1 || (values.chart && (values.report || values.image)) ||
    (values.again && !values.chart && !values.report)
  ) {
    console.error(USAGE);
    return 2;
  }
  const board = await loadBoard(ROOT, positionals[0]);
  qemuMachine(board, values.machine); // an unknown machine fails before any build
  const login = {
    user: values.user ?? Deno.env.get("ICENET_BOOT_USER") ?? "root",
    password: values.password ?? Deno.env.get("ICENET_BOOT_PASSWORD") ??
      (values.chart && !Deno.env.get("ICENET_IMAGE") ? "icenet-test" : undefined),
  };
  const enc = new TextEncoder();
  const tee = values.verbose ? (s: string) => Deno.stderr.writeSync(enc.encode(s)) : undefined;
  if (values.chart) {
    const work = await Deno.makeTempDir({ prefix: `icenet-chart-${board.name}-` });
    try {
      const c = await chartBoot(ROOT, board, work, login, {
        machine: values.machine,
        tee,
        again: values.again,
      });
      const label = values.machine ?? board.name;
      const files = await writeChart(c, values.out ?? ".", label);
      console.log(`boot chart of ${label}: ${files.join(", ")}`);
      console.log(`login prompt at ${c.report.bootToLoginSeconds} s; the longest stretches:`);
      console.log(topTen(c));
      return 0;
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  }
  const image = values.image ?? await buildImage(ROOT, board, Boolean(values.report));
  const work = await Deno.makeTempDir({ prefix: `icenet-boot-${board.name}-` });
  try {
    if (values.report) {
      const opts = { tee, machine: values.machine };
      if (values.again) await bootReport(board, image, work, login, opts);
      const report = await bootReport(board, image, work, login, { ...opts, again: values.again });
      console.log(JSON.stringify(report, null, 2));
      return 0;
    }
    const spec = await boardVm(board, image, work, {
      forwards: [{ host: Number(Deno.env.get("ICENET_SSH_PORT") ?? 2222), guest: 22 }],
      machine: values.machine,
    });
    let code = await runInteractive(spec);
    if (code.early && spec.accel === "kvm") {
      console.error(
        "boot: QEMU failed at once under KVM; retrying under TCG (ICENET_ACCEL=tcg skips KVM)",
      );
      code = await runInteractive({ ...spec, accel: "tcg" });
    }
    return code.code;
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** Run QEMU on this terminal; `early` when it failed within its first seconds. */
async function runInteractive(spec: QemuSpec): Promise<{ code: number; early: boolean }> {
  const argv = qemuArgv({ ...spec, interactive: true });
  console.error(`${spec.system} ${argv.join(" ")}\n(Ctrl-A X quits QEMU)`);
  const t0 = performance.now();
  const status = await new Deno.Command(spec.system, {
    args: argv,
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  return { code: status.code, early: status.code !== 0 && performance.now() - t0 < 5000 };
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`boot: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
