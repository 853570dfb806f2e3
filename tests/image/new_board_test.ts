/**
 * A new board of an existing kind is data: in a copy of this checkout, one YAML file
 * and one kernel fragment (an arm64 Pi that reuses rpi's kernel source with another
 * device tree, and no QEMU model) give a board whose stages plan through the image and
 * whose image plan is complete — with no code changed. A wrong boot loader or a device
 * tree the kernel does not build is an error naming the file, line and field.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { type Board, BoardSchema, loadBoard, qemuMachine, qemuMachines } from "../../lib/board.ts";
import { planImage } from "../../lib/image/plan.ts";
import { KERNEL_SOURCE } from "../../lib/kernel_source.ts";
import { planStages } from "../../lib/runner.ts";
import type { Stage } from "../../lib/stage.ts";
import { parseYaml } from "../../lib/yaml_file.ts";
import { copyCheckout } from "../_checkout.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const rpi = Deno.readTextFileSync(join(ROOT, "boards/rpi.yaml"));

/** boards/rpi.yaml made into `pi3a`: the Pi 3 A+ tree only, and no QEMU model. */
function pi3aYaml(): string {
  const text = rpi
    .replace(/^name: rpi$/m, "name: pi3a")
    .replace(/^description: .*$/m, "description: Raspberry Pi 3 A+, 64-bit (a sketch)")
    .replace("fragment: kernel/rpi.config", "fragment: kernel/pi3a.config")
    .replace(/ {2}dtbs:\n( {4}- .*\n)+/, "  dtbs:\n    - broadcom/bcm2837-rpi-3-a-plus.dtb\n")
    .replace(
      / {2}filters:\n( {4}- .*\n)+/,
      '  filters:\n    - { dtb: bcm2837-rpi-3-a-plus.dtb, filter: "pi3+" }\n',
    )
    .replace(/\nqemu:\n[\s\S]*$/, "\n");
  assert.ok(!text.includes("qemu:") && text.includes("bcm2837-rpi-3-a-plus"), "rewritten");
  return text;
}

