// boardVm() against real disk images made with the image writers: the Pi spec takes
// the image's U-Boot, the machine's device tree and slot a's command line (for the
// serial port) out of the image's boot partition.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import $ from "dax";
import { type Board, loadBoard } from "../../lib/board.ts";
import { writeDisk } from "../../lib/image/disk.ts";
import { fatCopyOut, makeFat } from "../../lib/image/fat.ts";
import { planDisk } from "../../lib/image/layout.ts";
import {
  boardVm,
  lastConsole,
  nextPowerOfTwo,
  partitionOffsets,
  replaceLastConsole,
  serialIndexOf,
} from "../../lib/qemu/board_vm.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** A Pi image whose boot partition holds `files` (name -> text or bytes) and slot a's cmdline. */
async function piImage(
  board: Board,
  tmp: string,
  files: Record<string, string | Uint8Array>,
  console = "ttyS1",
) {
  const boot = join(tmp, "boot");
  files = {
    ...files,
    "slot-a/cmdline.env": `bootargs=console=tty1 console=${console},115200 root=PARTUUID=x-02 ro\n`,
  };
  for (const [name, content] of Object.entries(files)) {
    await Deno.mkdir(dirname(join(boot, name)), { recursive: true });
    if (typeof content === "string") await Deno.writeTextFile(join(boot, name), content);
    else await Deno.writeFile(join(boot, name), content);
  }
  const plan = planDisk(board.partitions, board.name);
  await makeFat(join(tmp, "boot.vfat"), {
    bytes: plan.partitions[0].bytes,
    label: "BOOT",
    volumeId: "11223344",
    dir: boot,
    epoch: 0,
  });
  const img = join(tmp, `icenet-${board.name}.img`);
  await writeDisk(img, plan, { boot: join(tmp, "boot.vfat") });
  const work = join(tmp, "work");
  await Deno.mkdir(work);
  return { img, work, size: plan.size };
}

/** A device tree with the Pi 4 nodes raspi4b's boot edits (and one it leaves alone). */
async function pi4Tree(dir: string): Promise<Uint8Array> {
  const dts = join(dir, "t.dts");
  await Deno.writeTextFile(
    dts,
    `/dts-v1/;
/ {
  soc {
    clock@7ef00000 { compatible = "brcm,brcm2711-dvp"; };
    interrupt-controller@7ef00100 { compatible = "brcm,bcm2711-l2-intc", "brcm,l2-intc"; };
    serial@7e215040 { compatible = "brcm,bcm2835-aux-uart"; };
    mmc@7e300000 { compatible = "brcm,bcm2835-sdhci"; non-removable; mmc-pwrseq = <1>; };
  };
  emmc2bus { mmc@7e340000 { compatible = "brcm,bcm2711-emmc2"; }; };
};
`,
  );
  await $`dtc -q -I dts -O dtb -o ${join(dir, "t.dtb")} ${dts}`;
  return await Deno.readFile(join(dir, "t.dtb"));
}

/** A property of a node in a dtb, or undefined when it has none. */
async function fdtget(dtb: string, node: string, prop: string): Promise<string | undefined> {
  const r = await $`fdtget ${dtb} ${node} ${prop}`.stdout("piped").stderr("null").noThrow();
  return r.code === 0 ? r.stdout.trim() : undefined;
}

