/**
 * base-files' first-boot settings script (/usr/lib/icenet/setup) run for real with
 * busybox only (Debian's busybox-static 1.35, the project's busybox version): every
 * setting applied to a copy of base-files' /etc, bad lines refused by line and key with
 * nothing changed, Windows line ends, the shipped example, and the time zone file
 * byte-identical to the build's (lib/tzif.ts). The boot partition part (`setup boot`)
 * runs in the e2e boot tests.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { tzifFromRule } from "../../lib/tzif.ts";
import { debianBusybox } from "./_busybox_static.ts";

const SCRIPT = new URL("../../pkgs/base-files/files/usr/lib/icenet/setup", import.meta.url)
  .pathname;
const ETC = new URL("../../pkgs/base-files/files/etc/", import.meta.url).pathname;
const EXAMPLE = new URL("../../lib/image/icenet-setup.example.txt", import.meta.url).pathname;
const KEY_A =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBZeK12WAIN854S5aeoM1c/RfW+Zp3UVqKjmkCB+uxMS a@x";
const KEY_B =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1y2M4n6ZkR0kq2vX1p4qf8Qm3m4f0T8b3k2W9y5m1A b@y";

/** A root with base-files' /etc; returns its path. */
async function freshRoot(base: string, name: string): Promise<string> {
  const root = join(base, name);
  await Deno.mkdir(join(root, "etc"), { recursive: true });
  await Deno.mkdir(join(root, "root"), { mode: 0o700 });
  for await (const e of Deno.readDir(ETC)) {
    if (e.isFile) await Deno.copyFile(join(ETC, e.name), join(root, "etc", e.name));
  }
  return root;
}

/** Every file under `dir` with its content (to see that nothing changed). */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(join(dir, rel))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(r);
      else out[r] = await Deno.readTextFile(join(dir, r));
    }
  };
  await walk("");
  return out;
}

