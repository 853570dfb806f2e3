/**
 * The network programs of the zima packages, built by the real stages (musl
 * toolchain, static): they run in a root made of the base packages (bubblewrap
 * chroot), and dropbear accepts a real SSH key login over loopback while refusing
 * anyone without the key. Slow on a cold store (builds musl, busybox, dropbear and
 * chrony); warm runs take seconds.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildReal, inRoot, packageIn, unpackPackages } from "./_real.ts";
import { freePort, waitForPort } from "../_net.ts";

const dec = new TextDecoder();

async function run(cmd: string, args: string[], env: Record<string, string> = {}) {
  const r = await new Deno.Command(cmd, { args, env, stdin: "null" }).output();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

Deno.test("dropbear and chrony run in the zima root; dropbear takes a key login and refuses others", async () => {
  const names = ["base-files", "busybox", "dropbear", "chrony"];
  const res = await buildReal(names.map((n) => `pkg:${n}`));
  const work = await Deno.makeTempDir({ prefix: "icenet-programs-" });
  const tree = join(work, "root");
  await Deno.mkdir(tree);
  await unpackPackages(names.map((n) => packageIn(res.get(`pkg:${n}`)!.out!)), tree);
  let server: Deno.ChildProcess | undefined;
  try {
    // Versions, run inside the root (absolute symlinks resolve there).
    const v = await run("bwrap", inRoot(tree, ["/usr/sbin/dropbear", "-V"]));
    assert.match(v.err, /Dropbear v2022\.83/);
    const c = await run("bwrap", inRoot(tree, ["/usr/sbin/chronyd", "--version"]));
    assert.match(c.out, /chronyd \(chrony\) version 4\.3/);
    const cc = await run("bwrap", inRoot(tree, ["/usr/bin/chronyc", "--version"]));
    assert.match(cc.out, /chronyc \(chrony\) version 4\.3/);
    // chronyd parses the shipped configuration (-p prints it and exits).
    const conf = await run(
      "bwrap",
      inRoot(tree, ["/usr/sbin/chronyd", "-p", "-f", "/etc/chrony/chrony.conf"]),
    );
    assert.equal(conf.code, 0, conf.err);
    assert.match(conf.out, /^port 0$/m);

    // A client key made by our own dropbearkey; its public half authorises root.
    const multi = join(tree, "usr/bin/dropbearmulti");
    const id = join(work, "id_ed25519");
    const k = await run(multi, ["dropbearkey", "-t", "ed25519", "-f", id]);
    assert.equal(k.code, 0, k.err);
    const pub = k.out.split("\n").find((l) => l.startsWith("ssh-ed25519 "))!;
    await Deno.mkdir(join(tree, "root/.ssh"), { mode: 0o700 });
    await Deno.writeTextFile(join(tree, "root/.ssh/authorized_keys"), pub + "\n", { mode: 0o600 });

    const port = freePort();
    server = new Deno.Command("bwrap", {
      args: inRoot(tree, ["/usr/sbin/dropbear", "-F", "-E", "-R", "-p", `127.0.0.1:${port}`]),
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    await waitForPort(port, 15_000);
    const env = { HOME: work };
    const ok = await run(multi, [
      "dbclient",
      "-y",
      "-y",
      "-i",
      id,
      "-p",
      String(port),
      "root@127.0.0.1",
      "echo hello-$((6*7)); id -u",
    ], env);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(ok.out, "hello-42\n0\n");
    // Host keys were made on first use, in the root's /etc/dropbear.
    assert.ok([...Deno.readDirSync(join(tree, "etc/dropbear"))].length >= 1);

    // Without the key there is no way in (no password method is offered).
    const other = join(work, "other");
    await run(multi, ["dropbearkey", "-t", "ed25519", "-f", other]);
    const denied = await run(multi, [
      "dbclient",
      "-y",
      "-y",
      "-i",
      other,
      "-p",
      String(port),
      "root@127.0.0.1",
      "true",
    ], env);
    assert.notEqual(denied.code, 0);
    assert.match(denied.err, /No auth methods could be used|Permission denied|publickey/i);
    assert.doesNotMatch(denied.err, /password/i);
  } finally {
    if (server) {
      server.kill("SIGTERM");
      await server.stderr.cancel();
      await server.status;
    }
    await Deno.remove(work, { recursive: true });
  }
});
