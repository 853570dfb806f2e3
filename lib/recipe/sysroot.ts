/**
 * Library dependencies of recipes (Buildroot's staging, Alpine's makedepends): a
 * compiled package's stage outputs, beside its `.ice`, a `staging/` tree with its
 * headers, libraries and pkg-config files (and those of the libraries it was built
 * against, so the tree is closed under dependencies). A recipe naming `libs` builds
 * against a per-stage sysroot merged from those trees; the musl stage's sysroot stays
 * the compiler's own (`--sysroot`), this one is added through CPPFLAGS, LDFLAGS and
 * pkg-config's PKG_CONFIG_LIBDIR / PKG_CONFIG_SYSROOT_DIR, which autotools, meson and
 * cmake all read.
 *
 * ```ts
 * const sys = await assembleSysroot(ctx, recipe, join(ctx.tmp, "sysroot"));
 * const env = sysrootEnv(sys, recipe.libs.length > 0, recipe.link);
 * // after `make install DESTDIR=tree`:
 * await stageDevFiles(tree, sys, join(ctx.out, STAGING));
 * ```
 */
import { dirname, join } from "node:path";
import { parseDep } from "../ice-pkg/dep.ts";
import type { StageContext } from "../stage.ts";
import type { BuildRecipe, Recipe } from "./schema.ts";

/** The directory of a package stage's output that holds its staged development files. */
export const STAGING = "staging";

/** The stage that builds a library package. */
export function libStage(lib: string): string {
  return `pkg:${lib}`;
}

/** Is this recipe compiled (make, autotools, configure)? */
export function isCompiled(r: Recipe): r is BuildRecipe {
  return r.kind === "make" || r.kind === "autotools" || r.kind === "configure" ||
    r.kind === "cmake";
}

/**
 * The run-time dependencies recorded in the package: the recipe's `depends`, and for
 * a shared build musl (its loader) and every library of `libs` not already named.
 */
export function runtimeDepends(r: Recipe): string[] {
  const out = [...r.depends];
  if (!isCompiled(r) || r.link !== "shared") return out;
  const named = new Set(out.map((d) => parseDep(d).name));
  for (const lib of ["musl", ...r.libs]) {
    if (!named.has(lib)) {
      out.push(lib);
      named.add(lib);
    }
  }
  return out;
}

/**
 * Merge the staging trees of the recipe's libraries into `dir` (created). Two
 * libraries may stage the same file (a shared dependency) only with the same bytes.
 */
export async function assembleSysroot(
  ctx: StageContext,
  r: BuildRecipe,
  dir: string,
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  for (const lib of r.libs) {
    const out = ctx.deps[libStage(lib)];
    if (!out) throw new Error(`${r.file}: libs: ${lib}: stage ${libStage(lib)} is not built`);
    const staging = join(out, STAGING);
    if (!(await Deno.lstat(staging).catch(() => undefined))?.isDirectory) {
      throw new Error(
        `${r.file}: libs: ${lib}: its package stages no headers or libraries (not a library)`,
      );
    }
    await mergeTree(staging, dir, `${r.file}: libs: ${lib}`);
  }
  return dir;
}

/**
 * The environment that points a build at the sysroot. pkg-config always searches
 * only there (no host .pc file can leak in); with libraries, the compiler and
 * linker search it too, and `-rpath-link` finds the libraries' own dependencies.
 */
export function sysrootEnv(
  sys: string,
  hasLibs: boolean,
  link: "shared" | "static" = "shared",
): Record<string, string> {
  const env: Record<string, string> = {
    // A static link needs the libraries' own dependencies too (Libs.private).
    PKG_CONFIG: link === "static" ? "pkg-config --static" : "pkg-config",
    PKG_CONFIG_LIBDIR: `${sys}/usr/lib/pkgconfig:${sys}/usr/share/pkgconfig`,
    PKG_CONFIG_SYSROOT_DIR: sys,
  };
  if (hasLibs) {
    env.CPPFLAGS = `-I${sys}/usr/include`;
    env.LDFLAGS = `-L${sys}/usr/lib -Wl,-rpath-link,${sys}/usr/lib`;
  }
  return env;
}

/** Directories of an install tree that only a build uses. */
const DEV_DIRS = [
  "usr/include",
  "usr/lib/pkgconfig",
  "usr/share/pkgconfig",
  "usr/share/aclocal",
  "usr/lib/cmake",
];
/** Library directories: their .a, .la and unversioned .so links are development files. */
const LIB_DIRS = ["usr/lib", "lib"];

