import assert from "node:assert/strict";
import { bootChart, symbolizer, timeSinks } from "../../lib/qemu/boot_chart.ts";
import { bootChartSvg, visibleBars } from "../../lib/qemu/boot_chart_svg.ts";

// The shape of a real log (busybox dmesg of a kernel without kallsyms, initcall_debug).
const DMESG = `[    0.000000] Linux version 6.1.192-icenet
[    0.100000] calling  0xffffffff81a00010 @ 1
[    0.350000] initcall 0xffffffff81a00010 returned 0 after 250000 usecs
[    0.350100] calling  0xffffffff81a00200 @ 1
[    0.351000] initcall 0xffffffff81a00200 returned 0 after 900 usecs
[    0.600000] Freeing unused kernel image (initmem) memory: 1052K
[    0.900000] Run /sbin/init as init process
[    1.000000] icenet-preinit: step proc and dev
[    1.200000] icenet-preinit: step data partition mounted
[    1.250000] icenet-init: info: boot gate: waiting for every service (timeout 120000 ms)
[    1.260000] icenet-init: info: clock: started, pid 87
[    1.290000] icenet-init: info: clock: ready after 30 ms
[    1.300000] icenet-init: info: dropbear: started, pid 88
[    1.310000] icenet-init: info: setup: started, pid 89
[    1.320000] icenet-init: info: setup: done
`;
const MAP = `ffffffff81000000 T _text
ffffffff81a00010 t ahci_pci_driver_init
ffffffff81a00200 T loop_init
ffffffff81a00213 t odd_start_init
ffffffff81a00300 d some_data
`;

Deno.test("bootChart() puts initcalls, early-boot steps and services on their lanes", () => {
  const c = bootChart(DMESG, 1.5, symbolizer(MAP));
  assert.equal(c.initAt, 0.9);
  assert.equal(c.icenetInitAt, 1.25);
  const byName = Object.fromEntries(c.bars.map((b) => [b.name, b]));
  assert.deepEqual(byName["ahci_pci_driver_init"], {
    lane: "kernel",
    name: "ahci_pci_driver_init",
    start: 0.1,
    end: 0.35,
  });
  assert.equal(byName["loop_init"].lane, "kernel");
  assert.deepEqual(byName["proc and dev"], {
    lane: "preinit",
    name: "proc and dev",
    start: 0.9,
    end: 1,
  });
  assert.deepEqual(byName["data partition mounted"].start, 1);
  assert.deepEqual([byName["clock"].start, byName["clock"].end], [1.26, 1.29]);
  assert.deepEqual([byName["setup"].start, byName["setup"].end], [1.31, 1.32]); // a oneshot
  // Started but never ready when the log was read: drawn up to the login.
  assert.deepEqual(byName["dropbear (not ready)"].end, 1.5);
});

Deno.test("symbolizer() names exact text addresses only, and leaves names alone", () => {
  const name = symbolizer(MAP);
  assert.equal(name("0xffffffff81a00200"), "loop_init");
  assert.equal(name("0xffffffff81a00300"), "0xffffffff81a00300"); // data, not code
  assert.equal(name("0xffffffff81a00202"), "0xffffffff81a00202"); // not a function start
  assert.equal(name("0xffffffff81a00201"), "loop_init"); // a Thumb-2 pointer (bit 0 set)
  assert.equal(name("0xffffffff81a00213"), "odd_start_init"); // x86 -Os: any byte
  assert.equal(name("loop_init"), "loop_init");
  assert.equal(symbolizer("")("0x10"), "0x10");
});

Deno.test("timeSinks() ranks bars and names each uncovered stretch by what ends it", () => {
  const sinks = timeSinks(bootChart(DMESG, 1.5, symbolizer(MAP)));
  const get = (what: string) => sinks.find((s) => s.what === what)?.seconds;
  assert.equal(sinks[0].what, "before: Run /sbin/init as init process");
  assert.ok(Math.abs(sinks[0].seconds - 0.3) < 1e-9);
  assert.ok(Math.abs(get("kernel: ahci_pci_driver_init")! - 0.25) < 1e-9);
  assert.ok(
    Math.abs(get("before: Freeing unused kernel image (initmem) memory: 1052K")! - 0.249) < 1e-9,
  );
  assert.ok(Math.abs(get("before: kernel: ahci_pci_driver_init")! - 0.1) < 1e-9);
  // Covered time is not counted again: the sinks that are gaps, plus the union of the
  // bars, add up to the boot (less stretches under half a millisecond, not listed).
  const gaps = sinks.filter((s) => s.what.startsWith("before: ")).reduce(
    (a, s) => a + s.seconds,
    0,
  );
  assert.ok(Math.abs(gaps + 0.25 + 0.0009 + 0.1 + 0.2 + 0.03 + (1.5 - 1.3) - 1.5) < 1e-3);
  // An initcall's log line is named like its bar (it can end a stretch).
  const { lines } = bootChart(DMESG, 1.5, symbolizer(MAP));
  assert.ok(lines.some((l) => l.text === "initcall loop_init returned"));
  for (let i = 1; i < sinks.length; i++) assert.ok(sinks[i - 1].seconds >= sinks[i].seconds);
});

Deno.test("bootChartSvg() is well-formed XML with a row per visible bar, names escaped", async () => {
  const c = bootChart(DMESG.replace("proc and dev", "proc & <dev>"), 1.5, symbolizer(MAP));
  const svg = bootChartSvg(c, "zima on q35 (tcg)");
  const lint = await new Deno.Command("xmllint", { args: ["--noout", "-"], stdin: "piped" })
    .spawn();
  const w = lint.stdin.getWriter();
  await w.write(new TextEncoder().encode(svg));
  await w.close();
  assert.equal((await lint.status).code, 0, "xmllint --noout");
  assert.match(svg, /proc &#38; &#60;dev&#62;/);
  // 4 phase rows + every visible bar; the 0.9 ms initcall is below the cut.
  const visible = visibleBars(c);
  assert.ok(!visible.some((b) => b.name === "loop_init"));
  assert.equal((svg.match(/<rect [^>]*><title>/g) ?? []).length, 4 + visible.length);
});
