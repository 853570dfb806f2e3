/** Fast checks of lib/toolchain.ts and the busybox stage's helpers (no builds). */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Arch } from "../../lib/arch.ts";
import { boardNames, loadBoard } from "../../lib/board.ts";
import { gccWrapperText, muslLoader, specsText, toolchainFiles } from "../../lib/toolchain.ts";
import { BUSYBOX_CONFIG, configDiff, writeLinkTree } from "../../tasks/busybox.ts";
import { ROOT } from "./_build.ts";

Deno.test("muslLoader() names musl's loader for each board", async (t) => {
  const loaders: Record<Arch, string> = {
    x86_64: "/lib/ld-musl-x86_64.so.1",
    aarch64: "/lib/ld-musl-aarch64.so.1",
    armv7: "/lib/ld-musl-armhf.so.1",
  };
  for (const name of boardNames(ROOT)) {
    await t.step(name, async () => {
      const board = await loadBoard(ROOT, name);
      assert.equal(muslLoader(board), loaders[board.arch]);
    });
  }
});

Deno.test("gccWrapperText() calls the board's Debian gcc with its cflags, no fixed path", async () => {
  const rpi32 = await loadBoard(ROOT, "rpi32");
  const text = gccWrapperText(rpi32);
  assert.match(
    text,
    /exec arm-linux-gnueabihf-gcc --sysroot="\$top\/sysroot" -specs="\$top\/lib\/armv7-icenet-linux-musleabihf\.specs" -mmusl -march=armv7-a -mfpu=vfpv3-d16 -mfloat-abi=hard "\$@"/,
  );
  const zima = gccWrapperText(await loadBoard(ROOT, "zima"));
  assert.match(zima, /exec gcc --sysroot=.* -mmusl "\$@"/);
  for (const [path, f] of toolchainFiles(rpi32)) {
    assert.doesNotMatch(f.text, /\/(tmp|home|work|root)\//, path);
  }
});

Deno.test("specsText() replaces every spec that reaches the host's libc", () => {
  const specs = specsText();
  for (const s of ["cpp_options", "cc1", "link_libgcc", "libgcc", "startfile", "endfile", "link"]) {
    assert.match(specs, new RegExp(`^\\*${s}:$`, "m"), s);
  }
  // gcc's default would find glibc's crt files and libgcc_s through its search path.
  assert.doesNotMatch(specs, /crt1\.o%s|crti\.o%s|crtn\.o%s|lgcc_s|%D/);
});

Deno.test("configDiff() names the symbols whose setting differs", async (t) => {
  const rows: [string, string, string, string[]][] = [
    ["same", "CONFIG_A=y\n# CONFIG_B is not set\n", "# c\nCONFIG_A=y\n# CONFIG_B is not set\n", []],
    ["changed", "CONFIG_A=y\n", "# CONFIG_A is not set\n", ["CONFIG_A"]],
    ["added", "CONFIG_A=y\n", 'CONFIG_A=y\nCONFIG_NEW="x"\n', ["CONFIG_NEW"]],
    ["value", 'CONFIG_P="a"\n', 'CONFIG_P="b"\n', ["CONFIG_P"]],
  ];
  for (const [name, a, b, want] of rows) {
    await t.step(name, () => assert.deepEqual(configDiff(a, b), want));
  }
});

Deno.test("writeLinkTree() makes relative links to bin/busybox and refuses odd paths", async () => {
  const dir = await Deno.makeTempDir({ prefix: "icenet-tree-" });
  try {
    const bin = new Uint8Array([1, 2, 3]);
    await writeLinkTree(join(dir, "t"), bin, ["/bin/sh", "/sbin/ip", "/usr/bin/wget"]);
    assert.equal(Deno.readLinkSync(join(dir, "t/bin/sh")), "busybox");
    assert.equal(Deno.readLinkSync(join(dir, "t/sbin/ip")), "../bin/busybox");
    assert.equal(Deno.readLinkSync(join(dir, "t/usr/bin/wget")), "../../bin/busybox");
    assert.deepEqual(await Deno.readFile(join(dir, "t/usr/bin/wget")), bin);
    await assert.rejects(
      writeLinkTree(join(dir, "u"), bin, ["/bin/../../etc/x"]),
      /busybox\.links: unexpected applet path "\/bin\/\.\.\/\.\.\/etc\/x"/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("busybox.config is static, path-free and has the required applets", async () => {
  const text = await Deno.readTextFile(join(ROOT, BUSYBOX_CONFIG));
  const on = (s: string) => new RegExp(`^CONFIG_${s}=y$`, "m").test(text);
  assert.ok(on("STATIC"));
  for (
    const s of ["ASH", "MOUNT", "UMOUNT", "IP", "IFCONFIG", "ROUTE", "UDHCPC", "GETTY", "LOGIN"]
      .concat(["PASSWD", "SYSLOGD", "KLOGD", "NTPD", "XZ", "UNXZ", "TAR", "GZIP", "VI", "PS"])
      .concat(["TOP", "FREE", "NC", "WGET", "LOSETUP", "SWITCH_ROOT", "FDISK"])
  ) assert.ok(on(s), `CONFIG_${s}`);
  assert.match(text, /^CONFIG_CROSS_COMPILER_PREFIX=""$/m);
  assert.match(text, /^CONFIG_SYSROOT=""$/m);
  assert.match(text, /^CONFIG_EXTRA_CFLAGS=""$/m);
  assert.match(text, /^# CONFIG_INIT is not set$/m);
  // Every symbol is set exactly once.
  const names = [...text.matchAll(/^(?:# )?CONFIG_(\w+)[= ]/gm)].map((m) => m[1]);
  assert.equal(new Set(names).size, names.length);
});
