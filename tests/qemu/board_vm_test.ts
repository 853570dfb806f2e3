// boardVm() against real disk images made with the image writers: the Pi spec takes
// kernel, device tree and command line out of the image's boot partition.
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBoard } from "../../lib/board.ts";
import { writeDisk } from "../../lib/image/disk.ts";
import { makeFat } from "../../lib/image/fat.ts";
import { planDisk } from "../../lib/image/layout.ts";
import { boardVm, lastConsole, nextPowerOfTwo, serialIndexOf } from "../../lib/qemu/board_vm.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

Deno.test("boardVm() boots a Pi image's own kernel, tree and cmdline from an SD card of 2^n bytes", async () => {
  const board = await loadBoard(ROOT, "rpi");
  const tmp = await Deno.makeTempDir();
  const boot = join(tmp, "boot");
  await Deno.mkdir(boot);
  await Deno.writeTextFile(join(boot, "kernel8.img"), "kernel");
  await Deno.writeTextFile(join(boot, "bcm2837-rpi-3-b.dtb"), "dtb");
  await Deno.writeTextFile(
    join(boot, "cmdline.txt"),
    "console=ttyS1,115200 root=PARTUUID=x-02 ro\n",
  );
  const plan = planDisk(board.partitions, "rpi");
  await makeFat(join(tmp, "boot.vfat"), {
    bytes: plan.partitions[0].bytes,
    label: "BOOT",
    volumeId: "11223344",
    dir: boot,
    epoch: 0,
  });
  const img = join(tmp, "icenet-rpi.img");
  await writeDisk(img, plan, { boot: join(tmp, "boot.vfat") });
  const work = join(tmp, "work");
  await Deno.mkdir(work);
  const spec = await boardVm(board, img, work);
  assert.equal(spec.machine, "raspi3b");
  assert.equal(spec.append, "console=ttyS1,115200 root=PARTUUID=x-02 ro");
  assert.equal(spec.serialIndex, 1);
  assert.equal(await Deno.readTextFile(spec.kernel!), "kernel");
  assert.equal(await Deno.readTextFile(spec.dtb!), "dtb");
  assert.equal(spec.disk?.bus, "sd");
  const size = (await Deno.stat(spec.disk!.file)).size;
  assert.equal(size, nextPowerOfTwo(plan.size));
  assert.ok(size >= plan.size && (size & (size - 1)) === 0);
  assert.equal((await Deno.stat(img)).size, plan.size, "the image itself is untouched");
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("serialIndexOf() and lastConsole() map the guest console to a QEMU serial port", async (t) => {
  const rows: [string, string, number][] = [
    ["raspi3b", "ttyS1", 1],
    ["raspi3b", "ttyAMA0", 0],
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
});
