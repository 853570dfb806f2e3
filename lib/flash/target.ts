/**
 * Where an image is about to be written, and every reason not to write it there: a
 * file that is not a block device, a partition instead of a whole disk, the disk the
 * running system lives on, a device (or one of its partitions) that is mounted, swap
 * or under device mapper/RAID, a read-only device, a device smaller than the image.
 *
 * Each refusal names the device and what would override it. `--force` overrides the
 * ones that are a judgement the user may know better about (partition, system disk,
 * in use); nothing overrides a device that cannot hold the image (too small: its
 * partition table and last file system would describe space the device does not
 * have, and the write would fail at its end) or cannot be written (read-only).
 *
 * ```ts
 * const t = inspectTarget("/dev/sdb", readHost());
 * refusals(t, imageBytes, { force: false, file: false }); // [] when it is safe
 * ```
 */
import {
  type BlockDevice,
  blockDevice,
  type HostView,
  majMinOf,
  mountDeviceName,
  rootDisks,
} from "./host.ts";

/** A write target: a whole disk, a partition, or (with --file) a regular file. */
export interface Target {
  path: string;
  kind: "block" | "file" | "missing" | "other";
  /** The block device, for kind "block". */
  device?: BlockDevice;
  /** Size in bytes (a regular file's current size; 0 when missing). */
  bytes: number;
  /** Mount points on it, its partitions or holders: [device name, mount point]. */
  mounts: [string, string][];
  /** Its devices used as swap. */
  swaps: string[];
  /** Whether its disk holds `/` (the running system). */
  isRootDisk: boolean;
}

/** Why not to write. */
export interface Refusal {
  /** A stable code for tests and scripts. */
  code: "not-block" | "partition" | "root-disk" | "mounted" | "in-use" | "read-only" | "too-small";
  message: string;
  /** The flag that overrides it, if any. */
  override?: "--force" | "--file";
}

/** Look at `path` on `host`. */
export function inspectTarget(path: string, host: HostView): Target {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { path, kind: "missing", bytes: 0, mounts: [], swaps: [], isRootDisk: false };
    }
    throw new Error(`${path}: ${(e as Error).message}`);
  }
  if (st.isFile) {
    return { path, kind: "file", bytes: st.size, mounts: [], swaps: [], isRootDisk: false };
  }
  if (!st.isBlockDevice || st.rdev === null) {
    return { path, kind: "other", bytes: 0, mounts: [], swaps: [], isRootDisk: false };
  }
  return blockTarget(path, majMinOf(st.rdev), host);
}

/** The target of block device `majMin` (opened as `path`) on `host`. */
export function blockTarget(path: string, majMin: string, host: HostView): Target {
  const device = blockDevice(host, { majMin });
  const family = new Set([device.name, ...device.partitions, ...device.holders]);
  const mounts: [string, string][] = [];
  for (const m of host.mounts) {
    const name = mountDeviceName(host, m);
    if (name && family.has(name)) mounts.push([name, m.mountPoint]);
  }
  const swaps = host.swaps.map((mm) => {
    try {
      return blockDevice(host, { majMin: mm }).name;
    } catch {
      return "";
    }
  }).filter((n) => family.has(n));
  return {
    path,
    kind: "block",
    device,
    bytes: device.bytes,
    mounts,
    swaps,
    isRootDisk: rootDisks(host).includes(device.disk),
  };
}

/** Options that change what is refused. */
export interface CheckOptions {
  /** Write even to a partition, the system disk, or a device in use. */
  force: boolean;
  /** The target may be a regular file (created if missing). */
  file: boolean;
}

function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}

/** Every reason not to write an image of `imageBytes` to `t`, overridden ones left out. */
export function refusals(t: Target, imageBytes: number, opts: CheckOptions): Refusal[] {
  const out: Refusal[] = [];
  const add = (r: Refusal) => {
    if (r.override === "--force" && opts.force) return;
    if (r.override === "--file" && opts.file) return;
    out.push(r);
  };
  if (t.kind === "missing" || t.kind === "file") {
    add({
      code: "not-block",
      message: `${t.path}: ${
        t.kind === "missing" ? "does not exist" : "is a regular file, not a block device"
      }; pass --file to write the image into a file`,
      override: "--file",
    });
    return out;
  }
  if (t.kind === "other" || !t.device) {
    out.push({ code: "not-block", message: `${t.path}: is not a block device or a file` });
    return out;
  }
  const d = t.device;
  if (t.isRootDisk) {
    const what = d.isPartition ? `is a partition of /dev/${d.disk}, which holds /` : "holds /";
    add({
      code: "root-disk",
      message: `${t.path}: ${what}: the system running now; pass --force only to overwrite it`,
      override: "--force",
    });
  }
  if (d.isPartition && !t.isRootDisk) {
    add({
      code: "partition",
      message:
        `${t.path}: is a partition of /dev/${d.disk}; an image goes on the whole disk (or pass --force)`,
      override: "--force",
    });
  }
  for (const [name, point] of t.mounts) {
    add({
      code: "mounted",
      message: `${t.path}: /dev/${name} is mounted on ${point}; unmount it (umount ${point}) ` +
        `or pass --force (the mounted file system may then overwrite what was written)`,
      override: "--force",
    });
  }
  for (const h of d.holders) {
    add({
      code: "in-use",
      message: `${t.path}: is in use by ${h} (device mapper or RAID); stop it or pass --force`,
      override: "--force",
    });
  }
  for (const s of t.swaps) {
    add({
      code: "in-use",
      message: `${t.path}: /dev/${s} is in use as swap (swapoff /dev/${s}) or pass --force`,
      override: "--force",
    });
  }
  if (d.readOnly) {
    out.push({
      code: "read-only",
      message: `${t.path}: is read-only (an SD card's lock switch, or a read-only loop device)`,
    });
  }
  if (d.bytes < imageBytes) {
    out.push({
      code: "too-small",
      message: `${t.path}: holds ${d.bytes} bytes (${mib(d.bytes)}), less than the image's ` +
        `${imageBytes} bytes (${mib(imageBytes)}); use a bigger card or make the image's ` +
        `partitions smaller (partitions: in the image definition)`,
    });
  }
  return out;
}
