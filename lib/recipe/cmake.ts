/**
 * The `cmake` kind's cross configuration: CMake told the target system, the musl
 * wrapper as its compiler, and the recipe's sysroot as the only place its find_*
 * calls look (programs still come from the host). CMake reads CC, CFLAGS and LDFLAGS
 * from the environment but not CPPFLAGS, so the sysroot's include flags join CFLAGS.
 *
 * ```ts
 * await $`cmake -S ${src} -B ${build} ${cmakeArgs(board, env, sys, recipe)}`.env(cmakeEnv(env));
 * ```
 */
import type { Board } from "../board.ts";
import type { CmakeRecipe } from "./schema.ts";

/** Arguments of the configure step, before the recipe's own `configure`. */
export function cmakeArgs(
  board: Pick<Board, "arch">,
  env: Record<string, string>,
  sys: string,
  r: Pick<CmakeRecipe, "link" | "configure">,
): string[] {
  const cc = env.CC.split(" ")[0];
  const prefix = cc.replace(/gcc$/, "");
  return [
    "-G",
    "Unix Makefiles",
    "-DCMAKE_SYSTEM_NAME=Linux",
    `-DCMAKE_SYSTEM_PROCESSOR=${board.arch}`,
    `-DCMAKE_C_COMPILER=${cc}`,
    `-DCMAKE_AR=${prefix}ar`,
    `-DCMAKE_RANLIB=${prefix}ranlib`,
    `-DCMAKE_STRIP=${prefix}strip`,
    // Our CFLAGS only (-Os), not a build type's -O2/-O3.
    "-DCMAKE_BUILD_TYPE=None",
    "-DCMAKE_INSTALL_PREFIX=/usr",
    "-DCMAKE_INSTALL_LIBDIR=lib",
    // Libraries are found in /usr/lib on the device: no run path.
    "-DCMAKE_SKIP_RPATH=ON",
    `-DBUILD_SHARED_LIBS=${r.link === "shared" ? "ON" : "OFF"}`,
    `-DCMAKE_FIND_ROOT_PATH=${sys}`,
    "-DCMAKE_FIND_ROOT_PATH_MODE_PROGRAM=NEVER",
    "-DCMAKE_FIND_ROOT_PATH_MODE_LIBRARY=ONLY",
    "-DCMAKE_FIND_ROOT_PATH_MODE_INCLUDE=ONLY",
    "-DCMAKE_FIND_ROOT_PATH_MODE_PACKAGE=ONLY",
    ...r.configure,
  ];
}

/** The build environment as CMake reads it: CPPFLAGS folded into CFLAGS. */
export function cmakeEnv(env: Record<string, string>): Record<string, string> {
  const cflags = [env.CFLAGS, env.CPPFLAGS].filter(Boolean).join(" ");
  return { ...env, CFLAGS: cflags };
}
