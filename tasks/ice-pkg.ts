/**
 * Stage "ice-pkg": the device program. IceNet's root is musl + busybox, and Deno
 * only ships glibc builds for x86_64 and aarch64, so the program is
 *
 *   usr/bin/ice-pkg                 launcher script
 *   usr/lib/ice-pkg/ice-pkg.js      lib/ice-pkg/main.ts as one file (`deno bundle`)
 *   usr/lib/ice-pkg/deno            the target's deno (npm @deno/linux-*-glibc),
 *                                   interpreter and rpath pointed at lib/ (patchelf)
 *   usr/lib/ice-pkg/lib/            glibc's loader and libraries (Debian's libc6 and
 *                                   libgcc-s1 for the target architecture)
 *
 * With DENORT_BIN set (a local denort), `deno compile` makes usr/lib/ice-pkg/ice-pkg
 * instead of deno + ice-pkg.js; it still uses the private loader and libraries.
 * 32-bit ARM gets no stage: Deno has no armv7 build (those boards get their packages
 * at image build time).
 *
 *   deno run -A tasks/ice-pkg.ts --board zima
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Board } from "../lib/board.ts";
import { runStandalone } from "../lib/cli.ts";
import type { Source } from "../lib/fetch/source.ts";
import { defineStage, type Stage, type StageContext } from "../lib/stage.ts";
import { DENO_FLAGS } from "../lib/ice-pkg/runtime.ts";

const DENO_VERSION = "2.9.6";
const LIBC6 = "2.36-9+deb12u14";
const LIBGCC = "12.2.0-14+deb12u1";
/**
 * The esbuild that `deno bundle` of DENO_VERSION runs. Deno downloads it into
 * `$DENO_DIR/dl/esbuild-<version>-1/` on first use; the stage puts the pinned copy
 * there instead, so bundling needs no network and no cache of the caller's.
 */
const ESBUILD_VERSION = "0.25.5";
const ESBUILD: Record<string, { npm: string; sha256: string }> = {
  x86_64: {
    npm: "@esbuild/linux-x64",
    sha256: "95a928d8187c6f7ad632a3f3bbf01f66dfd5b5adb724b8bfeec5fff73ff2d91a",
  },
  aarch64: {
    npm: "@esbuild/linux-arm64",
    sha256: "ae5a580130af1a7c7b8760466c9ae85a25782e63330b8c2855cc15ed007dd30d",
  },
};

/** What differs per target architecture. */
interface Target {
  /** npm package of the target's deno, and the sha256 of its `npm pack` tarball. */
  npm: string;
  npmSha256: string;
  /** Debian architecture and multiarch directory. */
  debArch: string;
  multiarch: string;
  /** glibc's dynamic loader file name. */
  loader: string;
  /** `deno compile --target`. */
  triple: string;
  libc6Sha256: string;
  libgccSha256: string;
}

const TARGETS: Record<string, Target> = {
  x86_64: {
    npm: "@deno/linux-x64-glibc",
    npmSha256: "a6596af07f3570b4f1ffa6783bfee9942aac14a719a601baa6bf5b71bf0105e2",
    debArch: "amd64",
    multiarch: "x86_64-linux-gnu",
    loader: "ld-linux-x86-64.so.2",
    triple: "x86_64-unknown-linux-gnu",
    libc6Sha256: "ba4f88f73dbc3ae9055f3c20f4523bfdbaf1ad13ff95e258924f77d20b4fbedf",
    libgccSha256: "3016e62cb4b7cd8038822870601f5ed131befe942774d0f745622cc77d8a88f7",
  },
  aarch64: {
    npm: "@deno/linux-arm64-glibc",
    npmSha256: "8e32a9c72c84c14f91fde26efbef0b5f347286f3c68b4b7d4b8040ae9e6f42ec",
    debArch: "arm64",
    multiarch: "aarch64-linux-gnu",
    loader: "ld-linux-aarch64.so.1",
    triple: "aarch64-unknown-linux-gnu",
    libc6Sha256: "01f4330719fd4f65580e16ea5a0527f372fca750e8f588d26deaf09f2d3b1cf4",
    libgccSha256: "576926b283613db80168ddf76380a3bd877602778cf0d226caa7bfbfa71eacf3",
  },
};

/** The libraries deno links against (`ldd deno`), all from libc6 except libgcc_s. */
const LIBC_LIBS = ["libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1"];

