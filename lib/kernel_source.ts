/**
 * The default kernel source pin, shared by the "kernel" and "kernel-headers" stages of
 * every board whose YAML names no `kernel.source` of its own (a board may pin another
 * LTS there: the same fields as KERNEL_6_1 below, in YAML).
 *
 * IceNet builds Debian 12's Linux 6.1 LTS tree: the `linux-source-6.1` binary package
 * carries the upstream release with Debian's patches (security fixes, build fixes) as
 * one tarball, `usr/src/linux-source-6.1.tar.xz`, unpacking to `linux-source-6.1/`.
 * That tarball is not kernel.org's `linux-6.1.N.tar.xz` (different patches, different
 * packing), so its sha256 is its own and only the Debian provider can supply it.
 *
 * To bump the default: set DEBIAN_VERSION to a version `apt-cache policy linux-source-6.1` lists
 * (and KERNEL_VERSION to its upstream part), set `sha256` to zeros, run
 * `deno task stage kernel-headers --board zima`: the fetcher fails with the sha256 of
 * what it got; check it and put it here. A version Debian no longer offers fails with
 * the versions that are offered.
 *
 * Building kernel.org's release instead (online, without Debian): the matching upstream
 * tarball is https://cdn.kernel.org/pub/linux/kernel/v6.x/linux-6.1.192.tar.xz (check it
 * against the signed sha256sums.asc next to it). Pin it as a Source with that url, its
 * sha256 and `filename`, and set KERNEL_TREE to `linux-6.1.192`; the configs under
 * kernel/ apply to both trees.
 *
 * ```ts
 * const { version, tree, source } = kernelSource(board);
 * defineStage({ name: "kernel", sources: { linux: source }, ... });
 * ```
 */
import type { Board } from "./board.ts";
import type { Source } from "./fetch/source.ts";

/** Upstream version of the pinned tree (the kernel's `make kernelversion`). */
export const KERNEL_VERSION = "6.1.192";

/** Exact Debian version of `linux-source-6.1` that carries it. */
export const DEBIAN_VERSION = "6.1.192-2";

/** Top directory of the unpacked tarball. */
export const KERNEL_TREE = "linux-source-6.1";

/** Debian's kernel tarball, from the `linux-source-6.1` package (arch all). */
export const KERNEL_SOURCE: Source = {
  url: `debian:pool/main/l/linux/linux-source-6.1_${DEBIAN_VERSION}_all.deb`,
  filename: `linux-source-6.1_${DEBIAN_VERSION}.tar.xz`,
  // sha256 of usr/src/linux-source-6.1.tar.xz in linux-source-6.1_6.1.192-2_all.deb.
  sha256: "4d415b3d364834fd818270e88813e90323bbfce4f519a0e6bd4940ddcd7df693",
  debian: {
    package: "linux-source-6.1",
    version: DEBIAN_VERSION,
    arch: "all",
    member: "usr/src/linux-source-6.1.tar.xz",
  },
};

/** A board's kernel tree: its source, upstream version and top directory. */
export interface KernelSource {
  version: string;
  tree: string;
  source: Source;
}

/** The default pin: Debian 12's Linux 6.1 LTS. */
export const KERNEL_6_1: KernelSource = {
  version: KERNEL_VERSION,
  tree: KERNEL_TREE,
  source: KERNEL_SOURCE,
};

/** The kernel tree `board` builds: its own `kernel.source`, else the default. */
export function kernelSource(board: Board): KernelSource {
  const pin = board.kernel.source;
  if (!pin) return KERNEL_6_1;
  const { version, tree, ...source } = pin;
  return { version, tree, source };
}
