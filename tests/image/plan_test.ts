/**
 * The image plan of each board, file for file, against the boot partitions it is meant
 * to give (fixtures/boot/<board>/: `files.txt` as `mdir -/ -b` lists that partition, the
 * text files as they are). The fixtures were first copied out of the images built
 * before boards and boot paths became data, so that move changed no byte; since then
 * they change only with a reviewed change of layout (A/B slots: slot-a/; the Pi
 * boards' move to U-Boot).
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { boardNames, loadBoard } from "../../lib/board.ts";
import { planImage } from "../../lib/image/plan.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const FIXTURES = join(ROOT, "tests/image/fixtures/boot");

/** The firmware packages the images were made from (sha256 as pinned then). */
const PINNED: Record<string, Record<string, string>> = {
  rpi: {
    "raspi-firmware": "0094ced47a7fbb6a220ff83e7b43aa637a5d8f6802461e2e4e474597fb796f62",
    "u-boot": "3722f286cfafca03f4cac7adade04fccf66158ad8467501b9deabd154162b5e8",
  },
  rpi32: {
    "raspi-firmware": "0094ced47a7fbb6a220ff83e7b43aa637a5d8f6802461e2e4e474597fb796f62",
    "u-boot": "5a29b2fd040d43609a3f7eb9b5cb3ddd8fbe56a83332ebc469eada63dc81e787",
  },
  zima: { "systemd-boot-efi": "8f2b81bdcfafc466882a0cae460272dbf10d8d97c6a3c1c6ea33038c155a2f5e" },
};

Deno.test("planImage() gives each board the boot partition its released image has", async (t) => {
  const boards = boardNames(ROOT).filter((b) => PINNED[b]);
  assert.deepEqual(boards, ["rpi", "rpi32", "zima"]);
  for (const name of boards) {
    await t.step(name, async () => {
      const plan = planImage(await loadBoard(ROOT, name));
      const dirs = new Set<string>();
      for (const f of plan.files) {
        for (let d = dirname(f.path); d !== "."; d = dirname(d)) dirs.add(`${d}/`);
      }
      const listed = [...plan.files.map((f) => f.path), ...dirs].sort();
      const want = (await Deno.readTextFile(join(FIXTURES, name, "files.txt"))).trim().split("\n");
      assert.deepEqual(listed, want.sort());
      for (const f of plan.files) {
        if (!("text" in f)) continue;
        assert.equal(f.text, await Deno.readTextFile(join(FIXTURES, name, f.path)), f.path);
      }
      const sources = Object.fromEntries(
        Object.entries(plan.sources).map(([k, s]) => [k, s.sha256]),
      );
      assert.deepEqual(sources, PINNED[name]);
    });
  }
});
