// The flash target checks on a made-up sysfs (partitions, device mapper and a root on an
// encrypted partition cannot be set up on this host's kernel, which reads no partition
// tables): which refusals apply, and which --force and --file override.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type HostView, majMinOf, parseMountinfo, rootDisks } from "../../lib/flash/host.ts";
import { blockTarget, type Refusal, refusals, type Target } from "../../lib/flash/target.ts";

const GiB = 1 << 30;

interface FakeDev {
  name: string;
  majMin: string;
  /** The disk of a partition. */
  disk?: string;
  bytes: number;
  ro?: boolean;
  holders?: string[];
  slaves?: string[];
}

/** A sysfs tree with `devs`, as the kernel lays it out (devices/, dev/block, class/block). */
async function fakeSys(root: string, devs: FakeDev[]): Promise<string> {
  for (const d of devs) {
    const dir = d.disk
      ? join(root, "devices/pci/block", d.disk, d.name)
      : join(root, "devices/pci/block", d.name);
    await Deno.mkdir(join(dir, "holders"), { recursive: true });
    await Deno.mkdir(join(dir, "slaves"), { recursive: true });
    await Deno.writeTextFile(join(dir, "dev"), d.majMin + "\n");
    await Deno.writeTextFile(join(dir, "size"), `${d.bytes / 512}\n`);
    await Deno.writeTextFile(join(dir, "ro"), d.ro ? "1\n" : "0\n");
    if (d.disk) await Deno.writeTextFile(join(dir, "partition"), "1\n");
    for (const h of d.holders ?? []) await Deno.writeTextFile(join(dir, "holders", h), "");
    for (const s of d.slaves ?? []) await Deno.writeTextFile(join(dir, "slaves", s), "");
    await Deno.mkdir(join(root, "dev/block"), { recursive: true });
    await Deno.mkdir(join(root, "class/block"), { recursive: true });
    await Deno.symlink(dir, join(root, "dev/block", d.majMin));
    await Deno.symlink(dir, join(root, "class/block", d.name));
  }
  const model = join(root, "devices/pci/block/sdb/device");
  await Deno.mkdir(model, { recursive: true });
  await Deno.writeTextFile(join(model, "vendor"), "Generic \n");
  await Deno.writeTextFile(join(model, "model"), "SD Reader\n");
  return root;
}

const MOUNTINFO = [
  "27 1 253:1 / / rw,relatime - ext4 /dev/mapper/root rw",
  "40 27 8:17 / /media/me/BOOT\\040CARD rw - vfat /dev/sdb1 rw",
  "41 27 0:25 / /tmp rw - tmpfs tmpfs rw",
].join("\n");

async function host(): Promise<HostView> {
  const sys = await fakeSys(await Deno.makeTempDir(), [
    { name: "nvme0n1", majMin: "259:0", bytes: 512 * GiB },
    { name: "nvme0n1p1", majMin: "259:1", disk: "nvme0n1", bytes: GiB },
    { name: "nvme0n1p2", majMin: "259:2", disk: "nvme0n1", bytes: 500 * GiB, holders: ["dm-1"] },
    { name: "dm-1", majMin: "253:1", bytes: 500 * GiB, slaves: ["nvme0n1p2"] },
    { name: "sdb", majMin: "8:16", bytes: 32 * GiB },
    { name: "sdb1", majMin: "8:17", disk: "sdb", bytes: GiB },
    { name: "sdb2", majMin: "8:18", disk: "sdb", bytes: 8 * GiB, holders: ["dm-0"] },
    { name: "dm-0", majMin: "253:0", bytes: 8 * GiB, slaves: ["sdb2"] },
    { name: "sdc", majMin: "8:32", bytes: 16 * GiB },
    { name: "sdd", majMin: "8:48", bytes: 16 * GiB, ro: true },
    { name: "sde", majMin: "8:64", bytes: 16 * GiB },
  ]);
  return { sys, mounts: parseMountinfo(MOUNTINFO), swaps: ["8:64"] };
}

const codes = (rs: Refusal[]) => rs.map((r) => r.code);
const NONE = { force: false, file: false };
const FORCE = { force: true, file: false };

Deno.test("parseMountinfo() reads devices and decodes escaped mount points", () => {
  const m = parseMountinfo(MOUNTINFO);
  assert.deepEqual(m[1], {
    majMin: "8:17",
    mountPoint: "/media/me/BOOT CARD",
    source: "/dev/sdb1",
  });
  assert.equal(m.length, 3);
  assert.throws(() => parseMountinfo("garbage line"), /mountinfo: cannot read line "garbage line"/);
});

