/**
 * What the host knows about its block devices, read from sysfs and /proc: a device's
 * size, partitions, holders (device mapper, RAID), whether it is read-only, where
 * file systems are mounted, what is swap, and which disks hold `/`. The roots are
 * parameters so tests can hand in a made-up sysfs.
 *
 * ```ts
 * const host = readHost();
 * const dev = blockDevice(host, "8:16"); // { name: "sdb", disk: "sdb", partitions: ["sdb1"], ... }
 * rootDisks(host); // ["nvme0n1"]
 * ```
 */
import { basename, dirname, join } from "node:path";

/** The host as the checks see it. */
export interface HostView {
  /** sysfs root (`/sys`). */
  sys: string;
  mounts: Mount[];
  /** Swap areas from /proc/swaps, as `major:minor` where they are devices. */
  swaps: string[];
}

/** One line of /proc/self/mountinfo. */
export interface Mount {
  /** The mounted device's `major:minor` (`0:N` for file systems without a device). */
  majMin: string;
  mountPoint: string;
  /** The mount source (e.g. `/dev/sdb1`). */
  source: string;
}

/** A block device from sysfs. */
export interface BlockDevice {
  /** Kernel name: `sdb`, `sdb1`, `mmcblk0p1`, `loop3`. */
  name: string;
  majMin: string;
  /** The whole disk it belongs to (itself for a disk). */
  disk: string;
  isPartition: boolean;
  bytes: number;
  readOnly: boolean;
  /** For a disk: its partitions' names. */
  partitions: string[];
  /** Devices built on it or its partitions (dm-0, md0, ...), transitively. */
  holders: string[];
  /** Vendor and model of the disk, when sysfs has them. */
  model: string;
}

/** Parse /proc/self/mountinfo (octal escapes like `\040` decoded). */
export function parseMountinfo(text: string): Mount[] {
  const unescape = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  const out: Mount[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    const f = line.split(" ");
    const dash = f.indexOf("-");
    if (dash < 6) throw new Error(`mountinfo: cannot read line "${line}"`);
    out.push({ majMin: f[2], mountPoint: unescape(f[4]), source: unescape(f[dash + 2] ?? "") });
  }
  return out;
}

/** Read the running host's view. */
export function readHost(): HostView {
  const swaps: string[] = [];
  for (const line of Deno.readTextFileSync("/proc/swaps").split("\n").slice(1)) {
    const file = line.split(/\s+/)[0];
    if (!file) continue;
    try {
      const st = Deno.statSync(file.replace(/\\040/g, " "));
      if (st.isBlockDevice && st.rdev !== null) swaps.push(majMinOf(st.rdev));
    } catch {
      // A swap file on a mounted file system: its disk is refused as mounted anyway.
    }
  }
  return {
    sys: "/sys",
    mounts: parseMountinfo(Deno.readTextFileSync("/proc/self/mountinfo")),
    swaps,
  };
}

/** `major:minor` of a device number (Linux's encoding, as glibc's major()/minor()). */
export function majMinOf(rdev: number): string {
  const hi = Math.floor(rdev / 2 ** 32);
  const lo = rdev % 2 ** 32;
  const major = ((lo >>> 8) & 0xfff) | ((hi & 0xfffff000) >>> 0);
  const minor = (lo & 0xff) | ((lo >>> 12) & 0xfff00) | ((hi & 0xfff) << 20);
  return `${major}:${minor}`;
}

function readText(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path).trim();
  } catch {
    return undefined;
  }
}

function list(dir: string): string[] {
  try {
    return [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  } catch {
    return [];
  }
}

/** The sysfs directory of a device, by `major:minor` or by name. */
function sysDir(host: HostView, dev: { majMin?: string; name?: string }): string {
  const link = dev.majMin
    ? join(host.sys, "dev/block", dev.majMin)
    : join(host.sys, "class/block", dev.name!);
  try {
    return Deno.realPathSync(link);
  } catch {
    throw new Error(`no block device ${dev.majMin ?? dev.name} in ${dirname(link)}`);
  }
}

/** Holders of `dir`'s device, and theirs, by name. */
function holdersOf(host: HostView, dir: string, seen = new Set<string>()): string[] {
  for (const h of list(join(dir, "holders"))) {
    if (seen.has(h)) continue;
    seen.add(h);
    holdersOf(host, sysDir(host, { name: h }), seen);
  }
  return [...seen];
}

/** The block device `majMin` (or `name`) as sysfs describes it. */
export function blockDevice(host: HostView, dev: { majMin?: string; name?: string }): BlockDevice {
  const dir = sysDir(host, dev);
  const name = basename(dir);
  const isPartition = readText(join(dir, "partition")) !== undefined;
  const diskDir = isPartition ? dirname(dir) : dir;
  const partitions = isPartition
    ? []
    : list(dir).filter((n) => readText(join(dir, n, "partition")) !== undefined);
  const holders = new Set(holdersOf(host, dir));
  for (const p of partitions) for (const h of holdersOf(host, join(dir, p))) holders.add(h);
  const model = ["vendor", "model"].map((f) => readText(join(diskDir, "device", f)) ?? "")
    .filter(Boolean).join(" ");
  return {
    name,
    majMin: readText(join(dir, "dev")) ?? dev.majMin ?? "",
    disk: basename(diskDir),
    isPartition,
    bytes: Number(readText(join(dir, "size")) ?? 0) * 512,
    readOnly: readText(join(dir, "ro")) === "1",
    partitions,
    holders: [...holders].sort(),
    model,
  };
}

/** Whole disks under a device: itself or its disk, or, for dm/md, their slaves' disks. */
function disksUnder(host: HostView, dir: string, out = new Set<string>()): Set<string> {
  const slaves = list(join(dir, "slaves"));
  if (slaves.length === 0) {
    const isPartition = readText(join(dir, "partition")) !== undefined;
    out.add(basename(isPartition ? dirname(dir) : dir));
  }
  for (const s of slaves) disksUnder(host, sysDir(host, { name: s }), out);
  return out;
}

/**
 * The disks the running system's `/` lives on (through dm/md to the real disks).
 * Empty when `/` is on no block device (tmpfs, overlay, NFS).
 */
export function rootDisks(host: HostView): string[] {
  const root = host.mounts.filter((m) => m.mountPoint === "/").at(-1);
  if (!root || root.majMin.startsWith("0:")) return [];
  try {
    return [...disksUnder(host, sysDir(host, { majMin: root.majMin }))].sort();
  } catch {
    return [];
  }
}

/** The name of a mount's device, or undefined (no device, or not in sysfs). */
export function mountDeviceName(host: HostView, m: Mount): string | undefined {
  if (m.majMin.startsWith("0:")) return undefined;
  try {
    return basename(sysDir(host, { majMin: m.majMin }));
  } catch {
    return undefined;
  }
}
