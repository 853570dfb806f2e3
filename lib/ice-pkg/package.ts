/**
 * `.ice` packages: a tar.xz whose first member is `.ice-meta.json` (the metadata,
 * with the full file list) followed by the payload. Writing is in
 * `package_write.ts` (deterministic, streaming), reading and validation in
 * `package_read.ts` (streaming, refuses hostile archives), the file-list rules both
 * apply in `package_check.ts`.
 *
 * ```ts
 * await writePackage("build/foo", { name: "foo", version: "1.0", release: 0, arch: "noarch" }, "foo.ice");
 * const meta = await readPackageMeta("foo.ice", { where: "foo-1.0-r0.ice" });
 * ```
 */
export { createPackage, streamPackage, type WriteOptions, writePackage } from "./package_write.ts";
export {
  type EntrySink,
  type Expected,
  MAX_META_BYTES,
  type Package,
  parsePackageTar,
  type ReadHandlers,
  type ReadOptions,
  readPackage,
  readPackageFile,
  readPackageHead,
  readPackageMeta,
  readPackageTar,
} from "./package_read.ts";
export { checkFileList } from "./package_check.ts";