Deno.test("majMinOf() decodes Linux device numbers, large majors and minors too", async (t) => {
  // glibc's makedev(): major bits 0-11 and minor bits 0-7 and 8-19 in the low word.
  const makedev = (ma: number, mi: number) => {
    const lo = (((ma & 0xfff) << 8) | (mi & 0xff) | ((mi & 0xfff00) << 12)) >>> 0;
    const hi = ((ma & 0xfffff000) | ((mi >>> 20) & 0xfff)) >>> 0;
    return hi * 2 ** 32 + lo;
  };
  for (const [ma, mi] of [[8, 16], [254, 0], [259, 3], [8, 300], [4100, 70000]]) {
    await t.step(`${ma}:${mi}`, () => assert.equal(majMinOf(makedev(ma, mi)), `${ma}:${mi}`));
  }
});

Deno.test("rootDisks() follows / through device mapper to the disk", async () => {
  const h = await host();
  assert.deepEqual(rootDisks(h), ["nvme0n1"]);
  assert.deepEqual(
    rootDisks({ ...h, mounts: parseMountinfo("1 0 0:30 / / rw - overlay o rw") }),
    [],
  );
});

Deno.test("refusals() on each kind of device, and what --force overrides", async (t) => {
  const h = await host();
  const target = (mm: string, path: string) => blockTarget(path, mm, h);
  const rows: [string, Target, number, string[], string[], RegExp][] = [
    ["a free card", target("8:32", "/dev/sdc"), GiB, [], [], /^$/],
    [
      "a card with a mounted partition and one under dm",
      target("8:16", "/dev/sdb"),
      GiB,
      ["mounted", "in-use"],
      [],
      /\/dev\/sdb: \/dev\/sdb1 is mounted on \/media\/me\/BOOT CARD; unmount it \(umount \/media\/me\/BOOT CARD\) or pass --force/,
    ],
    [
      "a partition",
      target("8:17", "/dev/sdb1"),
      GiB / 2,
      ["partition", "mounted"],
      [],
      /\/dev\/sdb1: is a partition of \/dev\/sdb; an image goes on the whole disk \(or pass --force\)/,
    ],
    [
      "the root disk (through dm-crypt)",
      target("259:0", "/dev/nvme0n1"),
      GiB,
      ["root-disk", "mounted", "in-use"],
      [],
      /\/dev\/nvme0n1: holds \/: the system running now; pass --force only to overwrite it/,
    ],
    [
      "a partition of the root disk",
      target("259:1", "/dev/nvme0n1p1"),
      GiB / 2,
      ["root-disk"],
      [],
      /\/dev\/nvme0n1p1: is a partition of \/dev\/nvme0n1, which holds \//,
    ],
    [
      "swap",
      target("8:64", "/dev/sde"),
      GiB,
      ["in-use"],
      [],
      /\/dev\/sde: \/dev\/sde is in use as swap \(swapoff \/dev\/sde\) or pass --force/,
    ],
    ["read-only", target("8:48", "/dev/sdd"), GiB, ["read-only"], ["read-only"], /is read-only/],
    [
      "too small",
      target("8:32", "/dev/sdc"),
      32 * GiB,
      ["too-small"],
      ["too-small"],
      /\/dev\/sdc: holds 17179869184 bytes \(16384\.0 MiB\), less than the image's 34359738368 bytes/,
    ],
  ];
  for (const [name, t0, image, refused, forced, msg] of rows) {
    await t.step(name, () => {
      const rs = refusals(t0, image, NONE);
      assert.deepEqual(codes(rs), refused);
      assert.deepEqual(codes(refusals(t0, image, FORCE)), forced);
      if (refused.length) assert.match(rs.map((r) => r.message).join("\n"), msg);
    });
  }
  await Deno.remove(h.sys, { recursive: true });
});

Deno.test("refusals() of files: --file allows a regular or new file, never anything else", async (t) => {
  const base = { bytes: 0, mounts: [], swaps: [], isRootDisk: false };
  const rows: [Target, string[], string[]][] = [
    [{ ...base, path: "out.img", kind: "missing" }, ["not-block"], []],
    [{ ...base, path: "out.img", kind: "file" }, ["not-block"], []],
    [{ ...base, path: "/dev/tty", kind: "other" }, ["not-block"], ["not-block"]],
  ];
  for (const [tg, plain, withFile] of rows) {
    await t.step(tg.kind, () => {
      assert.deepEqual(codes(refusals(tg, 100, NONE)), plain);
      assert.deepEqual(codes(refusals(tg, 100, { force: true, file: true })), withFile);
    });
  }
});
