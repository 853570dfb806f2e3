/**
 * The busybox stage for each architecture: a static binary for the right machine
 * with the applets a small networked system needs, running here (x86_64) or under
 * qemu-user (aarch64, armv7), and an applet tree of relative links.
 */
import assert from "node:assert/strict";
import { dirname } from "node:path";
import { ARCHES, elfInfo, join, run, stageOut } from "./_build.ts";

/** Applets issue 3 asks for, plus what a small system needs. */
const REQUIRED = [
  "sh",
  "ash",
  "ls",
  "cp",
  "mount",
  "umount",
  "ip",
  "ifconfig",
  "route",
  "udhcpc",
  "getty",
  "login",
  "passwd",
  "syslogd",
  "klogd",
  "ntpd",
  "xz",
  "unxz",
  "tar",
  "gzip",
  "vi",
  "ps",
  "top",
  "free",
  "nc",
  "wget",
  "losetup",
  "switch_root",
  "fdisk",
  "mdev",
];

/** Applets that must not be there (see the header of pkgs/busybox/busybox.config). */
const ABSENT = ["init", "linuxrc", "hush", "telnetd", "dpkg", "rpm", "runsv"];

for (const a of ARCHES) {
  Deno.test(`busybox: ${a.arch} binary is static, runs, and has the applets`, async (t) => {
    const out = await stageOut(a.board, "busybox");
    const bb = join(out, "bin", "busybox");
    const bbx = (...args: string[]) => run([...a.emulator, bb, ...args]);

    await t.step("readelf: static, right machine", async () => {
      const elf = await elfInfo(bb);
      assert.equal(elf.machine, a.machine);
      assert.match(elf.flags, a.flags);
      assert.equal(elf.interp, undefined);
      const dyn = await run(["readelf", "-d", bb]);
      assert.match(dyn.stdout, /There is no dynamic section in this file/);
    });
    await t.step("busybox sh -c", async () => {
      const r = await bbx("sh", "-c", 'x=6; echo "$((x * 7)) $(echo hi | tr a-z A-Z)"');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, "42 HI\n");
    });
    await t.step("banner carries the fixed build date", async () => {
      const r = await bbx("--help");
      assert.match(r.stdout, /^BusyBox v1\.35\.0 \(2025-01-01 00:00:00 \w+\)/);
    });
    await t.step("required applets present, unwanted ones absent", async () => {
      const r = await bbx("--list");
      assert.equal(r.code, 0, r.stderr);
      const list = new Set(r.stdout.split("\n"));
      assert.deepEqual(REQUIRED.filter((x) => !list.has(x)), []);
      assert.deepEqual(ABSENT.filter((x) => list.has(x)), []);
    });
    await t.step("xz, gzip and tar round trip", async () => {
      const dir = await Deno.makeTempDir({ prefix: "icenet-bb-" });
      try {
        await Deno.writeTextFile(join(dir, "f"), "icenet\n".repeat(1000));
        const script = "cd " + dir + " && tar -cf a.tar f && xz -k a.tar && gzip -k a.tar && " +
          "rm a.tar && unxz a.tar.xz && tar -xOf a.tar f | wc -l && zcat a.tar.gz | tar -t";
        const r = await bbx("sh", "-c", script);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.replace(/[ \t]+/g, ""), "1000\nf\n");
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
    await t.step("applets run through the tree's links", async () => {
      const sh = join(out, "tree", "bin", "sh");
      const r = await run([...a.emulator, sh, "-c", "echo ok; basename /a/b"]);
      assert.equal(r.stdout, "ok\nb\n", r.stderr);
    });
  });
}

Deno.test("busybox: the applet tree holds busybox and relative links only", async () => {
  const out = await stageOut("zima", "busybox");
  const tree = join(out, "tree");
  const links: string[] = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(join(tree, rel))) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) walk(p);
      else if (e.isSymlink) links.push(p);
      else assert.equal(p, "bin/busybox", `unexpected file ${p}`);
    }
  };
  walk("");
  assert.ok(links.length > 200, `only ${links.length} links`);
  for (const l of links) {
    const target = Deno.readLinkSync(join(tree, l));
    assert.ok(!target.startsWith("/"), `${l} -> ${target} is absolute`);
    assert.equal(join(dirname(join(tree, l)), target), join(tree, "bin", "busybox"), l);
  }
  assert.ok(links.includes("usr/sbin/ntpd") && links.includes("sbin/udhcpc"));
  assert.deepEqual(
    await Deno.readFile(join(tree, "bin", "busybox")),
    await Deno.readFile(join(out, "bin", "busybox")),
  );
});

/**
 * pkgs/busybox/patches/0001: getty on a line at one speed prints the login prompt without
 * upstream's 0.1 s pause (a tenth of the boot to login). Run on a terminal of its own
 * (util-linux script) under strace; `-m` (read the modem's speed) still pauses, which
 * also shows that the trace sees the sleeps.
 */
Deno.test("busybox getty: the prompt comes without a pause, except where a modem may answer", async () => {
  const bb = join(await stageOut("zima", "busybox"), "bin", "busybox");
  const dir = await Deno.makeTempDir({ prefix: "icenet-getty-" });
  const sleepsAndPrompt = async (flags: string) => {
    const trace = join(dir, `trace${flags}`), screen = join(dir, `screen${flags}`);
    // getty waits for a name until timeout ends it.
    const getty = `strace -f -e trace=nanosleep,clock_nanosleep -o ${trace} ` +
      `${bb} getty -L -i ${flags} 115200 - vt100`;
    await run(["timeout", "4", "script", "-qec", getty, screen]);
    const sleeps = (await Deno.readTextFile(trace)).split("\n")
      .filter((l) => /nanosleep\(/.test(l));
    return { sleeps, prompt: /login: /.test(await Deno.readTextFile(screen)) };
  };
  try {
    const plain = await sleepsAndPrompt("");
    assert.ok(plain.prompt, "no login prompt");
    assert.deepEqual(plain.sleeps, []);
    const modem = await sleepsAndPrompt("-m");
    assert.ok(modem.sleeps.some((l) => /tv_nsec=100000000/.test(l)), modem.sleeps.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
