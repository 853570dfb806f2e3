/**
 * Schemas of the package metadata member (`.ice-meta.json`, first in every `.ice`)
 * and of the repository index. Parsing errors name the field that is wrong.
 *
 * ```ts
 * const meta = parseMeta(JSON.parse(text), "foo.ice");
 * ```
 */
import { z } from "zod";
import { NAME_RE, parseDep } from "./dep.ts";
import { isValidUpstream } from "./version.ts";
import { integrityError } from "./errors.ts";

/** Name of the metadata member, always the first entry of the tar. */
export const META_NAME = ".ice-meta.json";

const depList = z.array(
  z.string().superRefine((s, ctx) => {
    try {
      parseDep(s);
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
    }
  }),
).default([]);

const sha = z.string().regex(/^[0-9a-f]{64}$/, "expected 64 hex digits");

/** One entry of the file list. */
export const FileEntrySchema = z.strictObject({
  path: z.string().min(1),
  type: z.enum(["file", "dir", "symlink"]),
  mode: z.number().int().min(0).max(0o7777),
  uid: z.number().int().min(0).default(0),
  gid: z.number().int().min(0).default(0),
  size: z.number().int().min(0).optional(),
  sha256: sha.optional(),
  target: z.string().min(1).optional(),
});

/** A file entry of a package. */
export type FileEntry = z.output<typeof FileEntrySchema>;

/** Package metadata. */
export const MetaSchema = z.strictObject({
  format: z.literal(1),
  name: z.string().regex(NAME_RE, "lowercase letters, digits, ._+-"),
  version: z.string().refine(isValidUpstream, "not a version like 1.2.3"),
  release: z.number().int().min(0),
  arch: z.enum(["x86_64", "aarch64", "armv7", "noarch"]),
  description: z.string().default(""),
  license: z.string().default(""),
  depends: depList,
  provides: depList,
  conflicts: depList,
  replaces: depList,
  /** Configuration files: a user's changes survive upgrades (the new one goes to `<path>.ice-new`) and removal. */
  conffiles: z.array(z.string().min(1)).default([]),
  installedSize: z.number().int().min(0),
  files: z.array(FileEntrySchema),
});

/** Parsed package metadata. */
export type PackageMeta = z.output<typeof MetaSchema>;
/** Package metadata as written by a recipe (defaults not yet applied, files computed). */
export type PackageMetaInput = Omit<
  z.input<typeof MetaSchema>,
  "files" | "installedSize" | "format"
>;

/** One package in a repository index. */
export const IndexEntrySchema = z.strictObject({
  name: z.string().regex(NAME_RE),
  /** Full version `upstream-rN`. */
  version: z.string(),
  arch: z.string(),
  description: z.string().default(""),
  depends: depList,
  provides: depList,
  conflicts: depList,
  replaces: depList,
  sha256: sha,
  size: z.number().int().min(0),
  installedSize: z.number().int().min(0),
  /** File name relative to the repository. */
  file: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._+-]*\.ice$/, "a plain file name ending in .ice"),
});

/** A package as listed by a repository index. */
export type IndexEntry = z.output<typeof IndexEntrySchema>;

/** A repository index: serial number (never goes down), expiry, packages. */
export const IndexSchema = z.strictObject({
  format: z.literal(1),
  serial: z.number().int().min(1),
  created: z.iso.datetime(),
  expires: z.iso.datetime(),
  packages: z.array(IndexEntrySchema),
});

/** A parsed repository index. */
export type Index = z.output<typeof IndexSchema>;

function issues(e: z.ZodError): string {
  return e.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ");
}

/** Validate package metadata; the error names `where` and the bad field. */
export function parseMeta(value: unknown, where: string): PackageMeta {
  const r = MetaSchema.safeParse(value);
  if (!r.success) throw integrityError(`${where}: bad metadata: ${issues(r.error)}`);
  return r.data;
}

/** Validate a repository index; the error names `where` and the bad field. */
export function parseIndex(value: unknown, where: string): Index {
  const r = IndexSchema.safeParse(value);
  if (!r.success) throw integrityError(`${where}: bad index: ${issues(r.error)}`);
  return r.data;
}

export { fullVersion } from "./version.ts";