/** Where the program lives on the device. */
const PREFIX = "usr/lib/ice-pkg";

function debSource(pkg: string, version: string, t: Target, sha256: string): Source {
  const file = `${pkg}_${version.replace(/^\d+:/, "")}_${t.debArch}.deb`;
  const dir = pkg === "libc6" ? "g/glibc" : "g/gcc-12";
  return {
    url: `debian:pool/main/${dir}/${file}`,
    filename: file,
    sha256,
    debian: { package: pkg, version, arch: t.debArch },
  };
}

/** An npm package tarball (`npm pack`) as a pinned source. */
function npmSource(pkg: string, version: string, sha256: string): Source {
  return {
    url: `npm:${pkg}@${version}`,
    filename: `${pkg.replace(/^@/, "").replace("/", "-")}-${version}.tgz`,
    sha256,
    npm: { package: pkg, version },
  };
}

/** The launcher: runs the bundle with the private deno (no config, no network). */
function launcher(compiled: boolean): string {
  const run = compiled
    ? `exec "$d/ice-pkg" "$@"`
    : `exec "$d/deno" run --quiet --cached-only --no-prompt ${
      DENO_FLAGS.join(" ")
    } -A "$d/ice-pkg.js" "$@"`;
  return `#!/bin/sh
# ice-pkg: Deno (glibc, with its own loader and libraries in ${PREFIX}/lib)
# running the bundled package manager. Deno needs /proc, /dev/null and a HOME.
d=/${PREFIX}
: "\${HOME:=/root}"
: "\${DENO_DIR:=/tmp/.ice-pkg-deno}"
export HOME DENO_DIR DENO_NO_UPDATE_CHECK=1 RUST_BACKTRACE=0
${run}
`;
}

async function duBytes(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    const st = await Deno.lstat(p);
    n += e.isDirectory ? await duBytes(p) : st.size;
  }
  return n;
}

/**
 * The program ready for `deno bundle` or `deno compile`, from declared sources only:
 * a copy of lib/ice-pkg (which imports no npm package: one would need its tarball as a
 * declared source, unpacked into a node_modules beside the copy) and a private
 * DENO_DIR holding the pinned esbuild. Returns the entry module and the
 * environment; a file the program needs but the stage did not declare fails here.
 */
async function stageProgram(
  ctx: StageContext,
): Promise<{ main: string; cwd: string; env: Record<string, string> }> {
  const { $, tmp } = ctx;
  if (Deno.version.deno !== DENO_VERSION) {
    throw new Error(
      `the host's deno is ${Deno.version.deno}; the bundler's esbuild pin is for deno ` +
        `${DENO_VERSION} (run ./setup.sh)`,
    );
  }
  const src = join(tmp, "program");
  for (const [rel, abs] of Object.entries(ctx.inputs)) {
    if (!rel.startsWith("lib/ice-pkg/")) continue;
    await Deno.mkdir(join(src, rel, ".."), { recursive: true });
    await Deno.copyFile(abs, join(src, rel));
  }
  // An empty config: the project's import map and lock are not the program's.
  await Deno.writeTextFile(join(src, "deno.json"), "{}\n");
  const denoDir = join(tmp, "deno-dir");
  const esbuildDir = join(denoDir, "dl", `esbuild-${ESBUILD_VERSION}-1`);
  await Deno.mkdir(esbuildDir, { recursive: true });
  await $`tar -xzf ${ctx.sources.esbuild} -C ${tmp} package/bin/esbuild`;
  const platform = ESBUILD[Deno.build.arch].npm.split("/")[1];
  await Deno.rename(join(tmp, "package/bin/esbuild"), join(esbuildDir, `esbuild-${platform}`));
  await Deno.remove(join(tmp, "package"), { recursive: true });
  return {
    main: join(src, "lib/ice-pkg/main.ts"),
    cwd: src,
    env: { DENO_DIR: denoDir, DENO_NO_UPDATE_CHECK: "1" },
  };
}

