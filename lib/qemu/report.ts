/**
 * The boot report of `deno task boot <board> --report`: boot the image, log in on the
 * serial console, measure, power off.
 *
 * Boot-to-login is read on the guest clock: /proc/uptime (which starts with the
 * kernel) read right after login, minus the host time that passed since the login
 * prompt appeared. Firmware time (OVMF, systemd-boot) is not counted.
 */
import { Buffer } from "node:buffer";
import type { Board } from "../board.ts";
import { boardVm, partitionOffsets } from "./board_vm.ts";
import { type Qemu, startGuest } from "./machine.ts";
import { GuestShell } from "./shell.ts";

/** One service line of `icenetctl status`. */
export interface ServiceStatus {
  name: string;
  state: string;
  /** The `key=value` fields (pid, up, restarts, last, start, ready, reason). */
  fields: Record<string, string>;
}

/** What --report prints. */
export interface BootReport {
  board: string;
  /** The QEMU machine it ran on. */
  machine: string;
  accel: string;
  /** Kernel start to login prompt, guest clock, seconds. */
  bootToLoginSeconds: number;
  /** QEMU start to login prompt, host clock, seconds (firmware included). */
  wallToLoginSeconds: number;
  /** MemTotal - MemAvailable, 10 s after login, MiB. */
  idleMemoryMiB: number;
  /** What holds that memory, MiB (memoryBreakdown()). */
  memory: MemoryBreakdown;
  imageBytes: number;
  /** Bytes used by the root squashfs (from its superblock). */
  rootBytes: number;
  services: ServiceStatus[];
  /** The kernel log (`dmesg`) 10 s after login, when asked for (the boot chart's input). */
  kernelLog?: string;
}

/** Parse `icenetctl status`: `name state key=value ... reason="..."` per line. */
export function parseStatus(text: string): ServiceStatus[] {
  const out: ServiceStatus[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\S+) (\S+)(.*)$/.exec(line.trim());
    if (!m) continue;
    const fields: Record<string, string> = {};
    for (const f of m[3].matchAll(/(\w+)=("([^"]*)"|\S*)/g)) fields[f[1]] = f[3] ?? f[2];
    out.push({ name: m[1], state: m[2], fields });
  }
  return out;
}

/** One field of /proc/meminfo, in KiB. */
function meminfoKiB(meminfo: string, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(meminfo);
  if (!m) throw new Error(`/proc/meminfo has no ${key}`);
  return Number(m[1]);
}

/** MemTotal - MemAvailable from /proc/meminfo, in KiB. */
export function memUsedKiB(meminfo: string): number {
  return meminfoKiB(meminfo, "MemTotal") - meminfoKiB(meminfo, "MemAvailable");
}

/**
 * Where idle memory goes, MiB. MemTotal - MemAvailable (the idle figure) is `held` (pages
 * neither free nor page cache) plus what MemAvailable keeps back from the free pages: the
 * zones' high watermarks and up to the low watermark of the page cache. Of `held`, the
 * pages parked on the per-CPU free lists are free too. The watermarks and the per-CPU
 * lists scale with RAM and CPUs (about 10 MB on a 4-core 1 GiB Pi, 2 MB on a 1-CPU
 * 256 MiB VM), not with what runs.
 */
export interface MemoryBreakdown {
  /** MemTotal - MemFree - Buffers - Cached: what `free` calls used. */
  held: number;
  /** Of held: free pages on the per-CPU lists (`count:` in /proc/zoneinfo). */
  perCpuFree: number;
  /** Of held: unreclaimable slab, kernel stacks, page tables, vmalloc, process memory. */
  slab: number;
  kernelStacks: number;
  pageTables: number;
  vmalloc: number;
  anon: number;
  /** The zones' high watermarks (`high` in /proc/zoneinfo): free, but not available. */
  reserve: number;
}

