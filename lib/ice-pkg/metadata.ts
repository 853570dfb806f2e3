/**
 * The package metadata member (`.ice-meta.json`, first in every `.ice`) and the
 * repository index: their types and their parsers. Parsing errors name the field
 * that is wrong (`files.3.mode: expected 0..4095, got 65535`); parsed values carry
 * the defaults and only the known fields, in a fixed order (the writer's output and
 * a repository's index depend on it).
 *
 * ```ts
 * const meta = parseMeta(JSON.parse(text), "foo.ice");
 * ```
 */
import { NAME_RE, parseDep } from "./dep.ts";
import { isValidUpstream } from "./version.ts";
import { integrityError } from "./errors.ts";
import { Validator } from "./_validate.ts";

/** Name of the metadata member, always the first entry of the tar. */
export const META_NAME = ".ice-meta.json";

/** Package architectures. */
export const ARCHES = ["x86_64", "aarch64", "armv7", "noarch"] as const;

/** A file entry of a package. */
export interface FileEntry {
  path: string;
  type: "file" | "dir" | "symlink";
  mode: number;
  uid: number;
  gid: number;
  size?: number;
  sha256?: string;
  target?: string;
}

/** Parsed package metadata. */
export interface PackageMeta {
  format: 1;
  name: string;
  version: string;
  release: number;
  arch: (typeof ARCHES)[number];
  description: string;
  license: string;
  depends: string[];
  provides: string[];
  conflicts: string[];
  replaces: string[];
  /** Configuration files: a user's changes survive upgrades (the new one goes to `<path>.ice-new`) and removal. */
  conffiles: string[];
  installedSize: number;
  files: FileEntry[];
}

/** Package metadata as written by a recipe (defaults not yet applied, files computed). */
export type PackageMetaInput =
  & Pick<PackageMeta, "name" | "version" | "release" | "arch">
  & Partial<
    Pick<
      PackageMeta,
      "description" | "license" | "depends" | "provides" | "conflicts" | "replaces" | "conffiles"
    >
  >;

/** A package as listed by a repository index. */
export interface IndexEntry {
  name: string;
  /** Full version `upstream-rN`. */
  version: string;
  arch: string;
  description: string;
  depends: string[];
  provides: string[];
  conflicts: string[];
  replaces: string[];
  sha256: string;
  size: number;
  installedSize: number;
  /** File name relative to the repository. */
  file: string;
}

/** A repository index: serial number (never goes down), creation and expiry, packages. */
export interface Index {
  format: 1;
  serial: number;
  created: string;
  expires: string;
  packages: IndexEntry[];
}

const SHA = { re: /^[0-9a-f]{64}$/, reMessage: "expected 64 hex digits" };
const ISO = {
  re: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/,
  reMessage: "expected an ISO date and time in UTC (2026-01-31T00:00:00Z)",
  check: (s: string) => (isNaN(Date.parse(s)) ? "not a valid date" : undefined),
};

function depList(v: Validator, x: unknown, path: string): string[] {
  if (x === undefined) return [];
  return v.array(x, path, (d, p) =>
    v.string(d, p, {
      check: (s) => {
        try {
          parseDep(s);
          return undefined;
        } catch (e) {
          return (e as Error).message;
        }
      },
    }));
}

function optional<T>(x: unknown, parse: () => T): T | undefined {
  return x === undefined ? undefined : parse();
}

function fileEntry(v: Validator, x: unknown, path: string): FileEntry {
  const o = v.object(x, path, ["path", "type", "mode", "uid", "gid", "size", "sha256", "target"]) ??
    {};
  const f: FileEntry = {
    path: v.string(o.path, `${path}.path`, { nonEmpty: true }),
    type: v.oneOf(o.type, `${path}.type`, ["file", "dir", "symlink"] as const),
    mode: v.int(o.mode, `${path}.mode`, 0, 0o7777),
    uid: o.uid === undefined ? 0 : v.int(o.uid, `${path}.uid`),
    gid: o.gid === undefined ? 0 : v.int(o.gid, `${path}.gid`),
  };
  const size = optional(o.size, () => v.int(o.size, `${path}.size`));
  const sha256 = optional(o.sha256, () => v.string(o.sha256, `${path}.sha256`, SHA));
  const target = optional(o.target, () => v.string(o.target, `${path}.target`, { nonEmpty: true }));
  if (size !== undefined) f.size = size;
  if (sha256 !== undefined) f.sha256 = sha256;
  if (target !== undefined) f.target = target;
  return f;
}

