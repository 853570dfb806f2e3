/**
 * QEMU's human monitor (lib/qemu/monitor.ts) against a real QEMU with a screen and a
 * USB keyboard: commands answer, keys are accepted, the screen is saved as a PPM.
 * (Typing into a real login and reading the screen is the zima e2e boot's job.)
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { probeRom } from "../../lib/qemu/kvm.ts";
import { startQemu } from "../../lib/qemu/machine.ts";
import { HumanMonitor, keyName } from "../../lib/qemu/monitor.ts";

Deno.test("keyName() maps characters to sendkey names", () => {
  assert.deepEqual(
    [..."aZ9-_ \n:/.".split("")].map(keyName),
    ["a", "shift-z", "9", "minus", "shift-minus", "spc", "ret", "shift-semicolon", "slash", "dot"],
  );
  assert.throws(() => keyName("é"), /no key for "é"/);
});

Deno.test("HumanMonitor: commands, sendkey and screendump on a real QEMU", async () => {
  const dir = await Deno.makeTempDir({ prefix: "icenet-monitor-" });
  const rom = join(dir, "probe.rom");
  await Deno.writeFile(rom, probeRom());
  const socket = join(dir, "monitor.sock");
  const vm = startQemu({
    system: "qemu-system-x86_64",
    machine: "q35",
    memory: "64M",
    accel: "tcg",
    bios: rom,
    screen: { monitor: socket },
  });
  try {
    await vm.console.expect(/K/, 30_000, "the probe ROM's K");
    const mon = await HumanMonitor.connect(socket);
    assert.match(await mon.command("info status"), /^VM status: (running|paused)/);
    await mon.type("aA-\n");
    assert.match(await mon.command("info usb"), /USB Keyboard/);
    await mon.screendump(join(dir, "screen.ppm"));
    const ppm = await Deno.readFile(join(dir, "screen.ppm"));
    assert.match(new TextDecoder().decode(ppm.slice(0, 16)), /^P6\n\d+ \d+\n255\n/);
    await assert.rejects(() => mon.type("é"), /no key/);
    mon.close();
  } finally {
    await vm.stop(1000);
    await Deno.remove(dir, { recursive: true });
  }
});
