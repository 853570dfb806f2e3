/**
 * icenet-init in boot mode (PID 1, no arguments) inside fresh PID, mount and UTS
 * namespaces, chrooted into a tmpfs root that has the host's /usr bound in: it mounts
 * the API filesystems, sets the hostname, mounts /etc/fstab, runs
 * /etc/icenet/services and powers off with reboot(2). The namespaces keep the host
 * untouched (the final read-only remount hits the tmpfs root only).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildInit, INIT, parseStatus, waitFor } from "./_harness.ts";

Deno.test("icenet-init in boot mode mounts, names the host, runs services and powers off", async (t) => {
  await buildInit();
  const dir = await Deno.makeTempDir({ prefix: "icenet-boot-" });
  const tpl = join(dir, "tpl");
  await Deno.mkdir(join(tpl, "etc/icenet/services"), { recursive: true });
  await Deno.writeTextFile(join(tpl, "etc/hostname"), "icenet-test\n");
  await Deno.writeTextFile(
    join(tpl, "etc/fstab"),
    "# test fstab\ntmpfs /mnt/a\\040b tmpfs size=1M,nosuid,mode=0700 0 0\n" +
      "/dev/nothing /mnt/never ext4 noauto 0 0\njunk\n",
  );
  await Deno.writeTextFile(
    join(tpl, "etc/icenet/services/probe"),
    "command = /bin/sh -c 'hostname > /run/probe; exec sleep 100'\nlog = console\n",
  );
  await Deno.copyFile(INIT, join(tpl, "icenet-init"));
  await Deno.chmod(join(tpl, "icenet-init"), 0o755);
  const root = join(dir, "root");
  const script = [
    "set -e",
    `mkdir -p ${root}`,
    `mount -t tmpfs -o size=16m tmpfs ${root}`,
    `cp -a ${tpl}/. ${root}/`,
    `mkdir ${root}/usr`,
    `mount --rbind /usr ${root}/usr`,
    `for l in bin lib lib64 sbin; do ln -s usr/$l ${root}/$l; done`,
    `exec chroot ${root} /icenet-init`,
  ].join("\n");
  const child = new Deno.Command("unshare", {
    args: ["--fork", "--pid", "--mount", "--uts", "--propagation", "private", "sh", "-c", script],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = (async () => {
    const [o, e] = await Promise.all([
      new Response(child.stdout).text(),
      new Response(child.stderr).text(),
    ]);
    return o + e;
  })();
  let ended = false;
  const status = child.status.then((s) => (ended = true, s));
  try {
    const pid = await waitFor("init", async () => {
      const kids = await Deno.readTextFile(`/proc/${child.pid}/task/${child.pid}/children`);
      const p = Number(kids.trim().split(" ")[0]);
      return p && (await Deno.readTextFile(`/proc/${p}/comm`)).startsWith("icenet-init") ? p : 0;
    });
    const inRoot = (p: string) => `/proc/${pid}/root${p}`;
    const ctl = async (...args: string[]) => {
      const r = await new Deno.Command(INIT, {
        args: ["ctl", "-s", inRoot("/run/icenet/control"), ...args],
      }).output();
      return new TextDecoder().decode(r.stdout);
    };
    await t.step("the probe service runs", async () => {
      const st = await waitFor("probe ready", async () => {
        const s = parseStatus(await ctl("status"));
        return s.get("probe")?.state === "ready" ? s : undefined;
      });
      assert.equal(st.size, 1);
    });
    await t.step("the hostname comes from /etc/hostname", async () => {
      const probe = await waitFor(
        "/run/probe",
        () => Deno.readTextFile(inRoot("/run/probe")).catch(() => ""),
      );
      assert.equal(probe, "icenet-test\n");
    });
    await t.step("the API filesystems and fstab are mounted", async () => {
      const mounts = (await Deno.readTextFile(`/proc/${pid}/mounts`)).split("\n")
        .map((l) => l.split(" ").slice(0, 3).join(" "));
      for (
        const want of [
          "proc /proc proc",
          "sysfs /sys sysfs",
          "cgroup2 /sys/fs/cgroup cgroup2",
          "devtmpfs /dev devtmpfs",
          "devpts /dev/pts devpts",
          "tmpfs /run tmpfs",
          "tmpfs /tmp tmpfs",
          "tmpfs /mnt/a\\040b tmpfs",
        ]
      ) assert.ok(mounts.includes(want), `${want} not in\n${mounts.join("\n")}`);
      assert.ok(!mounts.some((m) => m.includes("/mnt/never")), "noauto was mounted");
      assert.equal((await Deno.stat(inRoot("/mnt/a b"))).mode! & 0o777, 0o700);
    });
    await t.step("the probe service runs in its own cgroup", async () => {
      const probe = parseStatus(await ctl("status")).get("probe")!.pid;
      const cg = await Deno.readTextFile(inRoot(`/proc/${probe}/cgroup`));
      assert.ok(cg.split("\n").includes("0::/icenet/probe"), cg);
    });
    await t.step("poweroff stops the services and ends the namespace", async () => {
      assert.equal(await ctl("poweroff"), "ok: poweroff\n");
      const st = await status;
      const out = await output;
      assert.equal(st.signal, "SIGINT", out);
      assert.match(out, /warning: \/etc\/fstab:4: expected 'device dir type \[options\]'/);
      assert.match(out, /info: probe: stopped \(killed by signal 15\)/);
      assert.match(out, /info: powering off/);
      assert.doesNotMatch(out, /unable to (mount|remount|unmount)/);
      // devtmpfs and sysfs have one superblock for every namespace: a shutdown that made
      // them read-only in here would have done it to the host (it once did, to /dev).
      const hostRo = (await Deno.readTextFile("/proc/self/mounts")).split("\n")
        .filter((l) => / (\/dev|\/sys|\/sys\/fs\/cgroup) /.test(l) && / (ro,|ro )/.test(l));
      assert.deepEqual(hostRo, []);
    });
  } catch (e) {
    console.error(`--- icenet-init output ---\n${ended ? await output : "(still running)"}`);
    throw e;
  } finally {
    if (!ended) child.kill("SIGKILL");
    await status;
    await Deno.remove(dir, { recursive: true });
  }
});
