/**
 * ext4 filesystems (the data partition) made without mounting: `mkfs.ext4 -d DIR`
 * into a file. Reproducible by pinning everything mke2fs would otherwise take from
 * the host or the clock: the config file (MKE2FS_CONFIG), UUID, directory hash seed,
 * E2FSPROGS_FAKE_TIME, root owner; then a debugfs pass sets every copied inode's
 * times to the epoch (mke2fs 1.47 copies the host's ctime of each file).
 *
 * What mke2fs zeroes (inode tables, the journal) it writes as zeros, instead of
 * fallocating or punching them (UNIX_IO_NOZEROOUT, nodiscard): the group descriptors
 * say those tables are zeroed (ITABLE_ZEROED), so they must reach the card, and a
 * block map of the image (lib/image/bmap.ts) must not see them as holes to skip. The
 * file's holes are then only the free blocks, the same on every host file system.
 *
 * ```ts
 * await makeExt4("data.ext4", { bytes: 32 << 20, label: "data", uuid, dir: "staging/data",
 *   epoch: 1700000000 });
 * ```
 */
import $ from "dax";
import { join } from "node:path";
import { stableUuid } from "./layout.ts";
import { listTree } from "./fat.ts";

/** What goes into an ext4 filesystem. */
export interface Ext4Options {
  /** Filesystem size in bytes (a multiple of 4 KiB). */
  bytes: number;
  /** Volume label (up to 16 characters). */
  label: string;
  /** Filesystem UUID. */
  uuid: string;
  /** Directory copied in (owner, mode, symlinks kept); omit for an empty filesystem. */
  dir?: string;
  /** Timestamp for every inode. */
  epoch: number;
}

const CONFIG = new URL("./mke2fs.conf", import.meta.url).pathname;

/** Write an ext4 filesystem to `file`. */
export async function makeExt4(file: string, opts: Ext4Options): Promise<void> {
  if (opts.bytes % 4096 !== 0) {
    throw new Error(`ext4 size ${opts.bytes} is not a multiple of 4 KiB`);
  }
  if (opts.label.length > 16) throw new Error(`ext4 label "${opts.label}" is longer than 16`);
  await Deno.remove(file).catch(() => {});
  const env = {
    MKE2FS_CONFIG: CONFIG,
    E2FSPROGS_FAKE_TIME: String(opts.epoch),
    LC_ALL: "C",
    TZ: "UTC",
    UNIX_IO_NOZEROOUT: "1",
  };
  const hashSeed = stableUuid(opts.uuid, "hash_seed");
  const dirArgs = opts.dir ? ["-d", opts.dir] : [];
  await $`mkfs.ext4 -q -F -t ext4 -L ${opts.label} -U ${opts.uuid} -E ${`hash_seed=${hashSeed},root_owner=0:0,nodiscard`} -T default ${dirArgs} ${file} ${
    opts.bytes / 1024
  }k`.env(env).stdout("null");
  if (opts.dir) await normaliseTimes(file, opts.dir, opts.epoch, env);
}

/** Set atime, mtime, ctime and crtime of every inode copied from `dir` to `epoch`. */
async function normaliseTimes(
  file: string,
  dir: string,
  epoch: number,
  env: Record<string, string>,
): Promise<void> {
  const paths = ["", ...(await listAll(dir))];
  const cmds: string[] = [];
  for (const p of paths) {
    if (/["\n\\]/.test(p)) throw new Error(`${join(dir, p)}: unsupported character in file name`);
    for (const field of ["atime", "mtime", "ctime", "crtime"]) {
      cmds.push(`sif "/${p}" ${field} @${epoch}`);
      cmds.push(`sif "/${p}" ${field}_extra 0`);
    }
  }
  await $`debugfs -w -f - ${file}`.stdinText(cmds.join("\n") + "\n").env(env).quiet();
}

/** Every path under dir (symlinks included), sorted. */
async function listAll(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(rel: string) {
    const names: string[] = [];
    for await (const e of Deno.readDir(join(dir, rel))) names.push(e.name);
    for (const name of names.sort()) {
      const path = rel ? `${rel}/${name}` : name;
      out.push(path);
      if ((await Deno.lstat(join(dir, path))).isDirectory) await walk(path);
    }
  }
  await walk("");
  return out;
}

export { listTree };
