/**
 * Choosing the accelerator, and what happens when KVM lets us down. KVM that dies on
 * a particular guest cannot be summoned on demand (it depends on the host), so the
 * failing KVM here is a stand-in: a `qemu-system-x86_64` script that fails the way
 * nested KVM does ("failed to set MSR") when asked for `-accel kvm` and otherwise runs
 * the real QEMU. Everything under TCG is real.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { acceleratorWorks, chooseAccel, probeRom } from "../../lib/qemu/kvm.ts";
import { startGuest, startQemu } from "../../lib/qemu/machine.ts";

/** A directory with the stand-in QEMU (it logs its arguments) and the probe ROM. */
async function standIn() {
  const dir = await Deno.makeTempDir({ prefix: "icenet-accel-" });
  const qemu = join(dir, "qemu-system-x86_64");
  const log = join(dir, "args.log");
  await Deno.writeTextFile(
    qemu,
    `#!/bin/sh
echo "$*" >> '${log}'
case " $* " in *" -accel kvm "*)
  echo "qemu-system-x86_64: error: failed to set MSR 0x10a to 0x69 (stand-in)" >&2; exit 1;;
esac
exec /usr/bin/qemu-system-x86_64 "$@"
`,
    { mode: 0o755 },
  );
  const rom = join(dir, "probe.rom");
  await Deno.writeFile(rom, probeRom());
  return { dir, qemu, rom, args: () => Deno.readTextFile(log).catch(() => "") };
}

Deno.test("acceleratorWorks() probes with the boot's own machine and CPU", async () => {
  const s = await standIn();
  assert.equal(
    await acceleratorWorks("tcg", { system: s.qemu, machine: "q35", cpu: "max" }),
    true,
  );
  assert.match(await s.args(), /-accel tcg -M q35 -cpu max /);
  const kvmDev = await Deno.open("/dev/kvm", { read: true, write: true }).then((f) => {
    f.close();
    return true;
  }, () => false);
  assert.equal(await acceleratorWorks("kvm", { system: s.qemu, machine: "q35" }), false);
  // With a /dev/kvm to open, the probe ran QEMU exactly as the boot would (-cpu host).
  if (kvmDev) assert.match(await s.args(), /-accel kvm -M q35 -cpu host /);
  await Deno.remove(s.dir, { recursive: true });
});

Deno.test("chooseAccel() follows ICENET_ACCEL, and refuses other values", async () => {
  const target = { system: "qemu-system-x86_64", machine: "q35" };
  const old = Deno.env.get("ICENET_ACCEL");
  try {
    Deno.env.set("ICENET_ACCEL", "tcg");
    assert.equal(await chooseAccel(target), "tcg");
    Deno.env.set("ICENET_ACCEL", "kvm");
    assert.equal(await chooseAccel(target), "kvm");
    Deno.env.set("ICENET_ACCEL", "hvf");
    await assert.rejects(() => chooseAccel(target), /ICENET_ACCEL=hvf: use kvm or tcg/);
  } finally {
    if (old === undefined) Deno.env.delete("ICENET_ACCEL");
    else Deno.env.set("ICENET_ACCEL", old);
  }
});

Deno.test("startGuest() retries a KVM boot that dies before any output under TCG, once", async () => {
  const s = await standIn();
  const warnings: string[] = [];
  const vm = await startGuest(
    { system: s.qemu, machine: "q35", memory: "64M", accel: "kvm", bios: s.rom },
    undefined,
    (l) => warnings.push(l),
  );
  assert.equal(vm.accel, "tcg");
  assert.deepEqual(warnings, [
    "qemu: the KVM boot died before any output (qemu-system-x86_64: error: failed to set MSR " +
    "0x10a to 0x69 (stand-in)); retrying under TCG",
  ]);
  await vm.console.expect(/K/, 30_000, "the probe ROM's K");
  await vm.stop(1000);
  await Deno.remove(s.dir, { recursive: true });
});

Deno.test("a boot error quotes how QEMU exited and its stderr", async () => {
  const vm = startQemu({
    system: "qemu-system-x86_64",
    machine: "no-such-machine",
    memory: "64M",
    accel: "tcg",
  });
  await assert.rejects(
    () => vm.console.expect(/login: $/, 30_000, "the login prompt"),
    (e: Error) => {
      assert.match(e.message, /^console closed while waiting for the login prompt \(no output/);
      assert.match(e.message, /QEMU \(tcg\) exited with code 1/);
      assert.match(e.message, /QEMU's stderr:\nqemu-system-x86_64: unsupported machine type/);
      return true;
    },
  );
  await vm.stop(1000);
});