Deno.test("a new board is one YAML file and one kernel fragment: stages and image plan", async () => {
  const copy = await copyCheckout();
  try {
    await Deno.writeTextFile(join(copy, "boards/pi3a.yaml"), pi3aYaml());
    await Deno.copyFile(join(copy, "kernel/rpi.config"), join(copy, "kernel/pi3a.config"));
    const board = await loadBoard(copy, "pi3a");

    // The stages, from the copy's own registry: the kernel builds the board's fragment
    // from rpi's kernel source, and the image stage fetches the board's firmware.
    const { loadStages } = await import(pathToFileURL(join(copy, "lib/registry.ts")).href);
    const stages: Stage[] = await loadStages(board, copy);
    const plan = planStages(stages, ["image"], board.name).map((s) => s.name);
    for (const s of ["kernel", "rootfs", "image"]) assert.ok(plan.includes(s), s);
    assert.ok(!plan.includes("qemu"), "no QEMU model, no qemu stage");
    const kernel = stages.find((s) => s.name === "kernel")!;
    assert.deepEqual(kernel.inputs, ["kernel/base.config", "kernel/pi3a.config"]);
    assert.equal(kernel.sources.linux.sha256, KERNEL_SOURCE.sha256);
    const image = stages.find((s) => s.name === "image")!;
    assert.deepEqual(Object.keys(image.sources), ["raspi-firmware", "u-boot"]);

    // The image plan: the layout, the command line and every boot file.
    const img = planImage(board);
    assert.deepEqual(img.disk.partitions.map((p) => p.name), ["boot", "root-a", "root-b", "data"]);
    assert.match(img.cmdline, /^console=tty1 console=ttyS1,115200 root=PARTUUID=[0-9a-f]{8}-02 /);
    const paths = img.files.map((f) => f.path);
    for (
      const f of [
        "slot-a/kernel8.img",
        "bcm2837-rpi-3-a-plus.dtb",
        "config.txt",
        "boot.scr",
        "slot-a/cmdline.env",
      ]
    ) {
      assert.ok(paths.includes(f), f);
    }
    const config = img.files.find((f) => f.path === "config.txt")!;
    assert.ok("text" in config);
    assert.match(config.text, /\n\[pi3\+\]\ndevice_tree=bcm2837-rpi-3-a-plus\.dtb\n\n\[all\]\n$/);

    // Built and checked by layout only: boot tests skip it, saying why.
    assert.deepEqual(qemuMachines(board), []);
    assert.throws(() => qemuMachine(board), /boards\/pi3a\.yaml: qemu: none \(no QEMU model/);
  } finally {
    await Deno.remove(copy, { recursive: true });
  }
});

/** The line of `needle` in `text` (1-based). */
function lineOf(text: string, needle: string): number {
  return text.slice(0, text.indexOf(needle)).split("\n").length;
}

Deno.test("a board's boot and device-tree mistakes name file, line and field", async (t) => {
  const rows: [string, string, RegExp][] = [
    [
      "unknown boot loader",
      rpi.replace("loader: u-boot", "loader: grub"),
      new RegExp(
        `rpi\\.yaml:${
          lineOf(rpi, "loader:")
        }: boot\\.loader: unknown boot loader "grub" \\(have: rpi-firmware, systemd-boot, u-boot\\)`,
      ),
    ],
    [
      "a config.txt filter for a tree the kernel does not build",
      rpi.replace("{ dtb: bcm2711-rpi-4-b.dtb", "{ dtb: bcm2712-rpi-5-b.dtb"),
      new RegExp(
        `rpi\\.yaml:${
          lineOf(rpi, "{ dtb: bcm2711-rpi-4-b.dtb")
        }: boot\\.filters\\.2\\.dtb: device tree "bcm2712-rpi-5-b\\.dtb" is not built \\(kernel\\.dtbs has:`,
      ),
    ],
    [
      "a built tree without a config.txt filter",
      rpi.replace(/ {4}- \{ dtb: bcm2711-rpi-cm4-io\.dtb.*\n/, ""),
      new RegExp(
        `rpi\\.yaml:${
          lineOf(rpi, "  filters:")
        }: boot\\.filters: no config\\.txt filter for device tree "bcm2711-rpi-cm4-io\\.dtb"`,
      ),
    ],
    [
      "a QEMU machine's tree the kernel does not build",
      rpi.replace("dtb: bcm2837-rpi-3-b.dtb\n  console", "dtb: bcm2837-rpi-3-a.dtb\n  console"),
      new RegExp(
        `rpi\\.yaml:${
          lineOf(rpi, "dtb: bcm2837-rpi-3-b.dtb\n  console")
        }: qemu\\.dtb: device tree "bcm2837-rpi-3-a\\.dtb" is not built`,
      ),
    ],
    [
      "a field of another boot kind",
      rpi.replace("  firmwareFiles:", "  efi: x\n  firmwareFiles:"),
      new RegExp(
        `rpi\\.yaml:${
          lineOf(rpi, "  firmwareFiles:")
        }: boot\\.efi: unknown field for boot loader u-boot \\(allowed: loader, kernelName, args, firmware,`,
      ),
    ],
    [
      "a firmware pin without its sha256",
      rpi.replace(/ {4}sha256: 0094.*\n/, ""),
      /rpi\.yaml:\d+: boot\.firmware\.sha256: expected string, received undefined/,
    ],
  ];
  for (const [name, text, re] of rows) {
    await t.step(name, () => assert.throws(() => parseYaml("rpi.yaml", text, BoardSchema), re));
  }
});

Deno.test("systemd-boot refuses an architecture UEFI has no loader name for", () => {
  const zima = Deno.readTextFileSync(join(ROOT, "boards/zima.yaml"));
  const armv7 = zima.replace("arch: x86_64", "arch: armv7");
  assert.throws(
    () => parseYaml("zima.yaml", armv7, BoardSchema) as Board,
    new RegExp(
      `zima\\.yaml:${
        lineOf(zima, "arch: x86_64")
      }: arch: systemd-boot needs x86_64 or aarch64, not armv7`,
    ),
  );
});
