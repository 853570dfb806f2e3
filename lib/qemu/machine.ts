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
  system: string;
  machine: string;
  memory: string;
  cpu?: string;
  accel: "kvm" | "tcg";
  /** UEFI firmware (zima); without it QEMU boots `kernel` directly. */
  firmware?: Ovmf;
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
  /** Exit QEMU instead of rebooting the guest. */
  noReboot?: boolean;
}

/** The argument vector (without the program name) for a spec. */
export function qemuArgv(spec: QemuSpec): string[] {
  const a = ["-M", spec.machine, "-m", spec.memory, "-accel", spec.accel, "-display", "none"];
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
  if (spec.net) {
    const fwd = spec.net.forwards.map((f) => `,hostfwd=tcp:127.0.0.1:${f.host}-:${f.guest}`);
    a.push("-netdev", `user,id=net0${fwd.join("")}`, "-device", "virtio-net-pci,netdev=net0");
  }
  const index = spec.serialIndex ?? 0;
  for (let i = 0; i < index; i++) a.push("-serial", "null");
  a.push("-serial", spec.interactive ? "mon:stdio" : "stdio");
  if (!spec.interactive) a.push("-monitor", "none");
  if (spec.noReboot) a.push("-no-reboot");
  return a;
}

/** A running guest. */
export interface Qemu {
  console: SerialConsole;
  /** The QEMU process exit status. */
  status: Promise<Deno.CommandStatus>;
  /** QEMU's own error output, once it has exited. */
  stderr: Promise<string>;
  /** Stop QEMU: SIGTERM, then SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<void>;
  /** Wait for QEMU to exit by itself (guest powered off); kill it after `timeoutMs`. */
  waitExit(timeoutMs: number): Promise<Deno.CommandStatus>;
}

/** Start QEMU with the guest console on pipes; `tee` sees everything it prints. */
export function startQemu(spec: QemuSpec, tee?: (chunk: string) => void): Qemu {
  const child = new Deno.Command(spec.system, {
    args: qemuArgv({ ...spec, interactive: false }),
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const console = new SerialConsole(child.stdout, child.stdin, tee);
  const stderr = new Response(child.stderr).text();
  const status = child.status;
  let exited = false;
  status.then(() => exited = true);
  const kill = (sig: Deno.Signal) => {
    try {
      if (!exited) child.kill(sig);
    } catch { /* already gone */ }
  };
  return {
    console,
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
