// The console driver against real processes: a shell script standing in for the
// guest's getty (the serial stream is just bytes), and QEMU itself for the KVM probe.
import assert from "node:assert/strict";
import { SerialConsole, stripEscapes } from "../../lib/qemu/serial.ts";
import { GuestShell } from "../../lib/qemu/shell.ts";
import { acceleratorWorks } from "../../lib/qemu/kvm.ts";
import { qemuArgv } from "../../lib/qemu/machine.ts";

/** A login prompt like getty's, with \r\n and escapes, then an interactive sh. */
const GETTY = String.raw`printf 'booting\r\n\033[2J\033[01;01Hicenet login: '; read u
[ "$u" = root ] || { printf 'Login incorrect\r\n'; exit 1; }
printf 'Password: '; read p
[ "$p" = secret ] || { printf 'Login incorrect\r\n'; exit 1; }
exec sh -i 2>&1`;

function fakeGuest() {
  const child = new Deno.Command("sh", {
    args: ["-c", GETTY],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
    env: { PS1: "# " },
  }).spawn();
  return { child, con: new SerialConsole(child.stdout, child.stdin) };
}

Deno.test("stripEscapes() removes escapes and \\r, keeping a cut-off escape for later", async (t) => {
  const rows: [string, string, [string, string]][] = [
    ["csi", "a\x1b[2J\x1b[01;01Hb\r\n", ["ab\n", ""]],
    ["ovmf mode", "x\x1b[=3hy", ["xy", ""]],
    ["cursor query", "/ # \x1b[6n", ["/ # ", ""]],
    ["cut off", "abc\x1b[01;", ["abc", "\x1b[01;"]],
  ];
  for (const [name, input, want] of rows) {
    await t.step(name, () => assert.deepEqual(stripEscapes(input), want));
  }
});

Deno.test("GuestShell.login() logs in and run() returns output and exit status", async () => {
  const { child, con } = fakeGuest();
  const sh = await GuestShell.login(con, {
    user: "root",
    password: "secret",
    timeoutMs: 10_000,
    quietKernel: false,
  });
  assert.deepEqual(await sh.run("echo one; echo two"), { out: "one\ntwo\n", status: 0 });
  assert.deepEqual(await sh.run("echo oops >&2; exit_code() { return 3; }; exit_code"), {
    out: "oops\n",
    status: 3,
  });
  await assert.rejects(() => sh.check("false"), /guest: `false` exited with 1/);
  await sh.send("exit");
  await con.done;
  await child.status;
});

Deno.test("GuestShell.login() sees a prompt that a console message follows at once", async () => {
  // As on a slow Pi boot: no bare prompt ever ends the output (a non-interactive sh).
  const script = String.raw`printf 'icenet login: [    3.1] mmc0: new card\n'; read u
printf 'Password: icenet-init: info: clock: started\n'; read p
printf 'icenet:~# icenet-init: info: setup: done\n'
exec sh 2>&1`;
  const child = new Deno.Command("sh", { args: ["-c", script], stdin: "piped", stdout: "piped" })
    .spawn();
  const con = new SerialConsole(child.stdout, child.stdin);
  const sh = await GuestShell.login(con, {
    user: "root",
    password: "secret",
    timeoutMs: 10_000,
    quietKernel: false,
  });
  assert.deepEqual(await sh.run("echo up"), { out: "up\n", status: 0 });
  await sh.send("exit");
  await con.done;
  await child.status;
});

Deno.test("SerialConsole.expect() names what it waited for on timeout and on close", async () => {
  const { child, con } = fakeGuest();
  await assert.rejects(
    () => con.expect(/never/, 300, "the impossible"),
    /timed out after 0\.3 s waiting for the impossible; last output:\nbooting\nicenet login: $/,
  );
  await con.write("nobody\n");
  await assert.rejects(
    () => con.expect(/never/, 10_000, "a prompt"),
    /console closed while waiting for a prompt; last output:\n[^]*Login incorrect\n$/,
  );
  await child.status;
});

Deno.test("GuestShell.login() reports a refused login", async () => {
  const { child, con } = fakeGuest();
  await assert.rejects(
    () => GuestShell.login(con, { user: "root", password: "wrong", timeoutMs: 10_000 }),
    /login as root: Login incorrect/,
  );
  await child.status;
  await con.close();
});

Deno.test("acceleratorWorks() boots the probe ROM under TCG", async () => {
  assert.equal(await acceleratorWorks("tcg"), true);
  const kvmUsable = await Deno.open("/dev/kvm", { read: true, write: true }).then((f) => {
    f.close();
    return true;
  }, () => false);
  // Without a usable /dev/kvm the probe must say no; with one, it must not hang.
  if (!kvmUsable) assert.equal(await acceleratorWorks("kvm"), false);
  else assert.equal(typeof await acceleratorWorks("kvm"), "boolean");
});

Deno.test("qemuArgv() builds the PC and Raspberry Pi command lines", async (t) => {
  await t.step("zima", () => {
    const a = qemuArgv({
      system: "qemu-system-x86_64",
      machine: "q35",
      memory: "256M",
      accel: "tcg",
      firmware: { code: "C.fd", vars: "V.fd" },
      disk: { file: "z.img", bus: "virtio" },
      net: { forwards: [{ host: 2222, guest: 22 }] },
      noReboot: true,
      devices: ["i6300esb"],
      sataDisks: ["s0.img", "s1.img"],
    }).join(" ");
    for (
      const part of [
        "-M q35 -m 256M -accel tcg -display none -nodefaults",
        "-drive if=pflash,format=raw,unit=0,readonly=on,file=C.fd",
        "-drive if=pflash,format=raw,unit=1,file=V.fd",
        "-drive file=z.img,format=raw,if=none,id=disk0 -device virtio-blk-pci,drive=disk0",
        "-netdev user,id=net0,hostfwd=tcp:127.0.0.1:2222-:22 -device virtio-net-pci,netdev=net0",
        "-device i6300esb",
        "-drive file=s0.img,format=raw,if=none,id=sata0 -device ide-hd,drive=sata0,bus=ide.0",
        "-drive file=s1.img,format=raw,if=none,id=sata1 -device ide-hd,drive=sata1,bus=ide.1",
        "-serial stdio -monitor none -no-reboot",
      ]
    ) assert.ok(a.includes(part), `${part}\nin: ${a}`);
  });
  await t.step("rpi, console on the second UART", () => {
    const a = qemuArgv({
      system: "qemu-system-aarch64",
      machine: "raspi3b",
      memory: "1G",
      accel: "tcg",
      kernel: "kernel8.img",
      dtb: "b.dtb",
      append: "console=ttyS1",
      disk: { file: "sd.img", bus: "sd" },
      serialIndex: 1,
    }).join(" ");
    assert.ok(!a.includes("-nodefaults"));
    assert.ok(a.includes("-kernel kernel8.img -dtb b.dtb -append console=ttyS1"), a);
    assert.ok(a.includes("-drive file=sd.img,format=raw,if=sd -serial null -serial stdio"), a);
  });
  await t.step("rpi on raspi4b: the QEMU build's own options come first", () => {
    const a = qemuArgv({
      system: "/store/qemu/bin/qemu-system-aarch64",
      options: ["-audio", "none"],
      machine: "raspi4b",
      memory: "2G",
      accel: "tcg",
      disk: { file: "sd.img", bus: "sd" },
      serialIndex: 1,
    });
    assert.deepEqual(a.slice(0, 6), ["-audio", "none", "-M", "raspi4b", "-m", "2G"]);
  });
});
