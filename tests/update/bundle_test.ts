/**
 * Bundles (lib/update/): the format, reproducible bytes, the signature a device checks,
 * each slot's command line; and the C unit tests of update/ (make check).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { manifestText, writeBundle } from "../../lib/update/bundle.ts";
import { slotPayloads } from "../../lib/update/slot.ts";
import { writeKernelArgs } from "../../lib/rootfs/kernel_args.ts";
import { loadBoard } from "../../lib/board.ts";
import { planImage } from "../../lib/image/plan.ts";
import { updateConf } from "../../lib/update/conf.ts";
import { buildTool, newKey, ROOT, TOOL } from "./_rig.ts";

Deno.test("writeBundle() gives the same bytes for the same inputs and key, in the documented layout", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "root"), "squashfs bytes\n");
    await Deno.writeTextFile(join(dir, "k"), "kernel\n");
    const key = await newKey();
    const spec = {
      board: "rpi",
      version: "1.2",
      serial: 12,
      kernel: "kernel8.img",
      payloads: [
        { name: "slot/kernel8.img", path: join(dir, "k") },
        { name: "root", path: join(dir, "root") },
      ],
    };
    const a = await writeBundle(join(dir, "a"), spec, key.privateFile);
    const b = await writeBundle(join(dir, "b"), spec, key.privateFile);
    assert.equal(a.sha256, b.sha256);
    const text = await Deno.readTextFile(join(dir, "a"));
    assert.match(
      text,
      /^icenet-bundle 1\nboard rpi\nversion 1\.2\nserial 12\nkernel kernel8\.img\npayload root 15 [0-9a-f]{64}\npayload slot\/kernel8\.img 7 [0-9a-f]{64}\nend\nsignature ed25519 [0-9a-f]{16} \S{88}\nsquashfs bytes\nkernel\n$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("manifestText() refuses what the device would refuse", async (t) => {
  const spec = { board: "rpi", version: "1", serial: 1, kernel: "k" };
  const h = "0".repeat(64);
  const rows: [string, Parameters<typeof manifestText>, RegExp][] = [
    ["root first", [spec, [{ name: "slot/k", size: 1, sha256: h }]], /first payload must be root/],
    ["no escape", [spec, [{ name: "root", size: 1, sha256: h }, {
      name: "slot/../x",
      size: 1,
      sha256: h,
    }]], /payload name "slot\/\.\.\/x" not allowed/],
    ["kernel among payloads", [spec, [{ name: "root", size: 1, sha256: h }]], /kernel k is not/],
    ["version words", [{ ...spec, version: "1 2" }, []], /version "1 2"/],
    ["serial", [{ ...spec, serial: -1 }, []], /serial -1/],
  ];
  for (const [name, args, re] of rows) {
    await t.step(name, () => assert.throws(() => manifestText(...args), re));
  }
});

Deno.test("make -C update check passes the C unit tests", async () => {
  await buildTool();
  const sodium = join(ROOT, "update/build/host/src/libsodium-1.0.18");
  const r = await $`make -s -C ${join(ROOT, "update")} BUILD=build/host ${`SODIUM=${sodium}`} check`
    .stdout("piped").stderr("piped").noThrow();
  assert.equal(r.code, 0, r.stdout + r.stderr);
  for (const t of ["test_uenv", "test_manifest", "test_conf"]) {
    assert.match(r.stdout, new RegExp(`${t}: \\d+ checks, 0 failed`));
  }
});

Deno.test("updateConf() writes what icenet-update parses", async (t) => {
  await buildTool();
  const rows: Parameters<typeof updateConf>[0][] = [
    { board: "rpi32", bootloader: "u-boot", ubootEnvSize: 0x4000 },
    { board: "zima", bootloader: "systemd-boot", tries: 2 },
  ];
  for (const c of rows) {
    await t.step(c.board, async () => {
      const file = await Deno.makeTempFile();
      await Deno.writeTextFile(file, updateConf(c));
      // No A/B disk here: the config parses, then finding the devices fails, naming them.
      const r = await $`${TOOL} -c ${file} status`.stdout("piped").stderr("piped").noThrow();
      await Deno.remove(file);
      assert.equal(r.code, 111);
      assert.match(r.stderr, /cannot find the disk of the running system|has no partition/);
    });
  }
  assert.throws(() => updateConf({ board: "rpi", bootloader: "u-boot" }), /needs ubootEnvSize/);
});

Deno.test("slotPayloads(): each board's slot files once, the command line per slot with its own root", async (t) => {
  for (const name of ["zima", "rpi"]) {
    await t.step(name, async () => {
      const board = await loadBoard(ROOT, name);
      const disk = planImage(board).disk;
      const tmp = await Deno.makeTempDir();
      try {
        // The image's own kernel arguments, kept beside its root (lib/rootfs/kernel_args.ts).
        const rootfs = join(tmp, "r");
        await Deno.mkdir(rootfs);
        await writeKernelArgs(rootfs, ["quiet", "rootdelay=2"]);
        const src = { kernel: "/k", rootfs, image: "/i" };
        const payloads = await slotPayloads(board, disk, src, tmp);
        const names = payloads.map((p) => p.name);
        const k = board.boot.kernelName;
        if (name === "zima") {
          // Signed UKIs, one per slot (each holds its command line), from the image stage.
          assert.deepEqual(names.slice(0, 3), ["root", `slot-a/${k}`, `slot-b/${k}`]);
          assert.equal(payloads[1].path, `/i/slots/slot-a/${k}`);
          assert.equal(payloads[2].path, `/i/slots/slot-b/${k}`);
          await assert.rejects(
            slotPayloads(board, disk, { kernel: "/k", rootfs }, tmp),
            /slot file vmlinuz is a signed UKI: the image stage's output holds it/,
          );
        } else {
          assert.deepEqual(names.slice(0, 2), ["root", `slot/${k}`]);
          assert.equal(payloads[1].path, `/k/${k}`);
        }
        assert.equal(payloads[0].path, `${rootfs}/root.squashfs`);
        const lines = [];
        for (const [slot, n] of [["a", 2], ["b", 3]] as const) {
          // cmdline.txt (systemd-boot's entries), cmdline.env (U-Boot's bootargs=).
          const p = payloads.find((p) =>
            new RegExp(`^slot-${slot}/cmdline\\.(txt|env)$`).test(p.name)
          );
          assert.ok(p, `slot-${slot}/cmdline.* in ${names}`);
          const line = await Deno.readTextFile(p.path);
          const root = disk.partitions[n - 1];
          assert.equal(root.name, `root-${slot}`);
          assert.match(
            line,
            new RegExp(`root=PARTUUID=${disk.table === "gpt" ? root.uuid : `[0-9a-f]{8}-0${n}`} `),
          );
          // The board's own arguments (zima's libata flag), then the image's.
          const args = [`icenet.slot=${slot}`, ...board.boot.args, "quiet", "rootdelay=2"];
          assert.ok(line.endsWith(` ${args.join(" ")}\n`), line);
          lines.push(line);
        }
        assert.notEqual(lines[0], lines[1]);
        // Device trees (Pi) are the same in both slots.
        for (const d of board.kernel.dtbs) {
          assert.ok(
            names.some((n) => n.startsWith("slot/") && n.endsWith(`/${d.split("/").pop()}`)),
            d,
          );
        }
      } finally {
        await Deno.remove(tmp, { recursive: true });
      }
    });
  }
});