/**
 * Split an install tree: headers, libraries (.so and .a) and pkg-config files go to
 * `staging` (created only if there are any), on top of the sysroot the package was
 * built against; the development-only files (headers, .a, .la, unversioned .so links,
 * .pc files) leave the package tree. libtool's .la files are dropped: they name
 * /usr/lib, which a later cross build would read as the host's.
 */
export async function stageDevFiles(
  tree: string,
  sys: string,
  staging: string,
  buildPath?: { from: string; to: string },
): Promise<void> {
  const own = join(dirname(tree), "staging-own");
  let any = false;
  for (const d of [...DEV_DIRS, ...LIB_DIRS]) {
    const from = join(tree, d);
    if (!(await Deno.lstat(from).catch(() => undefined))?.isDirectory) continue;
    await mergeTree(from, join(own, d), d, (name) => !name.endsWith(".la"));
    any = true;
  }
  if (!any) return;
  if (buildPath) { for (const d of DEV_DIRS) await unmapText(join(own, d), buildPath); }
  await mergeTree(sys, staging, "sysroot");
  await mergeTree(own, staging, "package");
  await Deno.remove(own, { recursive: true });
  for (const d of DEV_DIRS) await Deno.remove(join(tree, d), { recursive: true }).catch(notFound);
  for (const d of LIB_DIRS) {
    const dir = join(tree, d);
    if (!(await Deno.lstat(dir).catch(() => undefined))?.isDirectory) continue;
    for await (const e of Deno.readDir(dir)) {
      const dev = e.name.endsWith(".a") || e.name.endsWith(".la") ||
        (e.isSymlink && e.name.endsWith(".so"));
      if (dev) await Deno.remove(join(dir, e.name));
    }
  }
}

/**
 * Replace the build directory in the text files under `dir` (headers, .pc files):
 * generated headers may name it in a comment (ncurses' curses.h), and the staging
 * tree is a stage output that must not depend on where the build ran.
 */
async function unmapText(dir: string, path: { from: string; to: string }): Promise<void> {
  if (!(await Deno.lstat(dir).catch(() => undefined))?.isDirectory) return;
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory) await unmapText(p, path);
    else if (e.isFile) {
      const bytes = await Deno.readFile(p);
      if (bytes.includes(0)) continue;
      const text = new TextDecoder().decode(bytes);
      if (text.includes(path.from)) {
        await Deno.writeTextFile(p, text.replaceAll(path.from, path.to));
      }
    }
  }
}

function notFound(e: unknown): void {
  if (!(e instanceof Deno.errors.NotFound)) throw e;
}

/**
 * Copy `src` into `dst`, keeping symlinks and modes; an entry already there must be
 * the same (same bytes, same link target), else the error names `where`.
 */
async function mergeTree(
  src: string,
  dst: string,
  where: string,
  keep: (name: string) => boolean = () => true,
): Promise<void> {
  const st = await Deno.lstat(src);
  const have = await Deno.lstat(dst).catch(() => undefined);
  if (st.isDirectory) {
    if (have && !have.isDirectory) throw new Error(`${where}: ${dst} is not a directory`);
    await Deno.mkdir(dst, { recursive: true });
    for (const n of [...Deno.readDirSync(src)].map((e) => e.name).sort()) {
      if (keep(n)) await mergeTree(join(src, n), join(dst, n), where, keep);
    }
    return;
  }
  if (st.isSymlink) {
    const target = await Deno.readLink(src);
    if (have) {
      if (!have.isSymlink || await Deno.readLink(dst) !== target) {
        throw new Error(`${where}: ${dst} is staged twice, differently`);
      }
      return;
    }
    await Deno.mkdir(dirname(dst), { recursive: true });
    await Deno.symlink(target, dst);
    return;
  }
  if (have) {
    const same = have.isFile &&
      equalBytes(await Deno.readFile(src), await Deno.readFile(dst));
    if (!same) throw new Error(`${where}: ${dst} is staged twice, differently`);
    return;
  }
  await Deno.mkdir(dirname(dst), { recursive: true });
  await Deno.copyFile(src, dst);
  await Deno.chmod(dst, (st.mode! & 0o7777) | 0o200);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
