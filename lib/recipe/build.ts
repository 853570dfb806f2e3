/**
 * The generic steps of each recipe kind (Buildroot's generic-package and
 * autotools-package in TypeScript): fill a package tree from a recipe, then apply
 * the declarative fix-ups every kind shares (add, dirs, symlinks, modes, remove,
 * strip).
 *
 * ```ts
 * await buildTree(recipe, ctx, join(ctx.tmp, "pkg"));
 * ```
 */
import { basename, dirname, join, normalize } from "node:path";
import type { Board } from "../board.ts";
import type { StageContext } from "../stage.ts";
import type { BuildRecipe, DebRecipe, Recipe, StageRecipe } from "./schema.ts";
import { cmakeArgs, cmakeEnv } from "./cmake.ts";
import {
  assembleSysroot,
  isCompiled,
  libStage,
  stageDevFiles,
  STAGING,
  sysrootEnv,
} from "./sysroot.ts";

/**
 * The stages a recipe's kind needs: the musl toolchain (its version is part of
 * every binary package) and, for the `stage` kind, the packaged stage. A `files` or
 * `deb` package holds no binaries, so it needs nothing and musl changes leave it be.
 */
export function kindNeeds(r: Recipe): string[] {
  if (r.kind === "files" || r.kind === "deb") return [];
  return r.kind === "stage" ? ["musl", r.stage] : ["musl", ...r.libs.map(libStage)];
}

/** Host programs a recipe's build runs (they enter its cache key). */
export function kindTools(r: Recipe, board: Board): string[] {
  if (r.kind === "stage" || r.kind === "files") return [];
  if (r.kind === "deb") return ["dpkg-deb"];
  const tools = ["make", "tar", "bzip2", "gzip", "xz", `${board.cross}strip`, `${board.cross}ar`];
  if (r.patches.length > 0) tools.push("patch");
  if (r.libs.length > 0) tools.push("pkg-config");
  if (r.kind === "cmake") tools.push("cmake");
  if (r.kind === "autotools" && r.autoreconf) tools.push("autoreconf", "automake");
  return [...new Set([...tools, ...r.hostTools])];
}

/** Fill `tree` (created) with the recipe's files for `ctx.board`. */
export async function buildTree(r: Recipe, ctx: StageContext, tree: string): Promise<void> {
  await Deno.mkdir(tree, { recursive: true });
  switch (r.kind) {
    case "stage":
      await copyFromStage(r, ctx, tree);
      break;
    case "files": {
      const src = join(r.dir, r.tree);
      if (!(await Deno.lstat(src).catch(() => undefined))?.isDirectory) {
        throw new Error(`${r.file}: tree: ${r.tree}/ is not a directory beside the recipe`);
      }
      for (const e of [...Deno.readDirSync(src)].map((e) => e.name).sort()) {
        await copyTree(join(src, e), join(tree, e), true);
      }
      break;
    }
    case "deb":
      await copyFromDeb(r, ctx, tree);
      break;
    default:
      await compile(r, ctx, tree);
  }
  await finish(r, ctx, tree);
}

/** `stage` kind: copy paths of another stage's output into the package. */
async function copyFromStage(r: StageRecipe, ctx: StageContext, tree: string): Promise<void> {
  const from = ctx.deps[r.stage];
  if (!from) throw new Error(`${r.file}: stage: "${r.stage}" is not among the stage's needs`);
  for (const [src, dst] of Object.entries(r.copy)) {
    const abs = join(from, src);
    try {
      await Deno.lstat(abs);
    } catch {
      throw new Error(`${r.file}: copy: ${src}: not in the output of stage "${r.stage}"`);
    }
    await copyTree(abs, join(tree, dst), false);
  }
}

/**
 * `deb` kind: paths of the .deb's data (`dpkg-deb -x`, no maintainer scripts run),
 * modes normalised like `files`. A symlink taken must point at something taken too:
 * else the package would ship a dangling link.
 */
async function copyFromDeb(r: DebRecipe, ctx: StageContext, tree: string): Promise<void> {
  const deb = ctx.sources["main"];
  if (!deb) throw new Error(`${r.file}: sources: a "deb" recipe needs a source "main" (the .deb)`);
  const data = join(ctx.tmp, "deb");
  await ctx.$`dpkg-deb -x ${deb} ${data}`;
  for (const [dst, src] of Object.entries(r.files)) {
    if (!(await Deno.lstat(join(data, src)).catch(() => undefined))) {
      throw new Error(`${r.file}: files: ${dst}: ${src} is not in ${basename(deb)}`);
    }
    await copyTree(join(data, src), join(tree, dst), true);
  }
  for (const dst of Object.keys(r.files)) {
    for (const link of await symlinksUnder(join(tree, dst))) {
      if (!(await resolvesInside(tree, link))) {
        const rel = link.slice(tree.length + 1);
        const to = await Deno.readLink(link);
        throw new Error(`${r.file}: files: ${dst}: ${rel} links to ${to}, which is not taken`);
      }
    }
  }
}