async function build(ctx: StageContext, t: Target): Promise<void> {
  const { $, out, tmp } = ctx;
  const dest = join(out, PREFIX);
  await Deno.mkdir(join(dest, "lib"), { recursive: true });
  await Deno.mkdir(join(out, "usr/bin"), { recursive: true });

  // 1. glibc's loader and libraries from Debian's packages for the target.
  for (const name of ["libc6", "libgcc"]) {
    await $`dpkg-deb -x ${ctx.sources[name]} ${join(tmp, "deb")}`;
  }
  const libdir = join(tmp, "deb/lib", t.multiarch);
  for (const lib of [t.loader, ...LIBC_LIBS, "libgcc_s.so.1"]) {
    // The loader is a symlink in the package: copy what it points to.
    await Deno.copyFile(await Deno.realPath(join(libdir, lib)), join(dest, "lib", lib));
    await Deno.chmod(join(dest, "lib", lib), 0o755);
  }

  // 2. The program: bundle + deno, or one binary from deno compile. The running deno
  // by its path: in the build container, only that file is mounted, not a `deno` on PATH.
  const deno = Deno.execPath();
  const denort = Deno.env.get("DENORT_BIN");
  const compiled = Boolean(denort);
  const program = await stageProgram(ctx);
  let exe: string;
  if (compiled) {
    exe = join(dest, "ice-pkg");
    await $`${deno} compile -A ${DENO_FLAGS} --no-check --target ${t.triple} -o ${exe} ${program.main}`
      .cwd(program.cwd).env({ ...program.env, DENORT_BIN: denort! });
  } else {
    await $`${deno} bundle --quiet --minify --platform=deno -o ${
      join(dest, "ice-pkg.js")
    } ${program.main}`
      .cwd(program.cwd).env(program.env);
    // The target's deno from npm (fetched and checked by sha256 before the stage).
    const tgz = ctx.sources.deno;
    await $`tar -xzf ${tgz} -C ${tmp}`;
    const pkg = JSON.parse(await Deno.readTextFile(join(tmp, "package/package.json")));
    if (pkg.version !== DENO_VERSION) {
      throw new Error(
        `${t.npm}: package.json says version ${pkg.version}, expected ${DENO_VERSION}`,
      );
    }
    exe = join(dest, "deno");
    await Deno.copyFile(join(tmp, "package/deno"), exe);
  }
  // DT_RPATH (--force-rpath) rather than RUNPATH: it also applies to the libraries' own needs.
  await $`patchelf --set-interpreter ${`/${PREFIX}/lib/${t.loader}`} --force-rpath --set-rpath ${"$ORIGIN/lib"} ${exe}`;
  await Deno.writeTextFile(join(out, "usr/bin/ice-pkg"), launcher(compiled), { mode: 0o755 });
  await Deno.chmod(exe, 0o755);
  await Deno.chmod(join(dest, "ice-pkg.js"), 0o644).catch(() => {});
  ctx.log(`ice-pkg: installed size ${((await duBytes(out)) / 1048576).toFixed(1)} MiB`);
}

/** The ice-pkg stage for a board (none for armv7: Deno has no 32-bit ARM build). */
export function icePkgStage(board: Pick<Board, "arch">): Stage[] {
  const t = TARGETS[board.arch];
  if (!t) return [];
  return [defineStage({
    name: "ice-pkg",
    description: "the ice-pkg device program: bundled JS + the target's deno + private glibc",
    // DENORT_BIN (the runtime `deno compile` embeds) is an input when set.
    inputs: [
      "lib/ice-pkg/**/*.ts",
      ...(Deno.env.get("DENORT_BIN") ? [Deno.env.get("DENORT_BIN")!] : []),
    ],
    tools: ["deno", "patchelf", "dpkg-deb", "tar"],
    sources: {
      libc6: debSource("libc6", LIBC6, t, t.libc6Sha256),
      libgcc: debSource("libgcc-s1", LIBGCC, t, t.libgccSha256),
      deno: npmSource(t.npm, DENO_VERSION, t.npmSha256),
      // Run on the build host: its architecture's esbuild.
      esbuild: npmSource(
        ESBUILD[Deno.build.arch].npm,
        ESBUILD_VERSION,
        ESBUILD[Deno.build.arch].sha256,
      ),
    },
    params: {
      deno: DENO_VERSION,
      compile: Boolean(Deno.env.get("DENORT_BIN")),
    },
    boardFields: ["arch"],
    module: fileURLToPath(import.meta.url),
    run: (ctx) => build(ctx, t),
  })];
}

/** One ice-pkg stage per board: the registry calls this with the board being built. */
export default function icePkg(_root: string, board: Board): Stage[] {
  return icePkgStage(board);
}

if (import.meta.main) await runStandalone({ name: "ice-pkg" } as Stage);
