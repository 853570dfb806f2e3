/**
 * Where a sparse file has data: its extents from SEEK_DATA / SEEK_HOLE. A hole is a
 * range no one wrote (never allocated, or punched); it reads as zeros. Blocks a
 * program allocated but left unwritten (fallocate) count as holes too, as they do
 * for SEEK_DATA on ext4, XFS, btrfs and tmpfs.
 *
 * ```ts
 * dataExtents("disk.img"); // [{ start: 0, end: 1048576 }, { start: 34603008, end: ... }]
 * ```
 */
import { closeFd, ERRNO, LibcError, O, openFd, seekData, seekHole } from "../libc.ts";

/** A byte range [start, end). */
export interface Extent {
  start: number;
  end: number;
}

/**
 * The data extents of `file`, in order, within its size. On a file system without
 * SEEK_DATA the whole file is one extent (correct, only not sparse).
 */
export function dataExtents(file: string): Extent[] {
  const size = Deno.statSync(file).size;
  const fd = openFd(file, O.RDONLY);
  try {
    const out: Extent[] = [];
    let pos = 0;
    while (pos < size) {
      let start: number | null;
      try {
        start = seekData(fd, pos);
      } catch (e) {
        const n = (e as LibcError).errno;
        if (pos === 0 && (n === ERRNO.EINVAL || n === ERRNO.EOPNOTSUPP)) {
          return [{ start: 0, end: size }];
        }
        throw new Error(`${file}: ${(e as Error).message}`);
      }
      if (start === null || start >= size) break;
      const end = Math.min(seekHole(fd, start), size);
      out.push({ start, end });
      pos = end;
    }
    return out;
  } finally {
    closeFd(fd);
  }
}

/** Total bytes in `extents`. */
export function extentBytes(extents: Extent[]): number {
  return extents.reduce((n, e) => n + e.end - e.start, 0);
}
