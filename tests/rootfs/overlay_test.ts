/**
 * Early boot (/sbin/init, icenet-preinit) for real, in a private mount and PID
 * namespace: a squashfs of base-files + busybox + icenet-init (built by the real
 * stages) is the root, an ext4 image labelled "data" on a loop device is the data
 * partition. A stand-in for icenet-init (a script, installed as /sbin/icenet-init in
 * the test's squashfs) records what it sees: the root is writable and changes land on
 * the data partition; a factory reset wipes them at the next boot.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildReal, packageIn, unpackPackages } from "./_real.ts";

const dec = new TextDecoder();

async function sh(script: string, ...args: string[]): Promise<string> {
  const r = await new Deno.Command("sh", { args: ["-ec", script, "sh", ...args] }).output();
  if (!r.success) {
    throw new Error(`sh failed: ${dec.decode(r.stderr)}\n${dec.decode(r.stdout)}`);
  }
  return dec.decode(r.stdout);
}

// Runs as PID 1 after /sbin/init: proves the root is the overlay and writable.
const FAKE_INIT = `#!/bin/sh
mount -t proc proc /proc
{
  echo "pid=$$"
  grep -E ' / overlay | /overlay ext4 | /rom squashfs ' /proc/mounts | cut -d' ' -f2,3 | sort
  if [ -e /etc/marker ]; then echo "marker=$(cat /etc/marker)"; else echo "marker=none"; fi
} > /overlay/report
echo persisted > /etc/marker
umount /proc
`;

Deno.test("early boot (/sbin/init) mounts the writable overlay on the data partition; factory reset wipes it", async () => {
  const pkgs = ["base-files", "busybox", "icenet-init"];
  const res = await buildReal(pkgs.map((n) => `pkg:${n}`));
  const work = await Deno.makeTempDir({ prefix: "icenet-overlay-" });
  const tree = join(work, "root");
  await Deno.mkdir(tree);
  let loop = "";
  try {
    await unpackPackages(
      pkgs.map((n) => packageIn(res.get(`pkg:${n}`)!.out!)),
      tree,
    );
    await Deno.writeTextFile(join(tree, "sbin/icenet-init"), FAKE_INIT, { mode: 0o755 });
    await sh(
      'mksquashfs "$1" "$2" -noappend -all-root -quiet -comp xz',
      tree,
      join(work, "root.sqfs"),
    );
    await sh(
      'truncate -s 16M "$1" && mkfs.ext4 -q -F -L data "$1"',
      join(work, "data.ext4"),
    );
    loop = (await sh('losetup -f --show "$1"', join(work, "data.ext4"))).trim();
    // Boot: a new mount + PID namespace; the squashfs becomes / and /sbin/init runs
    // as PID 1 exactly as the kernel would start it.
    const boot = () =>
      sh(
        `unshare --mount --pid --fork --propagation private sh -ec '
          mkdir -p "$1/mnt"
          mount -t squashfs -o ro "$1/root.sqfs" "$1/mnt"
          cd "$1/mnt"
          pivot_root . rom
          exec chroot . /sbin/init
        ' sh "$1"`,
        work,
      );
    const readData = async (path: string) =>
      await sh(
        `d=$(mktemp -d); mount -o ro "$1" "$d"; cat "$d/$2" 2>/dev/null || echo "(none)"; umount "$d"; rmdir "$d"`,
        loop,
        path,
      );

    await boot();
    const first = await readData("report");
    assert.match(first, /^pid=1$/m);
    assert.match(first, /^\/ overlay$/m);
    assert.match(first, /^\/overlay ext4$/m);
    assert.match(first, /^\/rom squashfs$/m);
    assert.match(first, /^marker=none$/m);
    assert.equal(await readData("upper/etc/marker"), "persisted\n");

    // Second boot: the change persisted.
    await boot();
    assert.match(await readData("report"), /^marker=persisted$/m);

    // Factory reset (what icenet-factory-reset leaves), then boot: wiped.
    await sh(
      `d=$(mktemp -d); mount "$1" "$d"; touch "$d/.factory-reset"; umount "$d"; rmdir "$d"`,
      loop,
    );
    await boot();
    assert.match(await readData("report"), /^marker=none$/m);
    assert.equal(await readData(".factory-reset"), "(none)\n");
  } finally {
    if (loop) await sh('losetup -d "$1"', loop).catch(() => {});
    await Deno.remove(work, { recursive: true });
  }
});