/** The breakdown of /proc/meminfo and /proc/zoneinfo (see MemoryBreakdown). */
export function memoryBreakdown(meminfo: string, zoneinfo: string): MemoryBreakdown {
  const kib = (key: string) => meminfoKiB(meminfo, key);
  const mib = (k: number) => Math.round(k / 1024 * 10) / 10;
  // A zone's watermarks are its first "high" line (the per-CPU lists' "high:" come later).
  const pages = (re: RegExp) => [...zoneinfo.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
  const highPages = pages(/^\s+high\s+(\d+)$/gm);
  return {
    held: mib(kib("MemTotal") - kib("MemFree") - kib("Buffers") - kib("Cached")),
    perCpuFree: mib(pages(/^\s+count:\s+(\d+)$/gm) * 4),
    slab: mib(kib("SUnreclaim")),
    kernelStacks: mib(kib("KernelStack")),
    pageTables: mib(kib("PageTables")),
    vmalloc: mib(kib("VmallocUsed")),
    anon: mib(kib("AnonPages")),
    reserve: mib(highPages * 4),
  };
}

/** Bytes used by the squashfs at `offset` in `image` (its superblock's bytes_used). */
export async function squashfsBytesAt(image: string, offset: number): Promise<number> {
  using f = await Deno.open(image);
  await f.seek(offset, Deno.SeekMode.Start);
  const sb = new Uint8Array(96);
  let n = 0;
  while (n < sb.length) {
    const r = await f.read(sb.subarray(n));
    if (r === null) break;
    n += r;
  }
  const view = new DataView(sb.buffer);
  if (view.getUint32(0, true) !== 0x73717368) {
    throw new Error(`${image}: no squashfs at byte ${offset}`);
  }
  return Number(view.getBigUint64(40, true));
}

/**
 * Power the guest off through init; if QEMU is still running after 30 s, force it
 * (`poweroff -f`), and as a last resort kill QEMU. Says which it took on stderr.
 */
export async function powerOff(sh: GuestShell, vm: Qemu): Promise<void> {
  await sh.send("icenetctl poweroff 2>/dev/null || poweroff");
  if (await exitsWithin(vm, 30_000)) return;
  console.error("boot: the guest did not power off within 30 s; trying poweroff -f");
  await sh.send("poweroff -f");
  if (await exitsWithin(vm, 15_000)) return;
  console.error("boot: the guest did not power off; QEMU killed");
  await vm.stop(1000);
}

async function exitsWithin(vm: Qemu, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<false>((r) => timer = setTimeout(() => r(false), ms));
  const done = await Promise.race([vm.status.then(() => true), timeout]);
  clearTimeout(timer);
  return done;
}

/**
 * The guest's kernel log, whole. busybox dmesg reads 16 KiB unless told (initcall_debug
 * logs far more); base64 on the way, because GuestShell drops icenet-init's console
 * messages from command output, and its messages in the log are wanted here.
 */
export async function readKernelLog(sh: GuestShell): Promise<string> {
  const b64 = await sh.check("dmesg -s 4194304 | base64", 120_000);
  return Buffer.from(b64.replace(/\s+/g, ""), "base64").toString("utf8");
}

/** How to log in for the report. */
export interface ReportLogin {
  user: string;
  password?: string;
}

/** How bootReport() boots and what it reads. */
export interface ReportOptions {
  /** Where the serial console's output goes as it comes. */
  tee?: (s: string) => void;
  /** The board's QEMU machine to boot on (default its first). */
  machine?: string;
  /** Read the whole kernel log too (BootReport.kernelLog). */
  withKernelLog?: boolean;
  /**
   * Boot the disk an earlier report in `work` booted (and changed: the data partition
   * grown, the first boot's settings applied) instead of a fresh copy of the image: a
   * later boot, as a device makes every day.
   */
  again?: boolean;
}

/** Boot `image` (a fresh copy in `work`, unless `again`), log in, measure, power off. */
export async function bootReport(
  board: Board,
  image: string,
  work: string,
  login: ReportLogin,
  opts: ReportOptions = {},
): Promise<BootReport> {
  const { tee, machine, withKernelLog = false } = opts;
  const spec = await boardVm(board, image, work, {
    noReboot: true,
    machine,
    reuseDisk: opts.again,
  });
  const t0 = performance.now();
  const vm = await startGuest(spec, tee);
  try {
    const sh = await GuestShell.login(vm.console, { ...login, timeoutMs: 300_000 });
    const uptime = Number((await sh.check("cat /proc/uptime")).split(/\s+/)[0]);
    const bootToLogin = uptime - (performance.now() - sh.promptSeenAt) / 1000;
    await sh.check("sleep 10", 60_000);
    const meminfo = await sh.check("cat /proc/meminfo");
    const used = memUsedKiB(meminfo);
    const memory = memoryBreakdown(meminfo, await sh.check("cat /proc/zoneinfo"));
    const status = await sh.run("icenetctl status");
    const kernelLog = withKernelLog ? await readKernelLog(sh) : undefined;
    const rootOffset = (await partitionOffsets(image))[1];
    const report: BootReport = {
      board: board.name,
      machine: spec.machine,
      accel: vm.accel,
      bootToLoginSeconds: Math.round(bootToLogin * 1000) / 1000,
      wallToLoginSeconds: Math.round(sh.promptSeenAt - t0) / 1000,
      idleMemoryMiB: Math.round(used / 1024 * 10) / 10,
      memory,
      imageBytes: (await Deno.stat(image)).size,
      rootBytes: await squashfsBytesAt(image, rootOffset),
      services: status.status === 0 ? parseStatus(status.out) : [],
      ...(kernelLog === undefined ? {} : { kernelLog }),
    };
    await powerOff(sh, vm);
    return report;
  } finally {
    await vm.stop(1000);
  }
}
