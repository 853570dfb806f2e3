import assert from "node:assert/strict";
import { boardNames, BoardSchema, loadBoard, qemuMachine, qemuMachines } from "../../lib/board.ts";
import { parseYaml } from "../../lib/yaml_file.ts";

const root = new URL("../..", import.meta.url).pathname;
const rpi = Deno.readTextFileSync(`${root}/boards/rpi.yaml`);

Deno.test("loadBoard() loads every board in boards/", async () => {
  assert.deepEqual(boardNames(root), ["rpi", "rpi32", "zima"]);
  for (const n of boardNames(root)) assert.equal((await loadBoard(root, n)).name, n);
});

Deno.test("parseYaml() names file, line and field of a bad board", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["bad enum", rpi.replace("arch: aarch64", "arch: arm65"), /rpi\.yaml:5: arch: Invalid option/],
    [
      "unknown field",
      rpi.replace("arch: aarch64", "arch: aarch64\nfoo: 1"),
      /rpi\.yaml:6: foo: unknown field \(allowed: name, description, arch, triple,/,
    ],
    [
      "nested field",
      rpi.replace("fs: ext4", "fs: ext5"),
      /rpi\.yaml:\d+: partitions\.list\.3\.fs: Invalid option/,
    ],
    [
      "missing field",
      rpi.replace(/^triple: .*\n/m, ""),
      /rpi\.yaml:3: triple: expected string, received undefined/,
    ],
    ["bad yaml", "name: [rpi\n", /rpi\.yaml:2: Flow sequence/],
  ];
  for (const [name, text, re] of cases) {
    await t.step(name, () => assert.throws(() => parseYaml("rpi.yaml", text, BoardSchema), re));
  }
});

Deno.test("loadBoard() rejects an unknown board naming the known ones", async () => {
  await assert.rejects(loadBoard(root, "pi5"), /unknown board "pi5" \(have: rpi, rpi32, zima\)/);
});

Deno.test("qemuMachines() lists the default machine first; others inherit what they leave out", async () => {
  const rpi = await loadBoard(root, "rpi");
  const [pi3, pi4] = qemuMachines(rpi);
  assert.deepEqual(
    [pi3.machine, pi3.label, pi3.from, pi3.memory, pi3.dtb],
    ["raspi3b", "rpi", "host", "1G", "bcm2837-rpi-3-b.dtb"],
  );
  assert.deepEqual([pi3.disableNodes, pi3.deleteProperties, pi3.serialConsole], [
    [],
    [],
    undefined,
  ]);
  assert.deepEqual(pi3.devices, []);
  assert.deepEqual(
    [pi4.machine, pi4.label, pi4.from, pi4.memory, pi4.dtb],
    ["raspi4b", "rpi4", "stage", "2G", "bcm2711-rpi-4-b.dtb"],
  );
  // Inherited from the default machine.
  assert.equal(pi4.system, "qemu-system-aarch64");
  assert.equal(pi4.rootDevice, "/dev/mmcblk0p2");
  assert.ok(pi4.disableNodes.includes("/soc/interrupt-controller@7ef00100"));
  assert.deepEqual(pi4.deleteProperties, [{ node: "/soc/mmc@7e300000", property: "mmc-pwrseq" }]);
  assert.equal(pi4.serialConsole, "ttyAMA0");
  // The Pi 4 tree is one the kernel stage builds into the image.
  assert.ok(rpi.kernel.dtbs.some((d) => d.endsWith(`/${pi4.dtb}`)));
  for (const name of boardNames(root).filter((n) => n !== "rpi")) {
    const ms = qemuMachines(await loadBoard(root, name));
    assert.deepEqual(ms.map((m) => [m.label, m.from]), [[name, "host"]]);
  }
  // zima's q35 gets the watchdog its init feeds; QEMU's Pis reset when theirs is started.
  assert.deepEqual(qemuMachine(await loadBoard(root, "zima")).devices, ["i6300esb"]);
  assert.deepEqual(pi4.append, ["icenet.watchdog=off"]);
});

Deno.test("qemuMachine() picks a machine by name and names the board file for an unknown one", async () => {
  const rpi = await loadBoard(root, "rpi");
  assert.equal(qemuMachine(rpi).machine, "raspi3b");
  assert.equal(qemuMachine(rpi, "raspi4b").memory, "2G");
  assert.throws(
    () => qemuMachine(rpi, "raspi5"),
    /^Error: boards\/rpi\.yaml: qemu: no machine "raspi5" \(have: raspi3b, raspi4b\)$/,
  );
});

Deno.test("parseYaml() names file, line and field of a bad QEMU machine list", async (t) => {
  const others = rpi.indexOf("  others:");
  assert.ok(others > 0);
  const withOther = (entry: string) => rpi.replace("  others:\n", `  others:\n${entry}`);
  const line = (text: string) => text.slice(0, text.indexOf("  others:")).split("\n").length + 1;
  const cases: [string, string, (text: string) => RegExp][] = [
    [
      "a machine twice",
      withOther("    - { machine: raspi3b, label: again }\n"),
      (text) =>
        new RegExp(
          `rpi\\.yaml:${line(text)}: qemu\\.others\\.0\\.machine: "raspi3b" is used twice`,
        ),
    ],
    [
      "a label twice (the default's is the board name)",
      withOther("    - { machine: raspi3ap, label: rpi }\n"),
      (text) =>
        new RegExp(`rpi\\.yaml:${line(text)}: qemu\\.others\\.0\\.label: "rpi" is used twice`),
    ],
    [
      "no label",
      withOther("    - { machine: raspi3ap }\n"),
      (text) => new RegExp(`rpi\\.yaml:${line(text)}: qemu\\.others\\.0\\.label: expected string`),
    ],
    [
      "a node that is not a path",
      withOther("    - { machine: raspi3ap, label: a, disableNodes: [soc] }\n"),
      (text) =>
        new RegExp(
          `rpi\\.yaml:${line(text)}: qemu\\.others\\.0\\.disableNodes\\.0: a node path like`,
        ),
    ],
    [
      "an unknown QEMU source",
      withOther("    - { machine: raspi3ap, label: a, from: apt }\n"),
      (text) => new RegExp(`rpi\\.yaml:${line(text)}: qemu\\.others\\.0\\.from: Invalid option`),
    ],
  ];
  for (const [name, text, re] of cases) {
    await t.step(
      name,
      () => assert.throws(() => parseYaml("rpi.yaml", text, BoardSchema), re(text)),
    );
  }
});
