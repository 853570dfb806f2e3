/**
 * A write target held open for flashing. A block device is first claimed with
 * O_EXCL (as bmaptool does): the kernel refuses the claim while anything — a mount
 * in any namespace, swap, device mapper, RAID, another flasher — uses the device,
 * and nothing else can claim it while we write. A regular file (`--file`) is
 * truncated to the image's size, so what was not written reads as zeros.
 *
 * ```ts
 * using dev = openDevice(target, { exclusive: true, imageBytes });
 * await dev.writeAt(chunk, 0);
 * await dev.flush(); // on the medium, and out of the page cache
 * ```
 */
import { closeFd, dropCache, ERRNO, LibcError, O, openFd } from "../libc.ts";
import type { Target } from "./target.ts";

/** A claimed device (or file) with positioned I/O. */
export interface FlashDevice extends Disposable {
  readonly path: string;
  writeAt(data: Uint8Array, pos: number): Promise<void>;
  /** Fill `buf` from `pos`; a short read is an error naming the device. */
  readAt(buf: Uint8Array, pos: number): Promise<void>;
  /** fdatasync, then drop the cached pages, so the next read comes from the medium. */
  flush(): Promise<void>;
}

/** The device is in use: the kernel refused the exclusive claim. */
export class DeviceBusyError extends Error {}

/** Open `t` for flashing an image of `imageBytes`. */
export function openDevice(
  t: Target,
  opts: { exclusive: boolean; imageBytes: number },
): FlashDevice {
  let claim = -1;
  let file: Deno.FsFile;
  if (t.kind === "block") {
    if (opts.exclusive) {
      try {
        claim = openFd(t.path, O.RDONLY | O.EXCL);
      } catch (e) {
        if ((e as LibcError).errno === ERRNO.EBUSY) {
          throw new DeviceBusyError(
            `${t.path}: is in use (the kernel refused an exclusive open: mounted, perhaps in ` +
              `another mount namespace, swap, or held by another program); pass --force to write anyway`,
          );
        }
        throw e;
      }
    }
    file = Deno.openSync(t.path, { read: true, write: true });
  } else {
    file = Deno.openSync(t.path, { read: true, write: true, create: true, truncate: true });
    file.truncateSync(opts.imageBytes);
  }
  // The descriptor posix_fadvise works on: the claim, or one of our own.
  const cacheFd = claim >= 0 ? claim : openFd(t.path, O.RDONLY);
  return {
    path: t.path,
    async writeAt(data, pos) {
      await file.seek(pos, Deno.SeekMode.Start);
      for (let w = 0; w < data.length;) {
        try {
          w += await file.write(data.subarray(w));
        } catch (e) {
          throw new Error(`${t.path}: writing at byte ${pos + w}: ${(e as Error).message}`);
        }
      }
    },
    async readAt(buf, pos) {
      await file.seek(pos, Deno.SeekMode.Start);
      for (let n = 0; n < buf.length;) {
        const r = await file.read(buf.subarray(n));
        if (r === null) throw new Error(`${t.path}: ends at byte ${pos + n}, reading it back`);
        n += r;
      }
    },
    async flush() {
      try {
        await file.syncData();
      } catch (e) {
        throw new Error(`${t.path}: syncing: ${(e as Error).message}`);
      }
      dropCache(cacheFd, t.path);
    },
    [Symbol.dispose]() {
      file.close();
      closeFd(cacheFd);
    },
  };
}
