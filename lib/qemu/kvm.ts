/**
 * KVM probe. /dev/kvm can exist and still not run guests (nested virtualisation
 * without support, wrong permissions), so the probe boots a real one-sector guest
 * under KVM that writes "K" to the first serial port, and uses KVM only if "K" arrives.
 */
import { join } from "node:path";

/** A 512-byte boot sector: mov dx,0x3f8; mov al,'K'; out dx,al; hlt; jmp $-1. */
function probeSector(): Uint8Array {
  const s = new Uint8Array(512);
  s.set([0xba, 0xf8, 0x03, 0xb0, 0x4b, 0xee, 0xf4, 0xeb, 0xfd]);
  s[510] = 0x55;
  s[511] = 0xaa;
  return s;
}

const cache = new Map<string, Promise<boolean>>();

/**
 * Whether `qemu-system-x86_64` can run guests with `-accel <accel>` here (checked once
 * per process). Only x86_64 hosts are probed for KVM; anything else answers false.
 */
export function acceleratorWorks(accel: "kvm" | "tcg", timeoutMs = 8000): Promise<boolean> {
  const key = accel;
  if (!cache.has(key)) cache.set(key, probe(accel, timeoutMs));
  return cache.get(key)!;
}

async function probe(accel: string, timeoutMs: number): Promise<boolean> {
  if (accel === "kvm") {
    if (Deno.build.arch !== "x86_64") return false;
    try {
      (await Deno.open("/dev/kvm", { read: true, write: true })).close();
    } catch {
      return false;
    }
  }
  const dir = await Deno.makeTempDir({ prefix: "icenet-kvm-probe-" });
  try {
    const disk = join(dir, "probe.img");
    await Deno.writeFile(disk, probeSector());
    const child = new Deno.Command("qemu-system-x86_64", {
      args: [
        "-accel",
        accel,
        "-M",
        "pc",
        "-m",
        "16M",
        "-nodefaults",
        "-display",
        "none",
        "-serial",
        "stdio",
        "-drive",
        `file=${disk},format=raw,if=ide`,
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

/** The accelerator to use for a QEMU system binary: KVM when it works for this host. */
export async function chooseAccel(system: string): Promise<"kvm" | "tcg"> {
  const native = Deno.build.arch === "x86_64" ? "qemu-system-x86_64" : "qemu-system-aarch64";
  if (system === native && await acceleratorWorks("kvm")) return "kvm";
  return "tcg";
}
