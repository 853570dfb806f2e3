/**
 * The musl stage and its compiler wrapper, for each architecture: programs built
 * with `<triple>-gcc` run (natively or under qemu-user), statically and dynamically
 * linked against our musl, and nothing of the host's glibc gets in.
 */
import assert from "node:assert/strict";
import { dirname, normalize } from "node:path";
import { loadBoard } from "../../lib/board.ts";
import { muslLoader } from "../../lib/toolchain.ts";
import { ARCHES, elfInfo, join, ROOT, run, stageOut } from "./_build.ts";

const HELLO = `#include <stdio.h>
#include <linux/version.h>
int main(int argc, char **argv) {
  (void)argv;
  printf("hello from musl, argc=%d, uapi=%d\\n", argc, LINUX_VERSION_CODE > 0);
  return 0;
}
`;

for (const a of ARCHES) {
  Deno.test(`musl: ${a.arch} wrapper builds programs that run static and dynamic`, async (t) => {
    const board = await loadBoard(ROOT, a.board);
    const tc = await stageOut(a.board, "musl");
    const gcc = join(tc, "bin", `${board.triple}-gcc`);
    const sysroot = join(tc, "sysroot");
    const dir = await Deno.makeTempDir({ prefix: "icenet-musl-test-" });
    try {
      await Deno.writeTextFile(join(dir, "hello.c"), HELLO);
      await t.step("static", async () => {
        const cc = await run(
          [gcc, "-Wall", "-Wextra", "-Werror", "-static", "-o", "hs", "hello.c"],
          {
            cwd: dir,
          },
        );
        assert.equal(cc.code, 0, cc.stderr);
        const elf = await elfInfo(join(dir, "hs"));
        assert.equal(elf.machine, a.machine);
        assert.match(elf.flags, a.flags);
        assert.equal(elf.interp, undefined, "a static binary has no interpreter");
        const r = await run([...a.emulator, join(dir, "hs"), "x"]);
        assert.equal(r.stdout, "hello from musl, argc=2, uapi=1\n", r.stderr);
      });
      await t.step("dynamic, through the sysroot's loader", async () => {
        const cc = await run([gcc, "-Wall", "-Wextra", "-Werror", "-o", "hd", "hello.c"], {
          cwd: dir,
        });
        assert.equal(cc.code, 0, cc.stderr);
        const elf = await elfInfo(join(dir, "hd"));
        assert.equal(elf.machine, a.machine);
        assert.match(elf.flags, a.flags);
        assert.equal(elf.interp, muslLoader(board));
        // -L makes qemu look the interpreter up under the sysroot; natively, run the
        // sysroot's loader by hand (the host's /lib may have another musl or none).
        const cmd = a.emulator.length
          ? [...a.emulator, "-L", sysroot, join(dir, "hd"), "x"]
          : [join(sysroot, muslLoader(board)), join(dir, "hd"), "x"];
        const r = await run(cmd);
        assert.equal(r.stdout, "hello from musl, argc=2, uapi=1\n", r.stderr);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

for (const a of ARCHES) {
  Deno.test(`musl: ${a.arch} wrapper uses no host header or library`, async (t) => {
    const board = await loadBoard(ROOT, a.board);
    const tc = await stageOut(a.board, "musl");
    const gcc = join(tc, "bin", `${board.triple}-gcc`);
    const dir = await Deno.makeTempDir({ prefix: "icenet-musl-leak-" });
    try {
      await Deno.writeTextFile(join(dir, "hello.c"), HELLO);
      // gcc's own directory: intrinsics headers, crtbegin/crtend and libgcc.a only.
      const gccDir = dirname(
        (await run([gcc, "-print-libgcc-file-name"])).stdout.trim(),
      );
      const allowed = [join(tc, "sysroot") + "/", gccDir + "/"];
      const ok = (p: string) => allowed.some((d) => p.startsWith(d)) || p.startsWith(dir);

      await t.step("headers (-H)", async () => {
        const r = await run([gcc, "-H", "-c", "-o", "hello.o", "hello.c"], { cwd: dir });
        assert.equal(r.code, 0, r.stderr);
        const headers = r.stderr.split("\n").filter((l) => /^\.+ /.test(l))
          .map((l) => normalize(l.replace(/^\.+ /, "")));
        assert.ok(headers.length >= 4, `few headers: ${headers}`);
        assert.deepEqual(headers.filter((h) => !ok(h)), []);
        assert.ok(headers.some((h) => h.endsWith("/sysroot/include/linux/version.h")));
      });
      for (const mode of ["-static", "-dynamic"]) {
        await t.step(`link inputs (-Wl,--trace ${mode})`, async () => {
          const args = mode === "-static" ? ["-static"] : [];
          // TMPDIR: gcc's temporary objects are link inputs too; keep them in `dir`.
          const r = await run([gcc, ...args, "-Wl,--trace", "-o", "h", "hello.c"], {
            cwd: dir,
            env: { TMPDIR: dir },
          });
          assert.equal(r.code, 0, r.stderr);
          const files = r.stdout.split("\n").filter(Boolean)
            .map((l) => l.replace(/^.*\(|\)$/g, "").trim())
            .filter((l) => l.startsWith("/"))
            .map((p) => normalize(p));
          assert.ok(files.some((f) => f.endsWith("/sysroot/lib/crti.o")), r.stdout);
          assert.deepEqual(files.filter((f) => !ok(f)), []);
        });
      }
      await t.step("a glibc-only header is not found", async () => {
        await Deno.writeTextFile(
          join(dir, "g.c"),
          "#include <gnu/libc-version.h>\nint main(void) { return !gnu_get_libc_version(); }\n",
        );
        const r = await run([gcc, "-o", "g", "g.c"], { cwd: dir });
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /gnu\/libc-version\.h: No such file or directory/);
      });
      await t.step("a glibc-only symbol does not link", async () => {
        await Deno.writeTextFile(
          join(dir, "s.c"),
          "const char *gnu_get_libc_version(void);\n" +
            "int main(void) { return !gnu_get_libc_version(); }\n",
        );
        for (const args of [["-static"], []]) {
          const r = await run([gcc, ...args, "-o", "s", "s.c"], { cwd: dir });
          assert.notEqual(r.code, 0);
          assert.match(r.stderr, /undefined reference to `gnu_get_libc_version'/);
        }
      });
      await t.step("__GLIBC__ is not defined", async () => {
        const r = await run([gcc, "-dM", "-E", "-include", "stdio.h", "-x", "c", "/dev/null"]);
        assert.equal(r.code, 0, r.stderr);
        assert.doesNotMatch(r.stdout, /__GLIBC__/);
        assert.match(r.stdout, new RegExp(`#define ${a.macro} 1`));
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("musl: the wrapper works when the toolchain is moved or linked elsewhere", async () => {
  const board = await loadBoard(ROOT, "zima");
  const tc = await stageOut("zima", "musl");
  const dir = await Deno.makeTempDir({ prefix: "icenet-musl-move-" });
  try {
    const moved = join(dir, "some where");
    const cp = await run(["cp", "-a", tc, moved]);
    assert.equal(cp.code, 0, cp.stderr);
    // A symlink from a PATH-like directory: the wrapper resolves its real location.
    await Deno.mkdir(join(dir, "path"));
    const link = join(dir, "path", "cc");
    await Deno.symlink(join(moved, "bin", `${board.triple}-gcc`), link);
    await Deno.writeTextFile(join(dir, "t.c"), "int main(void) { return 3; }\n");
    const r = await run([link, "-static", "-o", "t", "t.c"], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await run([join(dir, "t")])).code, 3);
    const sysroot = (await run([link, "-print-sysroot"])).stdout.trim();
    assert.equal(sysroot, join(moved, "sysroot"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
