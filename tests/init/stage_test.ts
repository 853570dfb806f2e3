/**
 * The init stage (tasks/init.ts) through the real runner for every board: a static
 * binary of the board's architecture, under 150 KB, with icenetctl beside it, that
 * really supervises (run natively or under qemu-user).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildFor } from "../userland/_build.ts";
import { parseStatus, Sandbox, waitFor } from "./_harness.ts";

const BOARDS = [
  { board: "zima", machine: 62, qemu: [] as string[] },
  { board: "rpi", machine: 183, qemu: ["qemu-aarch64-static"] },
  { board: "rpi32", machine: 40, qemu: ["qemu-arm-static"] },
];

/** ELF e_machine and whether a PT_INTERP header (dynamic loader) exists. */
function elfInfo(bytes: Uint8Array): { machine: number; interp: boolean } {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  assert.equal(v.getUint32(0), 0x7f454c46, "not an ELF file");
  const is64 = bytes[4] === 2;
  const machine = v.getUint16(18, true);
  const phoff = is64 ? Number(v.getBigUint64(32, true)) : v.getUint32(28, true);
  const phentsize = v.getUint16(is64 ? 54 : 42, true), phnum = v.getUint16(is64 ? 56 : 44, true);
  let interp = false;
  for (let i = 0; i < phnum; i++) if (v.getUint32(phoff + i * phentsize, true) === 3) interp = true;
  return { machine, interp };
}

for (const b of BOARDS) {
  Deno.test(`init stage: ${b.board} gets a static icenet-init that supervises`, async (t) => {
    const out = (await buildFor(b.board, ["init"])).get("init")!.out!;
    const bin = join(out, "sbin", "icenet-init");
    await t.step("static, the board's machine, under 150 KB", async () => {
      const bytes = await Deno.readFile(bin);
      assert.deepEqual(elfInfo(bytes), { machine: b.machine, interp: false });
      assert.ok(bytes.length < 150 * 1024, `${bytes.length} bytes`);
      assert.equal(await Deno.readLink(join(out, "sbin", "icenetctl")), "icenet-init");
    });
    await t.step("it runs a service and obeys icenetctl poweroff", async () => {
      const box = await Sandbox.create();
      try {
        await box.service("one", { command: "/bin/true", type: "oneshot" });
        const [cmd, ...pre] = [...b.qemu, bin];
        const p = new Deno.Command(cmd, {
          args: [
            ...pre,
            "--supervise",
            box.services,
            "--run-dir",
            join(box.dir, "run"),
            "--log-dir",
            box.logDir,
          ],
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const ctl = (...args: string[]) =>
          new Deno.Command(b.qemu[0] ?? bin, {
            args: [...(b.qemu.length ? [bin] : []), "ctl", "-s", box.control, ...args],
          })
            .output();
        const st = await waitFor("one done", async () => {
          const r = await ctl("status");
          const s = parseStatus(new TextDecoder().decode(r.stdout));
          return s.get("one")?.state === "done" ? s : undefined;
        });
        assert.equal(st.get("one")!.last, "exit:0");
        assert.equal(new TextDecoder().decode((await ctl("poweroff")).stdout), "ok: poweroff\n");
        const r = await p.output();
        assert.equal(r.code, 0);
        assert.match(new TextDecoder().decode(r.stderr), /info: all services stopped/);
      } finally {
        await box.remove();
      }
    });
  });
}
