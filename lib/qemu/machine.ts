/**
 * QEMU command lines for IceNet boards and a running guest with its serial console.
 *
 * ```ts
 * const vm = startQemu({ system: "qemu-system-x86_64", machine: "q35", memory: "256M",
 *   accel: "tcg", firmware: ovmf, disk: { file: "icenet-zima.img", bus: "virtio" } });
 * await vm.console.expect(/login: $/, 120_000);
 * await vm.stop();
 * ```
 */
import { SerialConsole } from "./serial.ts";
import type { Ovmf } from "./ovmf.ts";

/** Everything that varies between our QEMU boots. */
export interface QemuSpec {
  /** The QEMU program: a name on PATH or a path (the qemu stage's). */
  system: string;
  /** Options this QEMU build needs on every run, before ours (lib/qemu/program.ts). */
  options?: string[];
  machine: string;
  memory: string;
  cpu?: string;
  accel: "kvm" | "tcg";
  /** UEFI firmware (zima); without it QEMU boots `kernel` directly. */
  firmware?: Ovmf;
  /** A BIOS image instead of QEMU's own (PC machines; the accelerator probe's ROM). */
  bios?: string;
  kernel?: string;
  dtb?: string;
  initrd?: string;
  append?: string;
  /** The boot disk: virtio-blk (PC) or the SD card slot (Raspberry Pi machines). */
  disk?: { file: string; bus: "virtio" | "sd" };
  /** Which serial port (0-based) carries the guest console; the others go nowhere. */
  serialIndex?: number;
  /** User-mode network with host-loopback port forwards to the guest (virtio-net). */
  net?: { forwards: { host: number; guest: number }[] };
  /** Serial on the terminal with QEMU's monitor multiplexed (Ctrl-A X quits). */
  interactive?: boolean;
  /**
   * A screen and a USB keyboard (PC machines): a VGA display and a keyboard on an xHCI
   * controller, with QEMU's human monitor on this unix socket to type and take pictures
   * (lib/qemu/monitor.ts).
   */
  screen?: { monitor: string };
  /** QEMU's human monitor on this unix socket, without a screen (e.g. `system_reset`). */
  monitor?: string;
  /** Exit QEMU instead of rebooting the guest. */
  noReboot?: boolean;
  /** More devices (`-device`), e.g. the `i6300esb` watchdog. */
  devices?: string[];
  /** Raw disk images on the PC's SATA controller (q35's AHCI), one per port from the first. */
  sataDisks?: string[];
}

/** The argument vector (without the program name) for a spec. */
export function qemuArgv(spec: QemuSpec): string[] {
  const a = [...spec.options ?? []];
  // OVMF's secure-boot build runs its variable services in SMM, on a flash only SMM may write.
  const machine = spec.firmware?.secureBoot ? `${spec.machine},smm=on` : spec.machine;
  a.push("-M", machine, "-m", spec.memory, "-accel", spec.accel, "-display", "none");
  if (spec.firmware?.secureBoot) a.push("-global", "driver=cfi.pflash01,property=secure,value=on");
  // PC machines get only the devices we add (else OVMF first tries a CD-ROM and the
  // network); the Pi machines have fixed on-board devices.
  if (spec.disk?.bus !== "sd") a.push("-nodefaults");
  if (spec.cpu) a.push("-cpu", spec.cpu);
  else if (spec.accel === "kvm") a.push("-cpu", "host");
  if (spec.firmware) {
    a.push(
      "-drive",
      `if=pflash,format=raw,unit=0,readonly=on,file=${spec.firmware.code}`,
      "-drive",
      `if=pflash,format=raw,unit=1,file=${spec.firmware.vars}`,
    );
  }
  if (spec.bios) a.push("-bios", spec.bios);
  if (spec.kernel) a.push("-kernel", spec.kernel);
  if (spec.dtb) a.push("-dtb", spec.dtb);
  if (spec.initrd) a.push("-initrd", spec.initrd);
  if (spec.append) a.push("-append", spec.append);
  if (spec.disk?.bus === "sd") {
    a.push("-drive", `file=${spec.disk.file},format=raw,if=sd`);
  } else if (spec.disk) {
    a.push("-drive", `file=${spec.disk.file},format=raw,if=none,id=disk0`);
    a.push("-device", "virtio-blk-pci,drive=disk0");
  }
  spec.sataDisks?.forEach((file, i) => {
    a.push("-drive", `file=${file},format=raw,if=none,id=sata${i}`);
    a.push("-device", `ide-hd,drive=sata${i},bus=ide.${i}`);
  });
  if (spec.net) {
    const fwd = spec.net.forwards.map((f) => `,hostfwd=tcp:127.0.0.1:${f.host}-:${f.guest}`);
    a.push("-netdev", `user,id=net0${fwd.join("")}`, "-device", "virtio-net-pci,netdev=net0");
  }
  for (const d of spec.devices ?? []) a.push("-device", d);
  if (spec.screen) {
    a.push("-device", "VGA", "-device", "qemu-xhci,id=xhci", "-device", "usb-kbd,bus=xhci.0");
  }
  const index = spec.serialIndex ?? 0;
  for (let i = 0; i < index; i++) a.push("-serial", "null");
  a.push("-serial", spec.interactive ? "mon:stdio" : "stdio");
  const monitor = spec.screen?.monitor ?? spec.monitor;
  if (monitor) a.push("-monitor", `unix:${monitor},server=on,wait=off`);
  else if (!spec.interactive) a.push("-monitor", "none");
  if (spec.noReboot) a.push("-no-reboot");
  return a;
}

