/**
 * The update stage for every board: a static icenet-update of the board's architecture,
 * which installs a bundle and arms the trial when run there (qemu-user for the Pi
 * boards: the 32-bit ARM build is the one Deno could not have been).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ARCHES, buildFor, elfInfo } from "../userland/_build.ts";
import { Rig } from "./_rig.ts";

for (const a of ARCHES) {
  Deno.test(`update stage: ${a.board} gets a static ${a.arch} icenet-update that installs a bundle`, async () => {
    const out = (await buildFor(a.board, ["update"])).get("update")!.out!;
    const bin = join(out, "sbin", "icenet-update");
    const elf = await elfInfo(bin);
    assert.equal(elf.machine, a.machine);
    assert.equal(elf.interp, undefined, "dynamically linked");
    const size = (await Deno.stat(bin)).size;
    assert.ok(size < 200 * 1024, `${size} bytes`);
    await using rig = await Rig.create("u-boot", 8 << 20, [...a.emulator, bin]);
    const b = await rig.bundle({ version: "2.0", serial: 2, rootBytes: 2 << 20 });
    const r = await rig.run(["install", b.path]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await rig.fwPrintenv()).icenet_trial, "b");
    const bad = await rig.bundle({ version: "3.0", serial: 3, board: "other" });
    assert.match((await rig.run(["install", bad.path])).stderr, /bundle is for board other/);
  });
}
