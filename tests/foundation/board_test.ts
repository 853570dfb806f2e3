import assert from "node:assert/strict";
import { boardNames, BoardSchema, loadBoard } from "../../lib/board.ts";
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
      /rpi\.yaml:\d+: partitions\.list\.2\.fs: Invalid option/,
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
