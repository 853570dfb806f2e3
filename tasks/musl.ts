/**
 * Stage "musl": musl libc for the board's architecture, built with Debian's gcc or
 * cross gcc, as a sysroot plus a compiler wrapper that every later C build uses.
 *
 * Output (see lib/toolchain.ts):
 *   sysroot/include   musl headers + the pinned kernel's UAPI headers (kernel-headers)
 *   sysroot/lib       crt*.o, libc.a, libc.so, ld-musl-<arch>.so.1 -> libc.so
 *   bin/<triple>-gcc  wrapper (pass -static for static binaries), binutils aliases
 *   lib/<triple>.specs
 *
 *   deno run -A tasks/musl.ts --board rpi
 */
import { join, relative } from "node:path";
import type { Board } from "../lib/board.ts";
import { runStandalone } from "../lib/cli.ts";
import type { Source } from "../lib/fetch/source.ts";
import { defineStage, type Stage, type StageContext } from "../lib/stage.ts";
import {
  hostToolPrefix,
  muslLoaderArch,
  reproducibleCflags,
  toolchainFiles,
} from "../lib/toolchain.ts";

/** musl 1.2.3; Debian 12's orig tarball is byte-identical to upstream's release. */
export const MUSL_SOURCE: Source = {
  url: "https://musl.libc.org/releases/musl-1.2.3.tar.gz",
  sha256: "7d5b0b6062521e4627e099e4c9dc8248d32a30285e959b7eecaa780cf8cfd4a4",
  debian: { source: "musl", version: "1.2.3-1", file: "musl_1.2.3.orig.tar.gz" },
};

/** The musl stage for one board (host tools differ per architecture). */
export function muslStage(board: Pick<Board, "cross">): Stage {
  return defineStage({
    name: "musl",
    description: "musl libc sysroot and <triple>-gcc wrapper",
    needs: ["kernel-headers"],
    // Debian's gcc for the target: its identity is part of the key.
    tools: ["make", "tar", "gzip", `${board.cross}gcc`],
    sources: { musl: MUSL_SOURCE },
    // Boards of one architecture share the output (rpi and a future CM board).
    boardFields: ["arch", "triple", "cross", "cflags"],
    // The wrapper and specs text come from lib/toolchain.ts.
    run: buildMusl,
  });
}

async function buildMusl(ctx: StageContext): Promise<void> {
  const { board, $, out } = ctx;
  const src = join(ctx.tmp, "musl-1.2.3");
  await $`tar -xzf ${ctx.sources.musl}`;
  const sysroot = join(out, "sysroot");
  // CFLAGS without -O keeps musl's own -Os (configure drops it when CFLAGS has -O).
  const cflags = [board.cflags, reproducibleCflags([src])].filter(Boolean).join(" ");
  const t0 = performance.now();
  await $`./configure --prefix=/ --syslibdir=/lib --disable-wrapper ${`CC=${
    hostToolPrefix(board)
  }gcc`} ${`CFLAGS=${cflags}`}`.cwd(src);
  await $`make -j${ctx.jobs}`.cwd(src);
  // --syslibdir would otherwise point into the build host's /lib: install into out only.
  await $`make install DESTDIR=${sysroot}`.cwd(src);
  ctx.record("musl_build_seconds", Math.round((performance.now() - t0) / 100) / 10);

  // musl links the loader to the absolute /lib/libc.so, which from inside a sysroot
  // names the host's file: make it relative (same meaning on the device).
  const loader = join(sysroot, "lib", `ld-musl-${muslLoaderArch(board)}.so.1`);
  await Deno.remove(loader);
  await Deno.symlink("libc.so", loader);

  await copyUapiHeaders(join(ctx.deps["kernel-headers"], "include"), join(sysroot, "include"));

  for (const [rel, f] of toolchainFiles(board)) {
    const path = join(out, rel);
    await Deno.mkdir(join(path, ".."), { recursive: true });
    await Deno.writeTextFile(path, f.text);
    await Deno.chmod(path, f.mode);
  }

  // Fail here, not in busybox, if the wrapper cannot build a static program.
  await Deno.writeTextFile(join(ctx.tmp, "smoke.c"), "int main(void) { return 0; }\n");
  await $`${join(out, "bin", `${board.triple}-gcc`)} -Wall -Werror -static -o smoke smoke.c`;

  for (const f of ["libc.a", "libc.so"]) {
    ctx.record(`${f}_bytes`, (await Deno.stat(join(sysroot, "lib", f))).size);
  }
}

/**
 * Copy the kernel's UAPI headers beside musl's. The two sets share directory names
 * (scsi/) but must not share files: a clash would silently pick one, so it fails.
 */
async function copyUapiHeaders(from: string, to: string): Promise<void> {
  const walk = async (dir: string): Promise<void> => {
    for await (const e of Deno.readDir(dir)) {
      const abs = join(dir, e.name);
      const dest = join(to, relative(from, abs));
      if (e.isDirectory) {
        await Deno.mkdir(dest, { recursive: true });
        await walk(abs);
      } else if (e.isFile) {
        if (await exists(dest)) {
          throw new Error(`kernel-headers: ${relative(from, abs)} is also a musl header`);
        }
        await Deno.copyFile(abs, dest);
        await Deno.chmod(dest, 0o644);
      }
    }
  };
  await walk(from);
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

/** One musl stage per board: the registry calls this with the board being built. */
export default function musl(_root: string, board: Board): Stage[] {
  return [muslStage(board)];
}

if (import.meta.main) await runStandalone({ name: "musl" } as Stage);
