/**
 * Host tools: which Debian package provides each program a stage may declare, and
 * the tool's identity (resolved path + version output) that enters cache keys.
 */

/** Program -> Debian package (and how to ask its version when not `--version`). */
export const HOST_TOOLS: Record<string, { pkg: string; versionArgs?: string[] }> = {
  "make": { pkg: "make" },
  "gcc": { pkg: "gcc" },
  "cc": { pkg: "gcc" },
  "ld": { pkg: "binutils" },
  "patch": { pkg: "patch" },
  "tar": { pkg: "tar" },
  "xz": { pkg: "xz-utils" },
  "zstd": { pkg: "zstd" },
  "gzip": { pkg: "gzip" },
  "bzip2": { pkg: "bzip2" },
  "cpio": { pkg: "cpio" },
  "bc": { pkg: "bc" },
  "bison": { pkg: "bison" },
  "flex": { pkg: "flex" },
  "perl": { pkg: "perl" },
  "python3": { pkg: "python3" },
  "rsync": { pkg: "rsync" },
  "file": { pkg: "file" },
  "patchelf": { pkg: "patchelf" },
  "cmake": { pkg: "cmake" },
  // Recipes of sources that ship configure.ac without configure (autoreconf: true).
  "autoreconf": { pkg: "autoconf" },
  "automake": { pkg: "automake" },
  // ncurses' terminfo compiler: a cross build of ncurses compiles its database with the host's.
  "tic": { pkg: "ncurses-bin", versionArgs: ["-V"] },
  // Recipes with libraries: configure scripts read their flags from the sysroot's .pc files.
  "pkg-config": { pkg: "pkgconf" },
  "readelf": { pkg: "binutils" },
  "strip": { pkg: "binutils" },
  "objcopy": { pkg: "binutils" },
  "objdump": { pkg: "binutils" },
  // Secure Boot (lib/secureboot/): signing EFI programs and variable updates.
  "sbsign": { pkg: "sbsigntool" },
  "sbverify": { pkg: "sbsigntool" },
  "sbsiglist": { pkg: "sbsigntool" },
  "sbvarsign": { pkg: "sbsigntool" },
  // sbsign's signature carries the time: it runs with the clock stopped (libfaketime).
  "faketime": { pkg: "faketime" },
  "aarch64-linux-gnu-gcc": { pkg: "gcc-aarch64-linux-gnu" },
  "arm-linux-gnueabihf-gcc": { pkg: "gcc-arm-linux-gnueabihf" },
  "aarch64-linux-gnu-strip": { pkg: "binutils-aarch64-linux-gnu" },
  "arm-linux-gnueabihf-strip": { pkg: "binutils-arm-linux-gnueabihf" },
  "apt-get": { pkg: "apt" },
  "dpkg-deb": { pkg: "dpkg" },
  "sfdisk": { pkg: "fdisk" },
  "mkfs.fat": { pkg: "dosfstools" },
  "mcopy": { pkg: "mtools" },
  "mmd": { pkg: "mtools" },
  "mkfs.ext4": { pkg: "e2fsprogs", versionArgs: ["-V"] },
  "debugfs": { pkg: "e2fsprogs", versionArgs: ["-V"] },
  "e2fsck": { pkg: "e2fsprogs", versionArgs: ["-V"] },
  "mksquashfs": { pkg: "squashfs-tools", versionArgs: ["-version"] },
  "unsquashfs": { pkg: "squashfs-tools", versionArgs: ["-version"] },
  "veritysetup": { pkg: "cryptsetup-bin", versionArgs: ["--version"] },
  "qemu-system-x86_64": { pkg: "qemu-system-x86" },
  "qemu-system-aarch64": { pkg: "qemu-system-arm" },
  "qemu-system-arm": { pkg: "qemu-system-arm" },
  "qemu-aarch64-static": { pkg: "qemu-user-static" },
  "qemu-arm-static": { pkg: "qemu-user-static" },
  "mkimage": { pkg: "u-boot-tools", versionArgs: ["-V"] },
  "dtc": { pkg: "device-tree-compiler" },
  "fdtput": { pkg: "device-tree-compiler" },
  "bwrap": { pkg: "bubblewrap" },
  "openssl": { pkg: "openssl", versionArgs: ["version"] },
  "dropbearkey": { pkg: "dropbear-bin", versionArgs: ["-h"] },
  "npm": { pkg: "(npm: installed by setup.sh)" },
  "deno": { pkg: "(npm install -g deno@2.9.6)" },
};

/** Every Debian package the build needs (for `deno task setup`). */
export function hostPackages(): string[] {
  const pkgs = new Set<string>();
  for (const t of Object.values(HOST_TOOLS)) if (!t.pkg.startsWith("(")) pkgs.add(t.pkg);
  // Not programs but needed by the kernel and image builds.
  for (
    const p of [
      "libssl-dev",
      "libelf-dev",
      "ovmf",
      "libc6-dev-arm64-cross",
      "libc6-dev-armhf-cross",
    ]
  ) {
    pkgs.add(p);
  }
  return [...pkgs].sort();
}

/** Resolve a program on PATH, or undefined. */
export function which(tool: string): string | undefined {
  if (tool.includes("/")) return exists(tool) ? tool : undefined;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir && exists(`${dir}/${tool}`)) return `${dir}/${tool}`;
  }
  return undefined;
}

function exists(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/** A missing host tool: names the Debian package to install. */
export class MissingToolError extends Error {
  constructor(readonly stage: string, readonly tools: string[]) {
    const list = tools.map((t) => `${t} (Debian package: ${HOST_TOOLS[t]?.pkg ?? "unknown"})`);
    super(
      `stage ${stage}: missing host tool${tools.length > 1 ? "s" : ""}: ${list.join(", ")}; ` +
        `run \`deno task setup\` or apt-get install them`,
    );
  }
}

const identityCache = new Map<string, Promise<string>>();

/**
 * Identity of a tool: its resolved path and the first line of its version output.
 * Cached per process: 200 stages declaring `make` ask once.
 */
export function toolIdentity(tool: string): Promise<string> {
  let p = identityCache.get(tool);
  if (!p) {
    p = (async () => {
      const path = which(tool);
      if (!path) throw new MissingToolError("?", [tool]);
      const real = await Deno.realPath(path);
      const args = HOST_TOOLS[tool]?.versionArgs ?? ["--version"];
      const out = await new Deno.Command(path, {
        args,
        stdout: "piped",
        stderr: "piped",
        stdin: "null",
      })
        .output().catch(() => undefined);
      const text = out
        ? new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr)
        : "";
      const first = text.split("\n").find((l) => l.trim() !== "") ?? "";
      return `${real} ${first.trim()}`;
    })();
    identityCache.set(tool, p);
  }
  return p;
}