Deno.test("boardVm() boots a Pi image's own U-Boot with the machine's tree from an SD card of 2^n bytes", async () => {
  const board = await loadBoard(ROOT, "rpi");
  const tmp = await Deno.makeTempDir();
  const { img, work, size: imageSize } = await piImage(board, tmp, {
    "u-boot-rpi_arm64.bin": "u-boot",
    "bcm2837-rpi-3-b.dtb": "dtb",
  });
  const spec = await boardVm(board, img, work);
  assert.equal(spec.machine, "raspi3b");
  assert.equal(spec.system, "qemu-system-aarch64", "the host's QEMU");
  assert.deepEqual(spec.options, []);
  assert.equal(spec.memory, "1G");
  assert.equal(spec.append, undefined, "U-Boot's script gives the kernel its command line");
  // The machine's kernel arguments reach boot.scr through a file in the disk copy only.
  const extra = join(tmp, "extra.env");
  await fatCopyOut(spec.disk!.file, (await partitionOffsets(img))[0], "cmdline-extra.env", extra);
  assert.equal(await Deno.readTextFile(extra), "icenet_args=icenet.watchdog=off\n");
  await assert.rejects(
    fatCopyOut(img, (await partitionOffsets(img))[0], "cmdline-extra.env", extra),
  );
  assert.equal(spec.serialIndex, 1);
  assert.equal(await Deno.readTextFile(spec.kernel!), "u-boot");
  assert.equal(await Deno.readTextFile(spec.dtb!), "dtb");
  assert.equal(spec.disk?.bus, "sd");
  const size = (await Deno.stat(spec.disk!.file)).size;
  assert.equal(size, nextPowerOfTwo(imageSize));
  assert.ok(size >= imageSize && (size & (size - 1)) === 0);
  assert.equal((await Deno.stat(img)).size, imageSize, "the image itself is untouched");
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("boardVm() on raspi4b: slot a's kernel, the qemu stage's QEMU, the Pi 4 tree with the nodes QEMU lacks disabled in its copy only", async () => {
  const board = await loadBoard(ROOT, "rpi");
  const tmp = await Deno.makeTempDir();
  const tree = await pi4Tree(tmp);
  const { img, work } = await piImage(board, tmp, {
    "u-boot-rpi_arm64.bin": "u-boot",
    "slot-a/kernel8.img": "kernel",
    "bcm2711-rpi-4-b.dtb": tree,
  });
  const spec = await boardVm(board, img, work, { machine: "raspi4b" });
  // skipLoader: slot a's kernel and command line, booted directly.
  assert.equal(await Deno.readTextFile(spec.kernel!), "kernel");
  assert.equal(spec.machine, "raspi4b");
  assert.equal(spec.memory, "2G");
  assert.match(spec.system, /\/objects\/[0-9a-f]{64}\/out\/bin\/qemu-system-aarch64$/);
  assert.deepEqual(spec.options, ["-audio", "none"]);
  const version = await $`${spec.system} --version`.text();
  assert.match(version, /^QEMU emulator version 10\.0\.2 /);
  // The image's console is the mini UART (ttyS1); raspi4b boots with the PL011, its first.
  assert.equal(
    spec.append,
    "console=tty1 console=ttyAMA0,115200 root=PARTUUID=x-02 ro icenet.watchdog=off",
  );
  assert.equal(spec.serialIndex, 0);
  for (
    const node of [
      "/soc/clock@7ef00000",
      "/soc/interrupt-controller@7ef00100",
      "/emmc2bus/mmc@7e340000",
    ]
  ) {
    assert.equal(await fdtget(spec.dtb!, node, "status"), "disabled", node);
  }
  assert.equal(await fdtget(spec.dtb!, "/soc/serial@7e215040", "status"), undefined);
  assert.equal(await fdtget(spec.dtb!, "/soc/mmc@7e300000", "mmc-pwrseq"), undefined);
  assert.equal(await fdtget(spec.dtb!, "/soc/mmc@7e300000", "non-removable"), "");
  // The image's own tree (the one a real Pi 4 boots) is left as it was.
  const again = join(tmp, "again.dtb");
  await fatCopyOut(img, (await partitionOffsets(img))[0], "bcm2711-rpi-4-b.dtb", again);
  assert.deepEqual(await Deno.readFile(again), tree);
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("boardVm() on raspi2b: the 32-bit U-Boot as a legacy kernel image loading at 0x8000", async () => {
  const board = await loadBoard(ROOT, "rpi32");
  const tmp = await Deno.makeTempDir();
  const { img, work } = await piImage(board, tmp, {
    "u-boot-rpi_2.bin": "u-boot",
    "u-boot-rpi_3_32b.bin": "the Pi 3's",
    "bcm2836-rpi-2-b.dtb": "dtb",
  }, "ttyAMA0");
  const spec = await boardVm(board, img, work);
  assert.equal(spec.machine, "raspi2b");
  assert.equal(spec.serialIndex, 0);
  assert.equal(await Deno.readTextFile(spec.dtb!), "dtb");
  const uimg = await Deno.readFile(spec.kernel!);
  const h = new DataView(uimg.buffer);
  assert.equal(h.getUint32(0), 0x27051956, "legacy image magic");
  assert.deepEqual([h.getUint32(16), h.getUint32(20), uimg[30]], [0x8000, 0x8000, 2]);
  assert.equal(new TextDecoder().decode(uimg.subarray(64)), "u-boot");
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("boardVm() names the board file and the node when a tree lacks a node to disable", async () => {
  const board = await loadBoard(ROOT, "rpi");
  const tmp = await Deno.makeTempDir();
  await Deno.writeTextFile(join(tmp, "t.dts"), "/dts-v1/;\n/ { soc { }; };\n");
  await $`dtc -q -I dts -O dtb -o ${join(tmp, "t.dtb")} ${join(tmp, "t.dts")}`;
  const { img, work } = await piImage(board, tmp, {
    "u-boot-rpi_arm64.bin": "u-boot",
    "bcm2711-rpi-4-b.dtb": await Deno.readFile(join(tmp, "t.dtb")),
  });
  await assert.rejects(
    boardVm(board, img, work, { machine: "raspi4b" }),
    /^Error: boards\/rpi\.yaml: qemu machine raspi4b: disableNodes: cannot disable \/soc\/interrupt-controller@7ef00100 in bcm2711-rpi-4-b\.dtb: .*FDT_ERR_NOTFOUND/,
  );
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("serialIndexOf() and lastConsole() map the guest console to a QEMU serial port", async (t) => {
  const rows: [string, string, number][] = [
    ["raspi3b", "ttyS1", 1],
    ["raspi3b", "ttyAMA0", 0],
    ["raspi4b", "ttyS1", 1],
    ["raspi4b", "ttyAMA0", 0],
    ["raspi2b", "ttyAMA0", 0],
    ["q35", "ttyS0", 0],
    ["q35", "ttyS1", 1],
  ];
  for (const [machine, dev, want] of rows) {
    await t.step(`${machine} ${dev}`, () => assert.equal(serialIndexOf(machine, dev), want));
  }
  assert.equal(lastConsole("console=tty0 console=ttyAMA0,115200 ro"), "ttyAMA0");
  assert.throws(
    () => lastConsole("root=/dev/sda"),
    /kernel command line has no console=: root=\/dev\/sda/,
  );
  assert.equal(
    replaceLastConsole("console=ttyS1 console=tty1 console=ttyS1,115200 ro", "ttyAMA0"),
    "console=ttyS1 console=tty1 console=ttyAMA0,115200 ro",
  );
});
