/**
 * Accelerator probe. /dev/kvm can exist and still not run guests (nested virtualisation
 * without support, wrong permissions), so the probe starts a real guest with the
 * boot's own machine and CPU whose firmware writes "K" to the first serial port, and
 * the accelerator counts as working only if "K" arrives.
 */
import { basename, join } from "node:path";

/**
 * A 64 KiB x86 "BIOS": the reset vector jumps to mov dx,0x3f8; mov al,'K'; out dx,al;
 * hlt; jmp $-1. As the firmware itself it needs no boot device, so it runs the same on
 * every PC machine type.
 */
export function probeRom(): Uint8Array {
  const rom = new Uint8Array(65536).fill(0xf4);
  rom.set([0xba, 0xf8, 0x03, 0xb0, 0x4b, 0xee, 0xf4, 0xeb, 0xfd], 0xff00);
  const rel = (0xff00 - (0xfff0 + 3)) & 0xffff; // jmp near 0xff00 from the reset vector
  rom.set([0xe9, rel & 0xff, rel >> 8], 0xfff0);
  return rom;
}

/** The QEMU options a boot will use, which the probe repeats exactly. */
export interface AccelTarget {
  system: string;
  machine: string;
  /** The CPU model; under KVM the default is `host`. */
  cpu?: string;
}

const cache = new Map<string, Promise<boolean>>();

/**
 * Whether `target` runs guests with `-accel <accel>` here (checked once per process and
 * target). Nested virtualisation can run a plain `-M pc` guest and still abort a q35 one
 * with `-cpu host` ("failed to set MSR"), so the probe uses the boot's own machine and
 * CPU. Only x86_64 PC machines on x86_64 hosts are probed for KVM; others answer false.
 */
export function acceleratorWorks(
  accel: "kvm" | "tcg",
  target: AccelTarget = { system: "qemu-system-x86_64", machine: "pc" },
  timeoutMs = 8000,
): Promise<boolean> {
  const key = `${accel} ${target.system} ${target.machine} ${target.cpu ?? ""}`;
  if (!cache.has(key)) cache.set(key, probe(accel, target, timeoutMs));
  return cache.get(key)!;
}

async function probe(accel: string, target: AccelTarget, timeoutMs: number): Promise<boolean> {
  if (basename(target.system) !== "qemu-system-x86_64") return accel === "tcg";
  if (accel === "kvm") {
    if (Deno.build.arch !== "x86_64") return false;
    try {
      (await Deno.open("/dev/kvm", { read: true, write: true })).close();
    } catch {
      return false;
    }
  }
  const cpu = target.cpu ?? (accel === "kvm" ? "host" : undefined);
  const dir = await Deno.makeTempDir({ prefix: "icenet-kvm-probe-" });
  try {
    const rom = join(dir, "probe.rom");
    await Deno.writeFile(rom, probeRom());
    const child = new Deno.Command(target.system, {
      args: [
        "-accel",
        accel,
        "-M",
        target.machine,
        ...(cpu ? ["-cpu", cpu] : []),
        "-m",
        "64M",
        "-nodefaults",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-monitor",
        "none",
        "-bios",
        rom,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    let seen = false;
    for await (const chunk of child.stdout) {
      if (new TextDecoder().decode(chunk).includes("K")) {
        seen = true;
        break;
      }
    }
    clearTimeout(timer);
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
    return seen;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * The accelerator for a boot: ICENET_ACCEL=kvm|tcg when set, else KVM when the probe
 * boots a guest with the same machine and CPU, else TCG.
 */
export async function chooseAccel(target: AccelTarget): Promise<"kvm" | "tcg"> {
  const forced = Deno.env.get("ICENET_ACCEL");
  if (forced) {
    if (forced !== "kvm" && forced !== "tcg") {
      throw new Error(`ICENET_ACCEL=${forced}: use kvm or tcg`);
    }
    return forced;
  }
  const native = Deno.build.arch === "x86_64" ? "qemu-system-x86_64" : "qemu-system-aarch64";
  if (basename(target.system) === native && await acceleratorWorks("kvm", target)) return "kvm";
  return "tcg";
}