const META_FIELDS = [
  "format",
  "name",
  "version",
  "release",
  "arch",
  "description",
  "license",
  "depends",
  "provides",
  "conflicts",
  "replaces",
  "conffiles",
  "installedSize",
  "files",
];

/** Validate package metadata; the error names `where` and every bad field. */
export function parseMeta(value: unknown, where: string): PackageMeta {
  const v = new Validator();
  const o = v.object(value, "", META_FIELDS) ?? {};
  const meta: PackageMeta = {
    format: v.oneOf(o.format, "format", [1] as const),
    name: v.string(o.name, "name", { re: NAME_RE, reMessage: "lowercase letters, digits, ._+-" }),
    version: v.string(o.version, "version", {
      check: (s) => (isValidUpstream(s) ? undefined : "not a version like 1.2.3"),
    }),
    release: v.int(o.release, "release"),
    arch: v.oneOf(o.arch, "arch", ARCHES),
    description: o.description === undefined ? "" : v.string(o.description, "description"),
    license: o.license === undefined ? "" : v.string(o.license, "license"),
    depends: depList(v, o.depends, "depends"),
    provides: depList(v, o.provides, "provides"),
    conflicts: depList(v, o.conflicts, "conflicts"),
    replaces: depList(v, o.replaces, "replaces"),
    conffiles: o.conffiles === undefined
      ? []
      : v.array(o.conffiles, "conffiles", (c, p) => v.string(c, p, { nonEmpty: true })),
    installedSize: v.int(o.installedSize, "installedSize"),
    files: v.array(o.files, "files", (f, p) => fileEntry(v, f, p)),
  };
  if (v.issues.length) throw integrityError(`${where}: bad metadata: ${v.issues.join("; ")}`);
  return meta;
}

function indexEntry(v: Validator, x: unknown, path: string): IndexEntry {
  const o = v.object(x, path, [
    "name",
    "version",
    "arch",
    "description",
    "depends",
    "provides",
    "conflicts",
    "replaces",
    "sha256",
    "size",
    "installedSize",
    "file",
  ]) ?? {};
  return {
    name: v.string(o.name, `${path}.name`, { re: NAME_RE }),
    version: v.string(o.version, `${path}.version`),
    arch: v.string(o.arch, `${path}.arch`),
    description: o.description === undefined ? "" : v.string(o.description, `${path}.description`),
    depends: depList(v, o.depends, `${path}.depends`),
    provides: depList(v, o.provides, `${path}.provides`),
    conflicts: depList(v, o.conflicts, `${path}.conflicts`),
    replaces: depList(v, o.replaces, `${path}.replaces`),
    sha256: v.string(o.sha256, `${path}.sha256`, SHA),
    size: v.int(o.size, `${path}.size`),
    installedSize: v.int(o.installedSize, `${path}.installedSize`),
    file: v.string(o.file, `${path}.file`, {
      re: /^[A-Za-z0-9][A-Za-z0-9._+-]*\.ice$/,
      reMessage: "a plain file name ending in .ice",
    }),
  };
}

/** Validate a repository index; the error names `where` and every bad field. */
export function parseIndex(value: unknown, where: string): Index {
  const v = new Validator();
  const o = v.object(value, "", ["format", "serial", "created", "expires", "packages"]) ?? {};
  const index: Index = {
    format: v.oneOf(o.format, "format", [1] as const),
    serial: v.int(o.serial, "serial", 1),
    created: v.string(o.created, "created", ISO),
    expires: v.string(o.expires, "expires", ISO),
    packages: v.array(o.packages, "packages", (e, p) => indexEntry(v, e, p)),
  };
  if (v.issues.length) throw integrityError(`${where}: bad index: ${v.issues.join("; ")}`);
  return index;
}

export { fullVersion } from "./version.ts";
