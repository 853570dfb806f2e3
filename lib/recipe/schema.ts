/**
 * The schema of `pkgs/<name>/recipe.yaml`: a flat declaration in a fixed key order
 * (version, release, description, url, license, depends, sources) plus the fields
 * of its build *kind*. The generic steps of each kind live in TypeScript
 * (lib/recipe/kinds.ts), so a recipe holds no logic.
 *
 * ```yaml
 * version: "2022.83"
 * release: 1
 * description: Small SSH server
 * license: MIT
 * kind: autotools
 * sources:
 *   main: { url: https://example.org/dropbear-2022.83.tar.bz2, sha256: "..." }
 * configure: [--disable-zlib]
 * ```
 */
import { z } from "zod";
import { ARCHES } from "../arch.ts";
import { SourceSchema } from "../fetch/source.ts";
import { NAME_RE, parseDep } from "../ice-pkg/dep.ts";
import { isValidUpstream } from "../ice-pkg/version.ts";
import { HOST_TOOLS } from "../tools.ts";

/** Build kinds: how a recipe turns into a package tree. */
export const KINDS = ["stage", "files", "deb", "make", "autotools", "configure", "cmake"] as const;
export type Kind = typeof KINDS[number];

const Version = z
  .string({ error: 'must be a quoted string ("1.10" read as a number is 1.1)' })
  .refine(isValidUpstream, "bad version (expected like 1.2.3 or 2022.83)");

const Dep = z.string().refine((s) => {
  try {
    parseDep(s);
    return true;
  } catch {
    return false;
  }
}, "bad dependency (expected name or name>=1.2)");

/** A relative path: no leading slash, no `.` or `..` component. */
const RELATIVE = /^(?!\/)(?!.*(^|\/)\.\.?(\/|$))[^\0]+$/;

/** A path inside the package (no leading slash, no `..`). */
const PkgPath = z.string().regex(
  RELATIVE,
  "a relative path inside the package (no leading /, no . or ..)",
);

/** Octal mode as a string ("0755"): YAML would read 0755 as a number in base 10. */
const Mode = z.string().regex(/^0?[0-7]{3,4}$/, 'octal mode as a string, like "0644"');

/** A file taken from the recipe directory: `{ from, mode }` or just the file name. */
const AddFile = z.union([
  z.string().min(1),
  z.strictObject({ from: z.string().min(1), mode: Mode.optional() }),
]);

/** Fields every recipe has, in the order recipes write them. */
const Common = {
  version: Version,
  /** Packaging revision: bump it when the recipe changes but the version does not. */
  release: z.number().int().min(0),
  description: z.string().min(1),
  /** Project home page. */
  url: z.url().optional(),
  license: z.string().min(1),
  kind: z.enum(KINDS),
  /** Architectures the package builds for (default: all); boards of others lack it. */
  arches: z.array(z.enum(ARCHES)).min(1).optional(),
  /** Run-time dependencies (package names with optional version constraints). */
  depends: z.array(Dep).default([]),
  /** Virtual names this package also answers to in dependencies (Alpine's provides). */
  provides: z.array(Dep).default([]),
  /** Packages that cannot be installed beside this one. */
  conflicts: z.array(Dep).default([]),
  /** Packages whose files this one may take over (a file moved between packages). */
  replaces: z.array(Dep).default([]),
  /** Stages the build needs besides "musl" (e.g. "kernel-headers"). */
  buildNeeds: z.array(z.string().regex(/^[a-z0-9][a-z0-9:._-]*$/)).default([]),
  /** Pinned sources, by name ("main" is unpacked as the source tree). */
  sources: z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/), SourceSchema).default({}),
  /** Extra files from the recipe directory, by destination path in the package. */
  add: z.record(PkgPath, AddFile).default({}),
  /** Empty directories to create, with their mode. */
  dirs: z.record(PkgPath, Mode).default({}),
  /** Symlinks to create: path -> target. */
  symlinks: z.record(PkgPath, z.string().min(1)).default({}),
  /** Modes to force after install (e.g. etc/shadow: "0600"). */
  modes: z.record(PkgPath, Mode).default({}),
  /** Paths removed from the install tree (docs, man pages, static libraries). */
  remove: z.array(PkgPath).default([]),
  /** Configuration files: ice-pkg keeps the user's changes on upgrade. */
  conffiles: z.array(PkgPath).default([]),
  /** Services this package brings (service files under usr/lib/icenet/services/). */
  services: z.array(z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/)).default([]),
};

