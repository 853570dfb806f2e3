/**
 * With no devices in its config, icenet-update finds them as on a device: the disk that
 * holds the mounted squashfs root, its partitions 1-3. A partitioned loop device
 * (losetup -P) stands in for the SD card; its p2 is mounted as the running root.
 * Skipped where another squashfs is mounted (it could be taken for the root).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { writeBundle } from "../../lib/update/bundle.ts";
import { buildTool, KERNEL_VFAT, newKey, TOOL } from "./_rig.ts";

const otherSquashfs = / - squashfs /.test(Deno.readTextFileSync("/proc/self/mountinfo"));

Deno.test({
  name:
    "install finds p1-p3 on the disk of the mounted squashfs root, and never writes a mounted slot",
  ignore: otherSquashfs,
  async fn() {
    await buildTool();
    const dir = await Deno.makeTempDir({ prefix: "icenet-update-disk-" });
    const disk = join(dir, "disk.img");
    const mnt = { root: join(dir, "root"), boot: join(dir, "boot"), b: join(dir, "b") };
    let loop = "";
    let fuse: Deno.ChildProcess | undefined;
    try {
      await $`truncate -s 96M ${disk}`;
      await $`sfdisk -q ${disk}`.stdinText(
        "label: dos\n,32M,c\n,16M,83\n,16M,83\n,,83\n",
      );
      loop = (await $`losetup -P -f --show ${disk}`.text()).trim();
      const part = (n: number) => `${loop}p${n}`;
      // The kernel scans the table asynchronously; devtmpfs then makes the nodes.
      for (let i = 0; i < 100; i++) {
        if (await Deno.stat(part(3)).then(() => true, () => false)) break;
        if (i === 50) await $`partx -a ${loop}`.noThrow().quiet();
        await new Promise((r) => setTimeout(r, 20));
      }
      await $`mkfs.vfat -n BOOT ${part(1)}`.quiet();
      // The running slot a: a squashfs on p2, mounted as the root would be.
      await Deno.mkdir(join(dir, "tree/etc"), { recursive: true });
      await Deno.writeTextFile(join(dir, "tree/etc/os-release"), "VERSION_ID=1\n");
      await $`mksquashfs ${join(dir, "tree")} ${join(dir, "a.squashfs")} -quiet -noappend`.quiet();
      await $`dd if=${join(dir, "a.squashfs")} of=${part(2)} bs=1M conv=fsync status=none`;
      for (const m of Object.values(mnt)) await Deno.mkdir(m);
      await $`mount -t squashfs -o ro ${part(2)} ${mnt.root}`;
      const key = await newKey();
      await Deno.writeTextFile(join(dir, "update.pub"), key.publicLine);
      await Deno.writeTextFile(join(dir, "cmdline"), "root=/dev/p2 icenet.slot=a\n");
      const conf = join(dir, "update.conf");
      await Deno.writeTextFile(
        conf,
        `board = t\nbootloader = u-boot\nboot_mount = ${mnt.boot}\nkey = ${
          join(dir, "update.pub")
        }\nstate_dir = ${join(dir, "state")}\ncmdline = ${join(dir, "cmdline")}\n`,
      );
      await Deno.writeTextFile(join(dir, "k"), "kernel\n");
      const bundle = await writeBundle(join(dir, "b.bundle"), {
        board: "t",
        version: "2",
        serial: 2,
        kernel: "k",
        payloads: [{ name: "root", path: join(dir, "a.squashfs") }, {
          name: "slot/k",
          path: join(dir, "k"),
        }],
      }, key.privateFile);
      if (!KERNEL_VFAT) {
        // As the rig does: p1 mounted in user space where the kernel has no vfat.
        fuse = new Deno.Command("fusefat", {
          args: ["-f", "-o", "rw+", part(1), mnt.boot],
          stdout: "null",
          stderr: "null",
        }).spawn();
        for (
          let i = 0;
          i < 100 && !Deno.readTextFileSync("/proc/self/mountinfo").includes(` ${mnt.boot} `);
          i++
        ) {
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      const p2 = (await $`sha256sum ${part(2)}`.text()).split(" ")[0];
      const r = await $`${TOOL} -c ${conf} install ${bundle.path}`.stdout("piped").stderr("piped")
        .noThrow();
      assert.equal(r.code, 0, r.stderr);
      assert.equal(
        (await $`sha256sum ${part(2)}`.text()).split(" ")[0],
        p2,
        "the running root changed",
      );
      const size = (await Deno.stat(join(dir, "a.squashfs"))).size;
      assert.equal(
        (await $`head -c ${size} ${part(3)} | sha256sum`.text()).split(" ")[0],
        (await $`sha256sum ${join(dir, "a.squashfs")}`.text()).split(" ")[0],
      );
      // Slot b mounted (by someone): the tool will not write it.
      await $`mount -t squashfs -o ro ${part(3)} ${mnt.b}`;
      const busy = await $`${TOOL} -c ${conf} install ${bundle.path}`.stdout("piped").stderr(
        "piped",
      )
        .noThrow();
      assert.equal(busy.code, 1);
      assert.match(busy.stderr, new RegExp(`${part(3)} \\(root of slot b\\) is mounted: refusing`));
    } finally {
      for (const m of [mnt.b, mnt.boot, mnt.root]) await $`umount ${m}`.noThrow().quiet();
      await fuse?.status;
      if (loop) await $`losetup -d ${loop}`.noThrow().quiet();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
