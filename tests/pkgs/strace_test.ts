/**
 * strace, per architecture, in a root of its packages (tests/pkgs/_root.ts): natively it
 * follows a busybox shell into the children it forks (-f), prints their opens of a file
 * the test wrote and of a missing one (errno decoded), passes the program's output and
 * exit code through, and counts the calls of a program (-c).
 *
 * qemu-user does not implement ptrace: on aarch64 and armv7 strace prints its version,
 * and tracing fails with strace's own words for the ENOSYS, before the program runs.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readPackageMeta } from "../../lib/ice-pkg/package.ts";
import { elfInfo } from "../userland/_build.ts";
import { buildReal, packageIn } from "../rootfs/_real.ts";
import { BOARDS, makeRoot, run, SCRATCH } from "./_root.ts";

const PACKAGES = ["musl", "busybox", "strace"];
const STRACE = "/usr/bin/strace";

/** `strace -V`'s features line: no stack traces, no personalities but the native one. */
const FEATURES: Record<typeof BOARDS[number]["arch"], string> = {
  x86_64: "no-m32-mpers no-mx32-mpers",
  aarch64: "no-m32-mpers",
  armv7: "(none)",
};

/** An open of `path` as strace prints it (musl calls open(2) where the arch has it). */
function openLine(path: string, result: string): RegExp {
  const p = path.replaceAll("/", "\\/").replaceAll(".", "\\.");
  return new RegExp(
    `^\\[pid +\\d+\\] open(at)?\\((AT_FDCWD, )?"${p}", O_RDONLY\\|O_LARGEFILE\\) = ${result}$`,
    "m",
  );
}

for (const b of BOARDS) {
  Deno.test(`${b.arch}: strace follows a shell's children and counts calls`, async (t) => {
    const res = await buildReal(PACKAGES.map((p) => `pkg:${p}`), b.board);
    const files = PACKAGES.map((p) => packageIn(res.get(`pkg:${p}`)!.out!));
    const dir = await Deno.makeTempDir({ prefix: `icenet-strace-${b.arch}-` });
    try {
      const root = await makeRoot(b, files, dir);
      await Deno.writeTextFile(join(root.work, "note.txt"), "IceNet-OS\n");
      const note = `${SCRATCH}/note.txt`, missing = `${SCRATCH}/missing.txt`;
      const traced = [
        STRACE,
        "-f",
        "-e",
        "trace=open,openat",
        "/bin/sh",
        "-c",
        `cat ${note}; cat ${missing}; exit 3`,
      ];
      await t.step("the package depends on musl and links nothing else", async () => {
        const meta = await readPackageMeta(files[2], { where: "strace" });
        assert.deepEqual(meta.depends, ["musl"]);
        const bin = join(root.tree, "usr/bin/strace");
        assert.equal((await elfInfo(bin)).interp, b.loader);
        const needed = await run(["readelf", "-d", bin]);
        assert.deepEqual([...needed.out.matchAll(/\(NEEDED\).*\[(.+)\]/g)].map((m) => m[1]), [
          "libc.so",
        ]);
      });
      await t.step("strace -V", async () => {
        const r = await run(root.argv([STRACE, "-V"]));
        assert.equal(r.code, 0, r.err);
        assert.match(r.out, /^strace -- version 6\.1\n/);
        const features = r.out.match(/^Optional features enabled: (.*)$/m)?.[1];
        assert.equal(features, FEATURES[b.arch], r.out);
      });
      if (b.qemu) {
        await t.step("tracing fails: qemu-user has no ptrace", async () => {
          const r = await run(root.argv(traced));
          assert.equal(r.code, 1, r.err);
          assert.equal(r.out, ""); // the program never ran
          assert.match(
            r.err,
            new RegExp(
              [
                "^/usr/bin/strace: test_ptrace_get_syscall_info: PTRACE_TRACEME: Function not implemented",
                "/usr/bin/strace: ptrace\\(PTRACE_TRACEME, \\.\\.\\.\\): Function not implemented",
                "/usr/bin/strace: PTRACE_SETOPTIONS: Function not implemented",
                "/usr/bin/strace: detach: waitpid\\(\\d+\\): No child process",
                "/usr/bin/strace: Process \\d+ detached\n$",
              ].join("\n"),
            ),
          );
          const attach = await run(root.argv([STRACE, "-p", "1"]));
          assert.equal(attach.code, 1, attach.out);
          assert.equal(
            attach.err,
            "/usr/bin/strace: test_ptrace_get_syscall_info: PTRACE_TRACEME: Function not implemented\n" +
              "/usr/bin/strace: attach: ptrace(PTRACE_ATTACH, 1): Function not implemented\n",
          );
        });
        return;
      }
      await t.step("strace -f shows the children's opens", async () => {
        const r = await run(root.argv(traced));
        // The program's output and exit code pass through; the trace goes to stderr.
        assert.equal(r.code, 3, r.err);
        assert.equal(r.out, "IceNet-OS\n");
        // A file descriptor, not necessarily 3: the test runner may pass one down.
        assert.match(r.err, openLine(note, "\\d+"));
        assert.match(r.err, openLine(missing, "-1 ENOENT \\(No such file or directory\\)"));
        assert.match(r.err, /^\+\+\+ exited with 3 \+\+\+$/m);
        // -e trace= filters: nothing but opens is printed as a call.
        const calls = r.err.split("\n").filter((l) => /^(\[pid +\d+\] )?[a-z_0-9]+\(/.test(l));
        assert.equal(calls.length, 2, r.err);
      });
      await t.step("strace -c counts the calls", async () => {
        const r = await run(root.argv([STRACE, "-c", "/bin/cat", note]));
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, "IceNet-OS\n");
        assert.match(r.err, /^% time +seconds +usecs\/call +calls +errors +syscall$/m);
        assert.match(r.err, /^ +[\d.]+ +[\d.]+ +\d+ +1 +open(at)?$/m);
        assert.match(r.err, /^ +[\d.]+ +[\d.]+ +\d+ +1 +execve$/m);
        assert.match(r.err, /^100\.00 +[\d.]+ +\d+ +\d+ +(\d+ +)?total$/m);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
