/**
 * The few libc calls Deno has no API for, through FFI (glibc's libc.so.6, opened on
 * first use): lseek with SEEK_DATA / SEEK_HOLE (where a sparse file has data), open
 * with O_EXCL but without O_CREAT (claims a block device: fails with EBUSY while the
 * kernel has it mounted, as swap, or under device mapper or RAID — in any mount
 * namespace), and posix_fadvise(POSIX_FADV_DONTNEED) (drops a file's or a device's
 * cached pages, so the next read comes from the medium).
 *
 * ```ts
 * const fd = openFd("disk.img", O.RDONLY);
 * const start = seekData(fd, 0); // offset of the first data byte, or null: all hole
 * closeFd(fd);
 * ```
 */

/** open(2) flags (Linux, every architecture Deno runs on). */
export const O = { RDONLY: 0, EXCL: 0o200, CLOEXEC: 0o2000000 } as const;

const SEEK_DATA = 3;
const SEEK_HOLE = 4;
const POSIX_FADV_DONTNEED = 4;

/** Error numbers the callers tell apart. */
export const ERRNO = { ENOENT: 2, ENXIO: 6, EACCES: 13, EBUSY: 16, EINVAL: 22, EOPNOTSUPP: 95 };

const SYMBOLS = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  lseek: { parameters: ["i32", "i64", "i32"], result: "i64" },
  posix_fadvise: { parameters: ["i32", "i64", "i64", "i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] | undefined;

function libc(): Deno.DynamicLibrary<typeof SYMBOLS>["symbols"] {
  lib ??= Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  return lib;
}

/** A failed libc call: `errno` and the call and path it was about. */
export class LibcError extends Error {
  constructor(readonly errno: number, what: string) {
    super(`${what}: ${describe(errno)}`);
  }
}

function describe(errno: number): string {
  const p = libc().strerror(errno);
  return p ? Deno.UnsafePointerView.getCString(p) : `errno ${errno}`;
}

/** errno of the call that just failed (read on the calling thread, right after it). */
function errno(): number {
  const p = libc().__errno_location();
  return p ? new Deno.UnsafePointerView(p).getInt32() : 0;
}

/** open(2): a file descriptor, or a LibcError naming `path`. */
export function openFd(path: string, flags: number): number {
  const fd = libc().open(new TextEncoder().encode(path + "\0"), flags | O.CLOEXEC);
  if (fd < 0) throw new LibcError(errno(), `open ${path}`);
  return fd;
}

/** close(2). */
export function closeFd(fd: number): void {
  libc().close(fd);
}

/** The first offset >= `offset` that holds data, or null when only a hole follows. */
export function seekData(fd: number, offset: number): number | null {
  const r = libc().lseek(fd, BigInt(offset), SEEK_DATA);
  if (r >= 0n) return Number(r);
  const e = errno();
  if (e === ERRNO.ENXIO) return null;
  throw new LibcError(e, `lseek SEEK_DATA at ${offset}`);
}

/** The first offset >= `offset` that starts a hole (the end of the file counts as one). */
export function seekHole(fd: number, offset: number): number {
  const r = libc().lseek(fd, BigInt(offset), SEEK_HOLE);
  if (r < 0n) throw new LibcError(errno(), `lseek SEEK_HOLE at ${offset}`);
  return Number(r);
}

/**
 * Drop the clean cached pages of the file or device open as `fd` (write back and
 * sync first: dirty pages stay). A block device's page cache is shared by all its
 * descriptors, so this drops what any of them cached.
 */
export function dropCache(fd: number, what: string): void {
  const r = libc().posix_fadvise(fd, 0n, 0n, POSIX_FADV_DONTNEED);
  if (r !== 0) throw new LibcError(r, `posix_fadvise DONTNEED ${what}`);
}
