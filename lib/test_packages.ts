/**
 * What `deno task setup` installs for the tests, beside the host tools the stages declare
 * (lib/tools.ts). Apart from lib/tools.ts because that module is in every package stage's
 * key: a test's new tool must not rebuild packages.
 */

/**
 * Packages the tests need beyond the build's (not in the build image): Debian's
 * musl-gcc for host-side init benchmarks, the container engines and debootstrap,
 * bmap-tools (whose bmaptool the flash and release tests check our block maps with),
 * netpbm and tesseract to keep and read the screenshot of a guest's screen, and nginx
 * (WebDAV PUT), the real HTTP build cache the remote cache tests run on loopback.
 */
export function testPackages(): string[] {
  return [
    "bmap-tools",
    "debootstrap",
    "docker.io",
    // tests/update: p1 mounted in user space where the kernel has no vfat; wget streams bundles.
    "fusefat",
    // xmllint: the boot chart and build timeline SVGs are well-formed XML.
    "libxml2-utils",
    // fw_printenv/fw_setenv: the U-Boot update tests read and change the boot state with
    // Debian's own tools, as boot.scr does on the device.
    "libubootenv-tool",
    "musl-tools",
    "netpbm",
    "nginx",
    "podman",
    "runc",
    // rdsquashfs: where a file's bytes are in a root (the dm-verity test damages one).
    "squashfs-tools-ng",
    // strace: which system calls a patched program still makes (busybox getty's pause).
    "strace",
    "tesseract-ocr",
    "tesseract-ocr-eng",
    "wget",
  ];
}
