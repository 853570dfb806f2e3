// `size: auto` (lib/image/sizing.ts) and its use in planDisk: the headroom rule, slot b
// the size of slot a, fixed sizes checked against the content, overrides of an image
// definition, and the errors naming partition and sizes.
import assert from "node:assert/strict";
import { loadBoard } from "../../lib/board.ts";
import { MiB, type PartitionSpec, planDisk } from "../../lib/image/layout.ts";
import { planImage } from "../../lib/image/plan.ts";
import { AUTO_FLOOR, autoBytes } from "../../lib/image/sizing.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

const LIST: PartitionSpec[] = [
  { name: "boot", size: "auto", fs: "vfat", type: "esp" },
  { name: "root-a", size: "auto", fs: "squashfs", type: "linux" },
  { name: "root-b", size: "auto", fs: "squashfs", type: "linux" },
  { name: "data", size: "16M", fs: "ext4", type: "linux" },
];

Deno.test("autoBytes() is content × 1.5 rounded up to 8 MiB, at least 16 MiB", async (t) => {
  const rows: [string, { bytes: number; slot?: number }, number][] = [
    ["empty: the floor", { bytes: 0 }, AUTO_FLOOR],
    ["1.2 MiB root (rpi32): the floor", { bytes: 1265664 }, 16 * MiB],
    ["40 MB root (zima): 57.3 MiB -> 64", { bytes: 40087552 }, 64 * MiB],
    ["exactly 16 MiB × 1.5 = 24 MiB: no rounding", { bytes: 16 * MiB }, 24 * MiB],
    ["one byte more: the next step", { bytes: 16 * MiB + 1 }, 32 * MiB],
    // Shared 6 MiB + slot 8 MiB (counted three times: 6 + 24 = 30) × 1.5 = 45 -> 48.
    ["boot: slot a's files count three times", { bytes: 14 * MiB, slot: 8 * MiB }, 48 * MiB],
  ];
  for (const [name, c, want] of rows) {
    await t.step(name, () => assert.equal(autoBytes(c), want));
  }
});

Deno.test("planDisk() sizes auto partitions from their content, slot b as slot a", () => {
  const root = { bytes: 40087552 };
  const plan = planDisk({ table: "gpt", list: LIST }, "x", {
    boot: { bytes: 3325395, slot: 3180977 },
    "root-a": root,
    "root-b": root,
  });
  assert.deepEqual(plan.partitions.map((p) => p.bytes / MiB), [16, 64, 64, 16]);
  assert.deepEqual(plan.partitions.map((p) => p.start / MiB), [1, 17, 81, 145]);
  assert.equal(plan.size, (1 + 16 + 64 + 64 + 16 + 1) * MiB);
  // Without content (a board checked before it builds): the floor, the same identifiers.
  const unsized = planDisk({ table: "gpt", list: LIST }, "x");
  assert.deepEqual(unsized.partitions.map((p) => p.bytes), LIST.map(() => AUTO_FLOOR));
  assert.deepEqual(unsized.partitions.map((p) => p.uuid), plan.partitions.map((p) => p.uuid));
});

Deno.test("planDisk() refuses content that does not fit a fixed size, and auto on an empty fs", async (t) => {
  const fixed = LIST.map((p) => p.name.startsWith("root") ? { ...p, size: "32M" } : p);
  const rows: [string, () => unknown, RegExp][] = [
    [
      "a root too big for its fixed slot",
      () => planDisk({ table: "gpt", list: fixed }, "x", { "root-a": { bytes: 40087552 } }),
      /partition "root-a": its content \(38\.2 MiB, 40087552 bytes\) does not fit its size 32M \(33554432 bytes\): raise the size, or make it auto/,
    ],
    [
      "auto on the data ext4",
      () =>
        planDisk({ table: "gpt", list: [{ ...LIST[3], size: "auto" }] }, "x", {
          data: { bytes: 0 },
        }),
      /partition "data": size auto sizes a partition from its content, and its ext4 partition is empty in the image: give a size/,
    ],
  ];
  for (const [name, f, msg] of rows) await t.step(name, () => assert.throws(f, msg));
  await t.step("a root that fits its fixed slot keeps the fixed size", () => {
    const plan = planDisk({ table: "gpt", list: fixed }, "x", { "root-a": { bytes: 20 << 20 } });
    assert.equal(plan.partitions[1].bytes, 32 * MiB);
  });
});

Deno.test("planImage() applies an image definition's fixed sizes and auto over the board's", async () => {
  const board = await loadBoard(ROOT, "zima");
  const root = { bytes: 40087552 };
  const content = { boot: { bytes: 4 << 20, slot: 4 << 20 }, "root-a": root, "root-b": root };
  const auto = planImage(board, {}, undefined, [], content).disk;
  assert.deepEqual(auto.partitions.map((p) => p.bytes / MiB), [24, 64, 64, 16]);
  const sized =
    planImage(board, { "root-a": "128M", "root-b": "128M", data: "256M" }, undefined, [], content)
      .disk;
  assert.deepEqual(sized.partitions.map((p) => p.bytes / MiB), [24, 128, 128, 256]);
  assert.throws(
    () => planImage(board, { "root-a": "32M" }, undefined, [], content),
    /partition "root-a": its content \(38\.2 MiB, 40087552 bytes\) does not fit its size 32M/,
  );
});
