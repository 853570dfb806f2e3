/**
 * A pinned source: where it comes from and the sha256 it must have. Only the
 * sha256 enters cache keys, so moving a source to another mirror rebuilds nothing.
 */
import { z } from "zod";

/** A file inside a Debian binary package (e.g. firmware or a kernel tarball). */
export const DebianBinary = z.strictObject({
  /** Binary package name, e.g. `linux-source-6.1`. */
  package: z.string().min(1),
  /** Exact Debian version, e.g. `6.1.158-1`. */
  version: z.string().min(1),
  /** Debian architecture of the package (default: all, else the host's). */
  arch: z.string().optional(),
  /** Path of the wanted file inside the package's data (no leading slash); omit for the .deb itself. */
  member: z.string().optional(),
  /** Archive component (main, non-free-firmware, ...). */
  component: z.string().optional(),
});

/** A file of a Debian source package (typically the `.orig.tar.*`). */
export const DebianSource = z.strictObject({
  /** Source package name, e.g. `musl`. */
  source: z.string().min(1),
  /** Exact Debian version, e.g. `1.2.3-1`. */
  version: z.string().min(1),
  /** File name in the source package, e.g. `musl_1.2.3.orig.tar.gz`. */
  file: z.string().min(1),
  component: z.string().optional(),
});

/** A package tarball from the npm registry npm is configured with (`npm pack`). */
export const NpmPackage = z.strictObject({
  package: z.string().min(1),
  version: z.string().min(1),
});

/** A source declaration, as written in stages and recipes. */
export const SourceSchema = z.strictObject({
  url: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, "must be 64 lowercase hex digits"),
  /** File name in the download dir (default: last segment of the url). */
  filename: z.string().optional(),
  /** Extra URLs or local directories tried before `url`. */
  mirrors: z.array(z.string()).optional(),
  /** How to get the same bytes from Debian when upstream is unreachable. */
  debian: z.union([DebianBinary, DebianSource]).optional(),
  /** How to get the same bytes from the npm registry. */
  npm: NpmPackage.optional(),
});

export type Source = z.output<typeof SourceSchema>;

/** The file name a source is stored under in the download dir. */
export function sourceFilename(src: Source): string {
  if (src.filename) return src.filename;
  const name = new URL(src.url).pathname.split("/").filter(Boolean).pop();
  if (!name) throw new Error(`source ${src.url}: cannot derive a file name; set filename`);
  return name;
}
