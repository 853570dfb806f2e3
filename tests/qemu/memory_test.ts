/**
 * The idle-memory breakdown of the boot report, on /proc/meminfo and /proc/zoneinfo as
 * an rpi image (raspi3b, 1 GiB) showed them 10 s after login.
 */
import assert from "node:assert/strict";
import { memoryBreakdown, memUsedKiB } from "../../lib/qemu/report.ts";

const fixture = (name: string) =>
  Deno.readTextFileSync(new URL(`./fixtures/${name}`, import.meta.url));

Deno.test("memory breakdown: what holds idle memory, and the watermark reserve", () => {
  const meminfo = fixture("rpi-idle.meminfo"), zoneinfo = fixture("rpi-idle.zoneinfo");
  // The idle figure: 956920 - 932556 KiB.
  assert.equal(memUsedKiB(meminfo), 24364);
  assert.deepEqual(memoryBreakdown(meminfo, zoneinfo), {
    held: 16.9, // 956920 - 936372 - 476 - 2736 KiB
    perCpuFree: 0.7, // the fixture keeps CPU 0's list: 185 pages
    slab: 7.3,
    kernelStacks: 1.2,
    pageTables: 0.2,
    vmalloc: 2,
    anon: 0.3,
    reserve: 5.7, // the DMA zone's high watermark, 1465 pages; not the per-CPU "high:"
  });
});

Deno.test("memory breakdown: a field missing from /proc/meminfo is named", () => {
  assert.throws(() => memoryBreakdown("MemTotal: 1 kB\n", ""), /\/proc\/meminfo has no MemFree/);
});
