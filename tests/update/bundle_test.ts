/**
 * Bundles (lib/update/): the format, reproducible bytes, the signature a device checks,
 * each slot's command line; and the C unit tests of update/ (make check).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { manifestText, writeBundle } from "../../lib/update/bundle.ts";
import { slotCmdline, slotPayloads } from "../../lib/update/slot.ts";
import type { Board } from "../../lib/board.ts";
import type { ImagePlan } from "../../lib/image/plan.ts";
import type { DiskPlan } from "../../lib/image/layout.ts";
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

Deno.test("slotCmdline() gives each slot its own root= and icenet.slot=", () => {
  const disk = {
    table: "mbr",
    labelId: "0x1a2b3c4d",
    partitions: [
      { number: 1, fs: "vfat", uuid: "u1" },
      { number: 2, fs: "squashfs", uuid: "u2" },
      { number: 3, fs: "squashfs", uuid: "u3" },
    ],
  } as unknown as DiskPlan;
  const line = "console=ttyS0 root=PARTUUID=1a2b3c4d-02 ro icenet.slot=a";
  assert.equal(
    slotCmdline(line, disk, "a"),
    "console=ttyS0 root=PARTUUID=1a2b3c4d-02 ro icenet.slot=a",
  );
  assert.equal(
    slotCmdline(line, disk, "b"),
    "console=ttyS0 root=PARTUUID=1a2b3c4d-03 ro icenet.slot=b",
  );
  assert.equal(
    slotCmdline(line, { ...disk, partitions: disk.partitions.slice(0, 2) }, "b"),
    undefined,
  );
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

Deno.test("slotPayloads() bundles what the plan puts in slot-a/, with slot b's own command line", async () => {
  const disk = {
    table: "mbr",
    labelId: "0x1a2b3c4d",
    partitions: [
      { number: 1, fs: "vfat", uuid: "u1" },
      { number: 2, fs: "squashfs", uuid: "u2" },
      { number: 3, fs: "squashfs", uuid: "u3" },
    ],
  } as unknown as DiskPlan;
  const cmdline = "console=ttyAMA0 root=PARTUUID=1a2b3c4d-02 ro icenet.slot=a panic=5";
  const board = {
    boot: { kernelName: "kernel8.img" },
    kernel: { dtbs: ["broadcom/bcm2837-rpi-3-b.dtb"] },
  } as unknown as Board;
  const plan = {
    disk,
    cmdline,
    files: [
      { path: "config.txt", text: "kernel=u-boot.bin\n" },
      { path: "slot-a/kernel8.img", kernel: true },
      { path: "slot-a/broadcom/bcm2837-rpi-3-b.dtb", dtb: "bcm2837-rpi-3-b.dtb" },
      { path: "slot-a/cmdline.env", text: `bootargs=${cmdline}\n` },
    ],
  } as unknown as ImagePlan;
  const tmp = await Deno.makeTempDir();
  try {
    const { payloads, missing } = await slotPayloads(
      board,
      plan,
      { kernel: "/k", rootfs: "/r" },
      tmp,
    );
    assert.deepEqual(missing, []);
    assert.deepEqual(payloads.map((p) => p.name), [
      "root",
      "slot/kernel8.img",
      "slot/broadcom/bcm2837-rpi-3-b.dtb",
      "slot-a/cmdline.env",
      "slot-b/cmdline.env",
    ]);
    assert.equal(payloads[2].path, "/k/dtbs/bcm2837-rpi-3-b.dtb");
    assert.equal(await Deno.readTextFile(payloads[3].path), `bootargs=${cmdline}\n`);
    assert.equal(
      await Deno.readTextFile(payloads[4].path),
      "bootargs=console=ttyAMA0 root=PARTUUID=1a2b3c4d-03 ro panic=5 icenet.slot=b\n",
    );
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
