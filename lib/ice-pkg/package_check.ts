/**
 * The rules a package's file list must follow, applied by the package writer when a
 * package is built and by the reader when one is read (repository build, install):
 * canonical paths within the kernel's limits, symlinks that stay in the root, nothing
 * of ice-pkg's own, no parent that is not a directory, sizes that add up, and no
 * world-writable directory without the sticky bit.
 *
 * ```ts
 * checkFileList(meta, "foo-1.0-r0.ice"); // throws an integrity error naming the entry
 * ```
 */
import type { FileEntry, PackageMeta } from "./metadata.ts";
import { checkEntryPath, checkSymlinkTarget, parentsOf } from "./safe_path.ts";
import { reservedReason } from "./reserved.ts";
import { integrityError } from "./errors.ts";

/** setuid, setgid and sticky bits. */
export const SPECIAL_BITS = 0o7000;
const STICKY = 0o1000;
const WORLD_WRITABLE = 0o002;

/** Check one entry on its own; the error names `where` and the entry. */
function checkEntry(f: FileEntry, where: string): void {
  try {
    checkEntryPath(f.path);
    if (f.type === "symlink") {
      if (!f.target) throw new Error(`${JSON.stringify(f.path)}: symlink without target`);
      checkSymlinkTarget(f.path, f.target);
    }
  } catch (e) {
    throw integrityError(`${where}: ${(e as Error).message}`);
  }
  const reserved = reservedReason(f.path, f.type);
  if (reserved) throw integrityError(`${where}: ${f.path}: ${reserved}`);
  if (f.type === "file" && (f.size === undefined || f.sha256 === undefined)) {
    throw integrityError(`${where}: ${f.path}: file without size or sha256`);
  }
  if (f.type === "dir" && (f.mode & WORLD_WRITABLE) && !(f.mode & STICKY)) {
    throw integrityError(
      `${where}: ${f.path}: world-writable directory without the sticky bit (mode ${
        f.mode.toString(8)
      }): make it ${(f.mode | STICKY).toString(8)} or not world-writable`,
    );
  }
  if (f.type === "file" && (f.mode & SPECIAL_BITS) && (f.mode & WORLD_WRITABLE)) {
    throw integrityError(`${where}: ${f.path}: setuid/setgid/sticky on a world-writable file`);
  }
}

/**
 * Check the metadata's own file list (see the module doc). `maxInstalledSize`, if
 * given, caps the declared size.
 */
export function checkFileList(meta: PackageMeta, where: string, maxInstalledSize?: number): void {
  if (maxInstalledSize !== undefined && meta.installedSize > maxInstalledSize) {
    throw integrityError(
      `${where}: declares installed size ${meta.installedSize} bytes, more than the limit of ${maxInstalledSize}`,
    );
  }
  const byPath = new Map<string, FileEntry>();
  let total = 0;
  for (const f of meta.files) {
    checkEntry(f, where);
    if (byPath.has(f.path)) throw integrityError(`${where}: ${f.path}: listed twice`);
    byPath.set(f.path, f);
    total += f.size ?? 0;
  }
  if (total !== meta.installedSize) {
    throw integrityError(
      `${where}: installedSize ${meta.installedSize} but the files add up to ${total} bytes`,
    );
  }
  for (const c of meta.conffiles) {
    if (byPath.get(c)?.type !== "file") {
      throw integrityError(`${where}: conffiles: ${c}: not a regular file of the package`);
    }
  }
  for (const f of meta.files) {
    for (const p of parentsOf(f.path)) {
      const parent = byPath.get(p);
      if (parent && parent.type !== "dir") {
        throw integrityError(
          `${where}: ${f.path}: parent ${p} is a ${parent.type}, not a directory (writing through a symlink)`,
        );
      }
    }
  }
}