/** Fields of the kinds that compile a source tree. */
const Build = {
  /** Recipe files copied into the unpacked source tree before the build: dest -> file. */
  sourceFiles: z.record(PkgPath, z.string().min(1)).default({}),
  /** Patches (files beside the recipe) applied with `patch -p1`, in order. */
  patches: z.array(z.string().min(1)).default([]),
  /** Extra arguments of `make` (variables and targets). */
  make: z.array(z.string()).default([]),
  /** Arguments of the install step (default: `install`), run with DESTDIR set. */
  install: z.array(z.string()).default(["install"]),
  /** Strip ELF files after install (default true). */
  strip: z.boolean().default(true),
  /**
   * Libraries the build links against: packages of pkgs/ whose staged headers,
   * libraries and pkg-config files form this build's sysroot (Alpine's makedepends,
   * Buildroot's staging). With `link: shared` they are also run-time dependencies.
   */
  libs: z.array(z.string().regex(NAME_RE, "a package name of pkgs/")).default([]),
  /**
   * How programs and libraries link: `shared` (default; against the libraries' .so
   * and musl's loader, so the package depends on musl and its libs) or `static`
   * (against the staged .a files: nothing to install beside it).
   */
  link: z.enum(["shared", "static"]).default("shared"),
  /** Host programs the build runs besides the kind's own (make, tar, ...), e.g. bison. */
  hostTools: z.array(
    z.string().refine((t) => t in HOST_TOOLS, "not a host tool lib/tools.ts knows"),
  ).default([]),
};

const StageKind = z.strictObject({
  ...Common,
  kind: z.literal("stage"),
  /** The stage whose output is packaged. */
  stage: z.string().regex(/^[a-z0-9][a-z0-9:._-]*$/),
  /** Paths in the stage output -> paths in the package (a directory is copied whole). */
  copy: z.record(z.string().min(1), z.string()),
});

const FilesKind = z.strictObject({
  ...Common,
  kind: z.literal("files"),
  /** Directory beside the recipe whose tree becomes the package (default "files"). */
  tree: z.string().default("files"),
});

/**
 * Files taken from a Debian binary package (firmware and data Debian ships prebuilt,
 * arch `all`): source "main" is the .deb, `files` maps paths in the package to paths
 * in the .deb's data (a directory is copied whole, a symlink stays one).
 */
const DebKind = z.strictObject({
  ...Common,
  kind: z.literal("deb"),
  files: z.record(
    PkgPath,
    z.string().regex(RELATIVE, "a relative path in the .deb's data (no leading /, no . or ..)"),
  ).refine((f) => Object.keys(f).length > 0, "takes no file"),
});

const MakeKind = z.strictObject({ ...Common, ...Build, kind: z.literal("make") });

const AutotoolsKind = z.strictObject({
  ...Common,
  ...Build,
  kind: z.literal("autotools"),
  /** Run `autoreconf -fi` first: the source ships configure.ac but no configure. */
  autoreconf: z.boolean().default(false),
  /** Arguments added after --host/--build/--prefix/--sysconfdir/--localstatedir. */
  configure: z.array(z.string()).default([]),
});

/** A hand-written ./configure (not autoconf): only the arguments given are passed. */
const ConfigureKind = z.strictObject({
  ...Common,
  ...Build,
  kind: z.literal("configure"),
  configure: z.array(z.string()).default([]),
});

/** A CMake project, cross-configured for the board; built and installed with make. */
const CmakeKind = z.strictObject({
  ...Common,
  ...Build,
  kind: z.literal("cmake"),
  /** Arguments (`-DOPTION=value`) added after the toolchain's. */
  configure: z.array(z.string()).default([]),
});

/** Schema of each kind, so errors name the fields of that kind. */
export const KIND_SCHEMAS = {
  stage: StageKind,
  files: FilesKind,
  deb: DebKind,
  make: MakeKind,
  autotools: AutotoolsKind,
  configure: ConfigureKind,
  cmake: CmakeKind,
} as const;

/** First pass: only the kind, so the second pass can use that kind's strict schema. */
export const KindOnly = z.looseObject({ kind: z.enum(KINDS) });

/** Where a recipe came from: its package name (the directory), directory and file. */
export interface RecipeOrigin {
  name: string;
  /** Absolute directory of the recipe (files beside it are resolved here). */
  dir: string;
  /** Path for messages, e.g. `pkgs/dropbear/recipe.yaml`. */
  file: string;
}

export type StageRecipe = z.output<typeof StageKind> & RecipeOrigin;
export type FilesRecipe = z.output<typeof FilesKind> & RecipeOrigin;
export type DebRecipe = z.output<typeof DebKind> & RecipeOrigin;
export type MakeRecipe = z.output<typeof MakeKind> & RecipeOrigin;
export type AutotoolsRecipe = z.output<typeof AutotoolsKind> & RecipeOrigin;
export type ConfigureRecipe = z.output<typeof ConfigureKind> & RecipeOrigin;
export type CmakeRecipe = z.output<typeof CmakeKind> & RecipeOrigin;
/** A build recipe (compiles sources). */
export type BuildRecipe = MakeRecipe | AutotoolsRecipe | ConfigureRecipe | CmakeRecipe;

/** A validated recipe, with the name and directory it was loaded from. */
export type Recipe = StageRecipe | FilesRecipe | DebRecipe | BuildRecipe;