/** A running guest. */
export interface Qemu {
  console: SerialConsole;
  /** The accelerator it runs under. */
  accel: "kvm" | "tcg";
  /** The QEMU process exit status. */
  status: Promise<Deno.CommandStatus>;
  /** QEMU's own error output, once it has exited. */
  stderr: Promise<string>;
  /** Stop QEMU: SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Wait for QEMU to exit by itself (guest powered off); kill it after `timeoutMs`. */
  waitExit(timeoutMs: number): Promise<Deno.CommandStatus>;
}

/** How long a KVM boot may stay silent before it counts as running (see startGuest). */
const KVM_FALLBACK_WINDOW_MS = 20_000;

/**
 * Start a guest like startQemu, but a KVM boot that dies before printing anything (KVM
 * that passes the probe yet cannot run this guest) is started again under TCG, with a
 * one-line warning naming QEMU's error. The returned guest's `accel` says which ran.
 */
export async function startGuest(
  spec: QemuSpec,
  tee?: (chunk: string) => void,
  warn: (line: string) => void = (l) => console.error(l),
): Promise<Qemu> {
  const vm = startQemu(spec, tee);
  if (spec.accel !== "kvm") return vm;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const silent = new Promise<"silent">((r) => {
    timer = setTimeout(() => r("silent"), KVM_FALLBACK_WINDOW_MS);
  });
  const first = await Promise.race([
    vm.console.firstOutput.then((any) => any ? "output" as const : "exit" as const),
    silent,
  ]);
  clearTimeout(timer);
  if (first !== "exit") return vm;
  const why = (await vm.stderr).trim().split("\n").find((l) => l.trim()) ??
    `exit ${(await vm.status).code}`;
  warn(`qemu: the KVM boot died before any output (${why}); retrying under TCG`);
  return startQemu({ ...spec, accel: "tcg" }, tee);
}

/**
 * Start QEMU with the guest console on pipes; `tee` sees everything it prints. Console
 * failures (a timeout, the console closing) say how QEMU exited and quote its stderr.
 */
export function startQemu(spec: QemuSpec, tee?: (chunk: string) => void): Qemu {
  const child = new Deno.Command(spec.system, {
    args: qemuArgv({ ...spec, interactive: false }),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const console = new SerialConsole(child.stdout, child.stdin, tee);
  let errText = "";
  const stderr = (async () => {
    const dec = new TextDecoder();
    for await (const chunk of child.stderr) errText += dec.decode(chunk, { stream: true });
    return errText;
  })();
  const status = child.status;
  let exited = false;
  status.then(() => exited = true);
  console.setDiagnostics(async () => {
    // The console closes just before QEMU's exit is reported: give it a moment.
    const code = await Promise.race([
      status.then((s) => s.signal ? `signal ${s.signal}` : `code ${s.code}`),
      new Promise<undefined>((r) => setTimeout(() => r(undefined), 2000)),
    ]);
    const err = errText.trim().split("\n").slice(-8).join("\n");
    return (code ? `\nQEMU (${spec.accel}) exited with ${code}` : "") +
      (err ? `\nQEMU's stderr:\n${err}` : "");
  });
  const kill = (sig: Deno.Signal) => {
    try {
      if (!exited) child.kill(sig);
    } catch { /* already gone */ }
  };
  return {
    console,
    accel: spec.accel,
    status,
    stderr,
    async stop(graceMs = 5000) {
      kill("SIGTERM");
      const t = setTimeout(() => kill("SIGKILL"), graceMs);
      await status;
      clearTimeout(t);
      await console.close();
    },
    async waitExit(timeoutMs: number) {
      let timedOut = false;
      const t = setTimeout(() => {
        timedOut = true;
        kill("SIGKILL");
      }, timeoutMs);
      const s = await status;
      clearTimeout(t);
      await console.close();
      if (timedOut) throw new Error(`QEMU did not exit within ${timeoutMs / 1000} s (killed)`);
      return s;
    },
  };
}
