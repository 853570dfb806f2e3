/**
 * FAT filesystems (the Pi boot partition, the EFI system partition) made without
 * mounting: `mkfs.fat -C --invariant` creates the empty filesystem in a file, mtools
 * copies a directory tree into it. Directories and files are added in sorted order,
 * and mtools stamps them with SOURCE_DATE_EPOCH, so the result is byte-identical.
 *
 * ```ts
 * await makeFat("boot.vfat", { bytes: 32 << 20, label: "BOOT", volumeId: "1a2b3c4d",
 *   dir: "staging/boot", epoch: 1700000000 });
 * ```
 */
import $ from "dax";
import { join } from "node:path";

/** What goes into a FAT filesystem. */
export interface FatOptions {
  /** Filesystem size in bytes (a multiple of 1 KiB). */
  bytes: number;
  /** Volume label, up to 11 characters. */
  label: string;
  /** Volume serial number: 8 hex digits. */
  volumeId: string;
  /** Directory whose content becomes the filesystem's (regular files and dirs only). */
  dir: string;
  /** Timestamp for every entry (seconds since the epoch). */
  epoch: number;
}

/** Paths under `dir`, sorted, dirs before their content: [relative path, isDir]. */
export async function listTree(dir: string): Promise<[string, boolean][]> {
  const out: [string, boolean][] = [];
  async function walk(rel: string) {
    const names: string[] = [];
    for await (const e of Deno.readDir(join(dir, rel))) names.push(e.name);
    names.sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const st = await Deno.lstat(join(dir, path));
      if (st.isDirectory) {
        out.push([path, true]);
        await walk(path);
      } else if (st.isFile) {
        out.push([path, false]);
      } else {
        throw new Error(`${join(dir, path)}: FAT holds only files and directories`);
      }
    }
  }
  await walk("");
  return out;
}

/**
 * Write a FAT filesystem holding `opts.dir` to `file`. mkfs.fat picks FAT16 or FAT32
 * from the size (a 32 MiB FAT32 would be below FAT32's minimum cluster count; the Pi
 * firmware and UEFI read both).
 */
export async function makeFat(file: string, opts: FatOptions): Promise<void> {
  if (!/^[0-9a-f]{8}$/i.test(opts.volumeId)) {
    throw new Error(`FAT volume id "${opts.volumeId}" must be 8 hex digits`);
  }
  if (opts.label.length > 11) throw new Error(`FAT label "${opts.label}" is longer than 11`);
  if (opts.bytes % 1024 !== 0) throw new Error(`FAT size ${opts.bytes} is not a multiple of 1 KiB`);
  await Deno.remove(file).catch(() => {});
  await $`mkfs.fat -C --invariant -i ${opts.volumeId} -n ${opts.label} ${file} ${opts.bytes / 1024}`
    .stdout("null");
  const env = {
    SOURCE_DATE_EPOCH: String(opts.epoch),
    MTOOLS_SKIP_CHECK: "1",
    TZ: "UTC",
    LC_ALL: "C",
  };
  for (const [path, isDir] of await listTree(opts.dir)) {
    if (isDir) {
      await $`mmd -i ${file} ${"::/" + path}`.env(env);
    } else {
      await $`mcopy -i ${file} -D o ${join(opts.dir, path)} ${"::/" + path}`.env(env);
    }
  }
}

/** Copy one file out of a FAT image (at byte `offset` inside a disk image). */
export async function fatCopyOut(
  image: string,
  offset: number,
  path: string,
  dest: string,
): Promise<void> {
  await $`mcopy -n -o -i ${`${image}@@${offset}`} ${"::/" + path} ${dest}`
    .env({ MTOOLS_SKIP_CHECK: "1" });
}

/** Copy a file into a FAT image (at byte `offset` inside a disk image), replacing it. */
export async function fatCopyIn(
  image: string,
  offset: number,
  src: string,
  path: string,
): Promise<void> {
  const img = `${image}@@${offset}`;
  const env = { MTOOLS_SKIP_CHECK: "1" };
  // Its directories first (slot-b/ of an update); one that is there already is fine.
  const parts = path.split("/").slice(0, -1);
  for (let i = 1; i <= parts.length; i++) {
    await $`mmd -i ${img} ${"::/" + parts.slice(0, i).join("/")}`.env(env).quiet().noThrow();
  }
  await $`mcopy -n -o -i ${img} ${src} ${"::/" + path}`.env(env);
}

/** List the files of a FAT image (recursive, `mdir -/ -b`), one path per line. */
export async function fatList(image: string, offset = 0): Promise<string[]> {
  const r = await $`mdir -i ${`${image}@@${offset}`} -/ -b ::/`
    .env({ MTOOLS_SKIP_CHECK: "1" }).stdout("piped").stderr("piped").noThrow();
  if (r.code !== 0) throw new Error(`${image}@${offset}: mdir failed: ${r.stderr.trim()}`);
  return r.stdout.split("\n").filter(Boolean).map((l) => l.replace(/^::\//, "")).sort();
}
