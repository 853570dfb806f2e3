/**
 * Stage "busybox": busybox linked statically against the musl stage's sysroot, from
 * the configuration checked in at pkgs/busybox/busybox.config.
 *
 * Output:
 *   bin/busybox   the binary
 *   tree/         the root layout: bin/busybox plus one relative symlink per applet
 *                 (bin/sh -> busybox, usr/bin/wget -> ../../bin/busybox, ...)
 *
 *   deno run -A tasks/busybox.ts --board rpi
 */
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import type { Board } from "../lib/board.ts";
import { runStandalone } from "../lib/cli.ts";
import type { Source } from "../lib/fetch/source.ts";
import { applyPatches, listPatches } from "../lib/patches.ts";
import { defineStage, type Stage, type StageContext } from "../lib/stage.ts";
import { reproducibleCflags, toolchainEnv } from "../lib/toolchain.ts";

/** busybox 1.35.0; Debian 12's orig tarball is byte-identical to upstream's release. */
export const BUSYBOX_SOURCE: Source = {
  url: "https://busybox.net/downloads/busybox-1.35.0.tar.bz2",
  sha256: "faeeb244c35a348a334f4a59e44626ee870fb07b6884d68c10ae8bc19f83a694",
  debian: {
    source: "busybox",
    version: "1:1.35.0-4+deb12u1",
    file: "busybox_1.35.0.orig.tar.bz2",
  },
};

/** The checked-in configuration, relative to the project root. */
export const BUSYBOX_CONFIG = "pkgs/busybox/busybox.config";
/** Patches applied in name order (`pkgs/busybox/patches/0001-subject.patch`). */
const PATCH_DIR = "pkgs/busybox/patches";

/** The busybox stage for one board (host tools differ per architecture). */
export function busyboxStage(board: Pick<Board, "cross">): Stage {
  const patches = listPatches(ROOT, PATCH_DIR);
  return defineStage({
    name: "busybox",
    description: "static busybox and its applet link tree",
    needs: ["musl"],
    inputs: [BUSYBOX_CONFIG, ...patches],
    // The musl wrapper runs Debian's gcc and binutils: their identity is part of the key.
    tools: [
      ...["make", "tar", "bzip2", `${board.cross}gcc`, `${board.cross}strip`],
      ...(patches.length ? ["patch"] : []),
    ],
    sources: { busybox: BUSYBOX_SOURCE },
    boardFields: ["arch", "triple", "cross", "cflags"],
    run: (ctx) => buildBusybox(ctx, patches),
  });
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));

async function buildBusybox(ctx: StageContext, patches: string[]): Promise<void> {
  const { board, $, out } = ctx;
  const src = join(ctx.tmp, "busybox-1.35.0");
  await $`tar -xjf ${ctx.sources.busybox}`;
  await applyPatches(ctx, src, patches);
  const config = await Deno.readTextFile(ctx.inputs[BUSYBOX_CONFIG]);
  await Deno.writeTextFile(join(src, ".config"), config);

  const tc = toolchainEnv(ctx.deps.musl, board);
  const env = {
    // Busybox appends its own flags to CFLAGS from the environment (a make variable
    // would replace them).
    CFLAGS: reproducibleCflags([src]),
    // Keep the build date in the banner: kconfig takes it from SOURCE_DATE_EPOCH
    // unless KCONFIG_NOTIMESTAMP is set, which would leave "BusyBox v1.35.0 ()".
    KCONFIG_NOTIMESTAMP: "",
  };
  // ARCH explicitly: busybox derives it from CROSS_COMPILE's text before its first "-",
  // so a store path with a "-" in it (/tmp/icenet-store-x/...) gave ARCH=icenet, which
  // silently dropped arch/x86_64's -malign-data=abi and changed the binary. This is the
  // value a hyphen-free path gives (the triple's first word), so outputs stay the same.
  const arch = board.triple.split("-")[0];
  const make = (...args: string[]) =>
    $`make ${`CROSS_COMPILE=${tc.CROSS_COMPILE}`} ${`ARCH=${arch}`} ${args}`.cwd(src).env(env);

  await make("oldconfig").stdin("null");
  const stale = configDiff(config, await Deno.readTextFile(join(src, ".config")));
  if (stale.length) {
    throw new Error(
      `${BUSYBOX_CONFIG}: not a complete busybox 1.35.0 config; make oldconfig changes ` +
        `${stale.join(", ")}. Regenerate it with make oldconfig and keep its header.`,
    );
  }

  const t0 = performance.now();
  // busybox.links (the applet paths) is not made by default; docs are not wanted.
  await make(`-j${ctx.jobs}`, "busybox", "busybox.links");
  ctx.record("busybox_build_seconds", Math.round((performance.now() - t0) / 100) / 10);

  const binary = await Deno.readFile(join(src, "busybox"));
  await Deno.mkdir(join(out, "bin"));
  await Deno.writeFile(join(out, "bin", "busybox"), binary, { mode: 0o755 });
  await Deno.chmod(join(out, "bin", "busybox"), 0o755);

  const links = (await Deno.readTextFile(join(src, "busybox.links")))
    .split("\n").filter(Boolean).sort();
  await writeLinkTree(join(out, "tree"), binary, links);
  ctx.record("busybox_bytes", binary.length);
  ctx.record("applets", links.length);
}

/**
 * Symbols whose setting differs between two kconfig files (comments other than
 * "# CONFIG_X is not set" are ignored).
 */
export function configDiff(want: string, got: string): string[] {
  const parse = (text: string) => {
    const m = new Map<string, string>();
    for (const line of text.split("\n")) {
      const set = line.match(/^CONFIG_(\w+)=(.*)$/);
      const unset = line.match(/^# CONFIG_(\w+) is not set$/);
      if (set) m.set(set[1], set[2]);
      else if (unset) m.set(unset[1], "n");
    }
    return m;
  };
  const a = parse(want), b = parse(got);
  const names = new Set([...a.keys(), ...b.keys()]);
  return [...names].filter((n) => a.get(n) !== b.get(n)).sort().map((n) => `CONFIG_${n}`);
}

/**
 * The applet tree: `bin/busybox` and a relative symlink for each applet path of
 * busybox.links (`/usr/sbin/ntpd` -> `../../bin/busybox`), so the tree can be
 * copied into any root as it is.
 */
export async function writeLinkTree(
  tree: string,
  binary: Uint8Array,
  links: string[],
): Promise<void> {
  const self = join(tree, "bin", "busybox");
  await Deno.mkdir(dirname(self), { recursive: true });
  await Deno.writeFile(self, binary, { mode: 0o755 });
  await Deno.chmod(self, 0o755);
  for (const link of links) {
    if (!link.startsWith("/") || link.includes("..")) {
      throw new Error(`busybox.links: unexpected applet path ${JSON.stringify(link)}`);
    }
    const path = join(tree, link);
    if (path === self) continue;
    await Deno.mkdir(dirname(path), { recursive: true });
    await Deno.symlink(relative(dirname(path), self), path);
  }
}

/** One busybox stage per board: the registry calls this with the board being built. */
export default function busybox(_root: string, board: Board): Stage[] {
  return [busyboxStage(board)];
}

if (import.meta.main) await runStandalone({ name: "busybox" } as Stage);