/** The symlinks at or under `path`. */
async function symlinksUnder(path: string): Promise<string[]> {
  const st = await Deno.lstat(path);
  if (st.isSymlink) return [path];
  if (!st.isDirectory) return [];
  const out: string[] = [];
  for (const e of [...Deno.readDirSync(path)].map((e) => e.name).sort()) {
    out.push(...await symlinksUnder(join(path, e)));
  }
  return out;
}

/** Does the symlink `link` lead, within `tree` (absolute targets from its root), to a file or directory? */
async function resolvesInside(tree: string, link: string): Promise<boolean> {
  let p = link;
  for (let hops = 0; hops < 40; hops++) {
    const st = await Deno.lstat(p).catch(() => undefined);
    if (!st) return false;
    if (!st.isSymlink) return true;
    const to = await Deno.readLink(p);
    p = normalize(to.startsWith("/") ? join(tree, to) : join(dirname(p), to));
    if (!p.startsWith(tree + "/")) return false;
  }
  return false;
}

/**
 * Copy a file, symlink or directory tree (symlinks stay symlinks). With `normalise`,
 * modes become 0644, or 0755 if executable, and directories 0755: git and the
 * umask decide checkout modes, the package must not. Without it, modes are kept
 * (plus owner write: store entries may be read-only).
 */
export async function copyTree(src: string, dst: string, normalise: boolean): Promise<void> {
  const st = await Deno.lstat(src);
  await Deno.mkdir(dirname(dst), { recursive: true });
  if (st.isSymlink) {
    await Deno.symlink(await Deno.readLink(src), dst);
  } else if (st.isDirectory) {
    await Deno.mkdir(dst, { recursive: true });
    await Deno.chmod(dst, normalise ? 0o755 : (st.mode! & 0o7777) | 0o200);
    const names = [...Deno.readDirSync(src)].map((e) => e.name).sort();
    for (const n of names) await copyTree(join(src, n), join(dst, n), normalise);
  } else if (st.isFile) {
    await Deno.copyFile(src, dst);
    const exec = (st.mode! & 0o100) !== 0;
    await Deno.chmod(dst, normalise ? (exec ? 0o755 : 0o644) : (st.mode! & 0o7777) | 0o200);
  } else {
    throw new Error(`${src}: not a file, directory or symlink`);
  }
}

/**
 * Compiler flags a dynamically linked build needs per architecture. aarch64: gcc 12
 * turns atomics into calls to libgcc.a's helpers, whose set-up calls glibc's name
 * `__getauxval`; musl keeps that name hidden in libc.so (libc.a has it, so static
 * programs link), so a shared libcurl failed to link its programs. Inline atomics
 * need no helper.
 */
const SHARED_CFLAGS: Record<Board["arch"], string> = {
  x86_64: "",
  aarch64: "-mno-outline-atomics",
  armv7: "",
};

/**
 * The toolchain environment of a compiling build: the musl wrapper, and the sysroot
 * `sys` of the recipe's libraries (lib/recipe/sysroot.ts). `static` links every
 * program with -static, as all packages did before libraries.
 */
export function buildEnv(
  ctx: StageContext,
  src: string,
  name: string,
  sys: string,
  opts: { static: boolean; libs: boolean },
): Record<string, string> {
  const { board } = ctx;
  const musl = ctx.deps["musl"];
  if (!musl) throw new Error(`package ${name}: the "musl" stage output is missing`);
  const cc = join(musl, "bin", `${board.triple}-gcc`);
  // -ffile-prefix-map: no build path in the binaries (__FILE__ in asserts), nor the
  // sysroot's (its headers are /usr/include on the device).
  const maps = `-ffile-prefix-map=${src}=/usr/src/${name}` +
    (opts.libs ? ` -ffile-prefix-map=${sys}=` : "");
  const arch = opts.static ? "" : SHARED_CFLAGS[board.arch];
  const cflags = [`-Os -pipe ${maps}`, board.cflags, arch].filter(Boolean).join(" ");
  const sysEnv = sysrootEnv(sys, opts.libs, opts.static ? "static" : "shared");
  const ldflags = [opts.static ? "-static" : "", sysEnv.LDFLAGS ?? ""].filter(Boolean).join(" ");
  return {
    ...ctx.env,
    ...sysEnv,
    CC: opts.static ? `${cc} -static` : cc,
    CFLAGS: cflags,
    LDFLAGS: ldflags,
    AR: `${board.cross}ar`,
    RANLIB: `${board.cross}ranlib`,
    STRIP: `${board.cross}strip`,
  };
}