Deno.test("setup script: applies every setting, refuses bad lines whole, reads Windows files", async (t) => {
  const base = await Deno.makeTempDir({ prefix: "icenet-setup-" });
  try {
    const bin = await debianBusybox(join(base, "busybox"));
    const setup = async (...args: string[]) => {
      const p = await new Deno.Command(join(bin, "sh"), {
        args: [SCRIPT, ...args],
        env: { PATH: bin },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      return { code: p.code, out: dec.decode(p.stdout) + dec.decode(p.stderr) };
    };
    const file = (name: string, text: string) => {
      const f = join(base, name);
      Deno.writeTextFileSync(f, text);
      return f;
    };

    await t.step("every setting", async () => {
      const root = await freshRoot(base, "all");
      const f = file(
        "all.txt",
        `# settings
hostname = garden-pi
ssh_key = ${KEY_A}
user = admin
ssh_key = ${KEY_B}
ipv4 = 192.168.1.20/24
gateway = 192.168.1.1
dns = 192.168.1.1 9.9.9.9
timezone = CET-1CEST,M3.5.0,M10.5.0/3
wifi_country = DE
wifi_ssid = My Net
wifi_psk = a long passphrase
`,
      );
      // The root has the wifi service (wpa-supplicant), which settings enable.
      Deno.mkdirSync(join(root, "usr/lib/icenet/services"), { recursive: true });
      Deno.writeTextFileSync(join(root, "usr/lib/icenet/services/wifi"), "command = true\n");
      const r = await setup("apply", f, root);
      assert.equal(r.code, 0, r.out);
      const read = (p: string) => Deno.readTextFileSync(join(root, p));
      assert.equal(
        Deno.readLinkSync(join(root, "etc/icenet/services/wifi")),
        "/usr/lib/icenet/services/wifi",
      );
      assert.equal(read("etc/hostname"), "garden-pi\n");
      assert.equal(read("root/.ssh/authorized_keys"), `${KEY_A}\n`);
      assert.equal(read("home/admin/.ssh/authorized_keys"), `${KEY_B}\n`);
      assert.match(read("etc/passwd"), /^admin:x:1000:1000:admin:\/home\/admin:\/bin\/sh$/m);
      assert.match(read("etc/group"), /^admin:x:1000:$/m);
      assert.match(read("etc/shadow"), /^admin:!:/m);
      assert.equal(Deno.statSync(join(root, "etc/shadow")).mode! & 0o777, 0o600);
      assert.equal(Deno.statSync(join(root, "home/admin")).uid, 1000);
      assert.equal(Deno.statSync(join(root, "home/admin/.ssh/authorized_keys")).uid, 1000);
      assert.equal(Deno.statSync(join(root, "root/.ssh/authorized_keys")).mode! & 0o777, 0o600);
      const net = read("etc/icenet/network");
      assert.match(net, /^ipv4=192\.168\.1\.20\/24$/m);
      assert.match(net, /^gateway=192\.168\.1\.1$/m);
      assert.match(net, /^dns="192\.168\.1\.1 9\.9\.9\.9"$/m);
      assert.equal(
        read("etc/wpa_supplicant.conf"),
        'ctrl_interface=/run/wpa_supplicant\ncountry=DE\nnetwork={\n\tssid="My Net"\n\tpsk="a long passphrase"\n}\n',
      );
      assert.equal(Deno.statSync(join(root, "etc/wpa_supplicant.conf")).mode! & 0o777, 0o600);
      // The shell's TZif is the build's, byte for byte.
      assert.deepEqual(
        Deno.readFileSync(join(root, "etc/localtime")),
        tzifFromRule("CET-1CEST,M3.5.0,M10.5.0/3"),
      );
      // Applying again adds nothing twice.
      const again = await setup("apply", f, root);
      assert.equal(again.code, 0, again.out);
      assert.equal(read("root/.ssh/authorized_keys"), `${KEY_A}\n`);
      assert.equal(read("etc/passwd").match(/^admin:/gm)?.length, 1);
    });

    await t.step("other time zones match the build's too", async () => {
      for (const rule of ["GMT0BST,M3.5.0/1,M10.5.0", "EST5EDT,M3.2.0,M11.1.0", "IST-5:30"]) {
        const root = await freshRoot(base, `tz-${rule.slice(0, 3)}`);
        const r = await setup("apply", file("tz.txt", `timezone = ${rule}\n`), root);
        assert.equal(r.code, 0, r.out);
        assert.deepEqual(Deno.readFileSync(join(root, "etc/localtime")), tzifFromRule(rule), rule);
      }
    });

    await t.step("a bad line: named by number and key, nothing applied", async () => {
      const cases: [string, RegExp][] = [
        ["hostname = Bad_Name", /^icenet-setup\.txt:2: hostname: a host name/],
        ["ipv4 = 10.0.0.1", /^icenet-setup\.txt:2: ipv4: dhcp, or an address/],
        ["gateway = 10.0.0.256", /^icenet-setup\.txt:2: gateway: an IPv4 address/],
        ["ssh_key = my key", /^icenet-setup\.txt:2: ssh_key: an OpenSSH public key/],
        ["timezone = Europe/Berlin", /^icenet-setup\.txt:2: timezone: a POSIX TZ rule/],
        ["wifi_psk = short", /^icenet-setup\.txt:2: wifi_psk: 8 to 63 characters/],
        ["colour = blue", /^icenet-setup\.txt:2: colour: unknown setting/],
        ["just words", /^icenet-setup\.txt:2: expected key = value/],
        ["user = root", /^icenet-setup\.txt:2: user: root exists/],
        ["wifi_ssid = lonely", /^icenet-setup\.txt: wifi_country, wifi_ssid and wifi_psk go/],
        ["dns = 9.9.9.9", /^icenet-setup\.txt: gateway and dns go with a static ipv4/],
      ];
      for (const [line, re] of cases) {
        const root = await freshRoot(base, "bad");
        const before = await snapshot(root);
        const r = await setup("apply", file("bad.txt", `hostname = fine\n${line}\n`), root);
        assert.equal(r.code, 1, line);
        assert.match(r.out, re);
        assert.deepEqual(await snapshot(root), before, `${line}: the root changed`);
        await Deno.remove(root, { recursive: true });
      }
    });

    await t.step("a file saved on Windows (CRLF, no final newline)", async () => {
      const root = await freshRoot(base, "crlf");
      const r = await setup(
        "apply",
        file("crlf.txt", "# x\r\nhostname = crlf\r\nipv4 = dhcp"),
        root,
      );
      assert.equal(r.code, 0, r.out);
      assert.equal(Deno.readTextFileSync(join(root, "etc/hostname")), "crlf\n");
      assert.match(Deno.readTextFileSync(join(root, "etc/icenet/network")), /^ipv4=dhcp$/m);
    });

    await t.step("the shipped example is valid and sets nothing", async () => {
      const root = await freshRoot(base, "example");
      const before = await snapshot(root);
      const r = await setup("apply", EXAMPLE, root);
      assert.deepEqual(r, { code: 0, out: "" });
      assert.deepEqual(await snapshot(root), before);
      // With its lines uncommented (one of each), it is valid too.
      const filled = Deno.readTextFileSync(EXAMPLE).split("\n")
        .filter((l) => /^# [a-z0-9_]+ = /.test(l) && !/ipv4 = dhcp/.test(l))
        .map((l) => l.slice(2).replace("ssh-ed25519 AAAA...your public key... you@laptop", KEY_A))
        .join("\n");
      const r2 = await setup("check", file("filled.txt", filled + "\n"));
      assert.equal(r2.code, 0, `${r2.out}\n${filled}`);
    });
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});

Deno.test("setup boot-device: the data partition's disk's first partition, without findfs", async () => {
  const base = await Deno.makeTempDir({ prefix: "icenet-setup-dev-" });
  let loop = "";
  try {
    const bin = await debianBusybox(join(base, "busybox"));
    // A real partitioned disk: the script checks that partition 1 is a block device.
    const img = join(base, "disk.img");
    await Deno.writeFile(img, new Uint8Array());
    await Deno.truncate(img, 16 * 1024 * 1024);
    const sh = (cmd: string) => new Deno.Command("sh", { args: ["-c", cmd] }).output();
    await sh(`printf 'label: dos\\n,4M\\n,4M\\n' | sfdisk -q ${img}`);
    loop = new TextDecoder().decode(
      (await new Deno.Command("losetup", {
        args: ["-f", "--show", img],
        stdout: "piped",
      }).output()).stdout,
    ).trim();
    await sh(`partx -a ${loop} 2>/dev/null; true`);
    const device = async (mounts: string) => {
      const table = join(base, "mounts");
      Deno.writeTextFileSync(table, mounts);
      const p = await new Deno.Command(join(bin, "sh"), {
        args: [SCRIPT, "boot-device"],
        env: { PATH: bin, ICENET_MOUNTS: table },
        clearEnv: true,
        stdout: "piped",
      }).output();
      return { code: p.code, out: new TextDecoder().decode(p.stdout) };
    };
    const line = (dev: string, dir: string) => `${dev} ${dir} ext4 rw,noatime 0 0\n`;
    assert.deepEqual(await device(line("/dev/root", "/rom") + line(`${loop}p2`, "/overlay")), {
      code: 0,
      out: `${loop}p1\n`,
    });
    // Not a disk's partition, no such disk, no data partition: setup falls back to findfs.
    assert.equal((await device("tmpfs /overlay tmpfs rw 0 0\n")).code, 1);
    assert.equal((await device(line("/dev/nosuchdisk4", "/overlay"))).code, 1);
    assert.equal((await device(line(`${loop}p2`, "/mnt"))).code, 1);
  } finally {
    if (loop) {
      await new Deno.Command("partx", { args: ["-d", loop], stderr: "null" }).output();
      await new Deno.Command("losetup", { args: ["-d", loop] }).output();
    }
    await Deno.remove(base, { recursive: true });
  }
});
