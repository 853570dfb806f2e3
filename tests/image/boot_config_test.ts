import assert from "node:assert/strict";
import { loadBoard } from "../../lib/board.ts";
import { imageCmdline, kernelCmdline, partuuid } from "../../lib/boot/cmdline.ts";
import { planImage } from "../../lib/image/plan.ts";
import { ROOT } from "../../lib/registry.ts";
import { type Verity, verityTable } from "../../lib/rootfs/verity.ts";
import { configTxt } from "../../lib/boot/rpi_firmware.ts";
import { loaderConf, loaderEntry } from "../../lib/boot/systemd_boot.ts";

Deno.test("configTxt() sets 64-bit mode, the UART, the kernel and a tree per model", () => {
  const text = configTxt({
    arm64: true,
    kernel: "kernel8.img",
    filters: [
      { dtb: "bcm2837-rpi-3-b.dtb", filter: "pi3" },
      { dtb: "bcm2837-rpi-3-b-plus.dtb", filter: "pi3+" },
      { dtb: "bcm2711-rpi-4-b.dtb", filter: "pi4" },
    ],
  });
  const lines = text.split("\n");
  for (const l of ["arm_64bit=1", "enable_uart=1", "kernel=kernel8.img"]) {
    assert.ok(lines.includes(l), l);
  }
  // [pi3] before [pi3+] (the 3B+ matches both; the later section wins).
  assert.match(
    text,
    /\[pi3\]\ndevice_tree=bcm2837-rpi-3-b\.dtb\n\n\[pi3\+\]\ndevice_tree=bcm2837-rpi-3-b-plus\.dtb\n\n\[pi4\]\ndevice_tree=bcm2711-rpi-4-b\.dtb\n\n\[all\]\n$/,
  );
  const armv7 = configTxt({
    arm64: false,
    kernel: "kernel7.img",
    filters: [{ dtb: "bcm2836-rpi-2-b.dtb", filter: "pi2" }],
  });
  assert.ok(!armv7.includes("arm_64bit"));
  assert.match(armv7, /\[pi2\]\ndevice_tree=bcm2836-rpi-2-b\.dtb/);
});

Deno.test("kernelCmdline() boots the squashfs root read-only through /sbin/init", async (t) => {
  const rows: [string, Parameters<typeof kernelCmdline>[0], string][] = [
    [
      "rpi",
      {
        consoles: ["ttyS1,115200"],
        root: partuuid("mbr", "0x0a2b3c4d", 2, ""),
        data: "PARTUUID=0a2b3c4d-03",
      },
      "console=ttyS1,115200 root=PARTUUID=0a2b3c4d-02 rootfstype=squashfs ro rootwait init=/sbin/init sysctl.kernel.kptr_restrict=2 panic=5 icenet.data=PARTUUID=0a2b3c4d-03",
    ],
    [
      "zima",
      { consoles: ["ttyS0,115200"], root: partuuid("gpt", "", 2, "u-u"), extra: ["quiet"] },
      "console=ttyS0,115200 root=PARTUUID=u-u rootfstype=squashfs ro rootwait init=/sbin/init sysctl.kernel.kptr_restrict=2 panic=5 quiet",
    ],
  ];
  for (const [name, opts, want] of rows) {
    await t.step(name, () => assert.equal(kernelCmdline(opts), want));
  }
});

Deno.test("imageCmdline() with a verified root: /dev/dm-0 from the slot's partition, no rootwait", async () => {
  const board = await loadBoard(ROOT, "rpi");
  const disk = planImage(board).disk;
  const v: Verity = {
    dataBlocks: 10,
    hashOffset: 40960,
    hashBytes: 4096,
    algorithm: "sha256",
    salt: "ab".repeat(32),
    rootHash: "cd".repeat(32),
  };
  for (const slot of ["a", "b"] as const) {
    const plain = imageCmdline(board, disk, slot);
    const line = imageCmdline(board, disk, slot, v);
    const part = /root=(PARTUUID=\S+)/.exec(plain)![1];
    assert.ok(plain.includes(" rootwait "));
    assert.ok(!line.includes("rootwait"), line);
    assert.ok(line.includes(" root=/dev/dm-0 "), line);
    assert.ok(line.includes(`dm-mod.create="icenet-root,,0,ro,${verityTable(v, part)}"`), line);
    assert.ok(line.includes(` dm-mod.waitfor=${part} `), line);
    assert.ok(line.endsWith(`icenet.slot=${slot}`), line);
  }
});

Deno.test("imageCmdline(): the board's own arguments, then the image's", async () => {
  const zima = await loadBoard(ROOT, "zima");
  const line = imageCmdline(zima, planImage(zima).disk, "a", undefined, ["quiet"]);
  assert.ok(line.endsWith(" icenet.slot=a libata.force=nodbdelay quiet"), line);
  const rpi = await loadBoard(ROOT, "rpi");
  assert.ok(!imageCmdline(rpi, planImage(rpi).disk).includes("libata"));
});

Deno.test("loaderConf() and loaderEntry() write systemd-boot's formats", () => {
  assert.equal(loaderConf(), "timeout 0\neditor no\n");
  assert.equal(
    loaderEntry({ title: "IceNet-OS", linux: "/vmlinuz", options: "ro" }),
    "title IceNet-OS\nlinux /vmlinuz\noptions ro\n",
  );
  assert.equal(
    loaderEntry({ title: "T", sortKey: "icenet", version: "3", linux: "/a/k", options: "ro" }),
    "title T\nsort-key icenet\nversion 3\nlinux /a/k\noptions ro\n",
  );
});