/** The compiled kinds: unpack, patch, configure, make, install, stage the libraries. */
async function compile(r: BuildRecipe, ctx: StageContext, tree: string): Promise<void> {
  const archive = ctx.sources["main"];
  if (!archive) throw new Error(`${r.file}: sources: a "${r.kind}" recipe needs a source "main"`);
  const src = join(ctx.tmp, "src");
  await Deno.mkdir(src);
  await ctx.$`tar -xf ${archive} -C ${src} --strip-components=1 --no-same-owner`;
  for (const [dst, file] of Object.entries(r.sourceFiles)) {
    await Deno.copyFile(join(r.dir, file), join(src, dst));
  }
  for (const p of r.patches) {
    await ctx.$`patch -p1 --forward --batch -i ${join(r.dir, p)}`.cwd(src);
  }
  const sys = await assembleSysroot(ctx, r, join(ctx.tmp, "sysroot"));
  const libs = r.libs.length > 0;
  const env = buildEnv(ctx, src, r.name, sys, { static: r.link === "static", libs });
  const $ = ctx.$;
  if (r.kind === "autotools" && r.autoreconf) await $`autoreconf -fi`.cwd(src).env(env);
  if (r.kind === "autotools") {
    await $`./configure --host=${ctx.board.triple} --build=x86_64-pc-linux-gnu --prefix=/usr --sysconfdir=/etc --localstatedir=/var ${r.configure}`
      .cwd(src).env(env);
  } else if (r.kind === "configure") {
    await $`./configure ${r.configure}`.cwd(src).env(env);
  }
  // CMake builds out of the source tree.
  const dir = r.kind === "cmake" ? join(ctx.tmp, "build") : src;
  const menv = r.kind === "cmake" ? cmakeEnv(env) : env;
  if (r.kind === "cmake") {
    await $`cmake -S ${src} -B ${dir} ${cmakeArgs(ctx.board, env, sys, r)}`.env(menv);
  }
  await $`make -j${ctx.jobs} ${r.make}`.cwd(dir).env(menv);
  await $`make DESTDIR=${tree} ${r.install}`.cwd(dir).env(menv);
  // The build directory becomes the path -ffile-prefix-map gives it in binaries.
  const buildPath = { from: src, to: `/usr/src/${r.name}` };
  await stageDevFiles(tree, sys, join(ctx.out, STAGING), buildPath);
}

/** What every kind shares: add, dirs, symlinks, remove, modes, strip. */
async function finish(r: Recipe, ctx: StageContext, tree: string): Promise<void> {
  for (const [dst, spec] of Object.entries(r.add)) {
    const { from, mode } = typeof spec === "string" ? { from: spec, mode: undefined } : spec;
    const target = join(tree, dst);
    await Deno.mkdir(dirname(target), { recursive: true });
    try {
      await Deno.copyFile(join(r.dir, from), target);
    } catch (e) {
      throw new Error(`${r.file}: add: ${dst}: cannot copy ${from}: ${(e as Error).message}`);
    }
    const exec = ((await Deno.stat(join(r.dir, from))).mode! & 0o100) !== 0;
    await Deno.chmod(target, mode ? parseInt(mode, 8) : exec ? 0o755 : 0o644);
  }
  for (const [dir, mode] of Object.entries(r.dirs)) {
    await Deno.mkdir(join(tree, dir), { recursive: true });
    await Deno.chmod(join(tree, dir), parseInt(mode, 8));
  }
  for (const [link, target] of Object.entries(r.symlinks)) {
    await Deno.mkdir(dirname(join(tree, link)), { recursive: true });
    await Deno.symlink(target, join(tree, link));
  }
  for (const p of r.remove) {
    await Deno.remove(join(tree, p), { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
  for (const [p, mode] of Object.entries(r.modes)) {
    try {
      await Deno.chmod(join(tree, p), parseInt(mode, 8));
    } catch {
      throw new Error(`${r.file}: modes: ${p}: not in the package`);
    }
  }
  for (const c of r.conffiles) {
    const st = await Deno.lstat(join(tree, c)).catch(() => undefined);
    if (!st?.isFile) throw new Error(`${r.file}: conffiles: ${c}: not a file of the package`);
  }
  for (const s of r.services) {
    const p = join(tree, "usr/lib/icenet/services", s);
    if (!(await Deno.lstat(p).catch(() => undefined))?.isFile) {
      throw new Error(
        `${r.file}: services: ${s}: usr/lib/icenet/services/${s} is not in the package`,
      );
    }
  }
  if (isCompiled(r) && r.strip) await stripElves(ctx, tree);
  await pruneEmptyDirs(tree, new Set(Object.keys(r.dirs)));
}

/** Strip every ELF file (debug info carries paths and is dead weight on the device). */
async function stripElves(ctx: StageContext, tree: string): Promise<void> {
  const elves: string[] = [];
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const p = join(dir, e.name);
      if (e.isDirectory) await walk(p);
      else if (e.isFile) {
        using f = await Deno.open(p);
        const head = new Uint8Array(4);
        const n = await f.read(head);
        if (
          n === 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46
        ) {
          elves.push(p);
        }
      }
    }
  };
  await walk(tree);
  if (elves.length > 0) await ctx.$`${ctx.board.cross}strip --strip-all ${elves.sort()}`;
}

/** Remove directories left empty by `remove` (except the declared ones). */
async function pruneEmptyDirs(tree: string, keep: Set<string>): Promise<void> {
  const walk = async (rel: string): Promise<boolean> => {
    let empty = true;
    for await (const e of Deno.readDir(join(tree, rel))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory && !e.isSymlink) {
        if (await walk(r)) await Deno.remove(join(tree, r));
        else empty = false;
      } else empty = false;
    }
    return empty && !keep.has(rel) && rel !== "";
  };
  await walk("");
}
