/**
 * icenet-update install against real loop devices and a real FAT boot partition: a
 * bundle goes into the inactive slot only and arms its trial; refused bundles write
 * nothing (every partition hashed before and after); a bundle cut off mid-stream
 * leaves the boot state as it was and the next install succeeds.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { type Loader, newKey, Rig } from "./_rig.ts";

const LOADERS: Loader[] = ["u-boot", "systemd-boot"];

for (const loader of LOADERS) {
  Deno.test(`install (${loader}): writes only the inactive slot, reads it back, arms a trial`, async () => {
    await using rig = await Rig.create(loader);
    const before = await rig.hashes();
    const b = await rig.bundle({ version: "2.0", serial: 2, rootBytes: 4 << 20 });
    const r = await rig.run(["install", b.path]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^OK: testboard 2\.0 in slot b/);
    const after = await rig.hashes();
    assert.equal(after.a, before.a, "slot a's root was written");
    assert.notEqual(after.b, before.b);
    // Slot b's root starts with the payload, byte for byte.
    const root = await Deno.readFile(b.root);
    const head = (await $`head -c ${root.length} ${rig.loops.b} | sha256sum`.text()).split(" ")[0];
    const want = (await $`sha256sum ${b.root}`.text()).split(" ")[0];
    assert.equal(head, want);
    assert.equal(await rig.get("slot-b/vmlinuz"), "kernel 2.0\n".repeat(1000));
    assert.equal(await rig.get("slot-b/cmdline.txt"), "root=/dev/p3 icenet.slot=b\n");
    assert.equal(await rig.get("slot-b/vmlinuz.tmp"), undefined);
    assert.equal(await rig.get("slot-a/vmlinuz"), "kernel a\n", "slot a's boot files changed");
    assert.match((await rig.get("slot-b/manifest"))!, /^icenet-bundle 1\n[^]*\nsignature ed25519 /);
    if (loader === "u-boot") {
      const env = await rig.fwPrintenv(); // Debian's fw_printenv reads what we wrote
      assert.equal(env.icenet_trial, "b");
      assert.equal(env.icenet_tries, "1");
      assert.deepEqual(
        await rig.get("icenet.env.bak"),
        await rig.get("icenet.env"),
        "the second copy differs",
      );
    } else {
      assert.deepEqual(await rig.ls("loader/entries"), ["icenet-a.conf", "icenet-b+1.conf"]);
      const entry = (await rig.get("loader/entries/icenet-b+1.conf"))!;
      assert.match(entry, /^sort-key icenet$/m);
      assert.match(entry, /^version 2$/m);
      assert.match(entry, /^linux \/slot-b\/vmlinuz$/m);
      assert.match(entry, /^options root=\/dev\/p3 icenet\.slot=b icenet\.trial=1$/m);
    }
    const s = await rig.status();
    assert.equal(s.slot, "a");
    assert.equal(s.state, "committed");
    assert.equal(s.other_state, "trial-armed");
    assert.equal(s.other_version, "2.0");
    assert.match(s.last_install, /^result=ok version=2\.0 serial=2 slot=b /);
    const json = JSON.parse((await rig.run(["status", "--json"])).stdout);
    assert.equal(json.other_state, "trial-armed");
  });
}

Deno.test("install refuses a bad signature, an untrusted key, another board, an older version, a root bigger than the slot: nothing written", async (t) => {
  await using rig = await Rig.create("u-boot");
  // The running slot a has version 5 (serial 5) recorded.
  const v5 = await rig.bundle({ version: "5.0", serial: 5 });
  await rig.put("slot-a/manifest", v5.manifest);
  const cases: [string, () => Promise<string>, RegExp][] = [
    ["bad signature", async () => {
      const b = await rig.bundle({ version: "6.0", serial: 6 });
      // One byte of the manifest changed after signing: serial 6 -> 9.
      const bytes = await Deno.readFile(b.path);
      const at = new TextDecoder().decode(bytes.subarray(0, 200)).indexOf("serial 6") + 7;
      bytes[at] = "9".charCodeAt(0);
      await Deno.writeFile(b.path, bytes);
      return b.path;
    }, /bad signature: the manifest was not signed by key [0-9a-f]{16} .*refused, nothing written/],
    ["untrusted key", async () => {
      return (await rig.bundle({ version: "6.0", serial: 6 }, await newKey())).path;
    }, /signed by key [0-9a-f]{16}, which is not in .*update\.pub \(1 trusted key\): refused/],
    ["another board", async () => {
      return (await rig.bundle({ board: "zima", version: "6.0", serial: 6 })).path;
    }, /bundle is for board zima, this device is testboard: refused/],
    [
      "older version",
      async () => {
        return (await rig.bundle({ version: "4.0", serial: 4 })).path;
      },
      /bundle version 4\.0 \(serial 4\) is older than the running 5\.0 \(serial 5\): refused \(--allow-downgrade installs it anyway\)/,
    ],
    ["a root bigger than the slot", async () => {
      // The rig's root partitions are 16 MiB: a release that outgrew the device's slots.
      return (await rig.bundle({ version: "6.0", serial: 6, rootBytes: 20 << 20 })).path;
    }, /root payload is 20971520 bytes, \S+ \(root of slot b\) holds 16777216: refused/],
    ["not a bundle", async () => {
      const p = join(rig.dir, "junk");
      await Deno.writeTextFile(p, "hello world\n".repeat(100));
      return p;
    }, /not an icenet update bundle/],
  ];
  for (const [name, make, message] of cases) {
    await t.step(name, async () => {
      const file = await make();
      const before = await rig.hashes();
      const r = await rig.run(["install", file]);
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, message);
      assert.deepEqual(await rig.hashes(), before, "a partition changed");
    });
  }
  await t.step("--allow-downgrade installs the older one", async () => {
    const b = await rig.bundle({ version: "4.0", serial: 4 });
    const r = await rig.run(["install", "--allow-downgrade", b.path]);
    assert.equal(r.code, 0, r.stderr);
  });
});

for (const loader of LOADERS) {
  Deno.test(`install (${loader}): a bundle cut off mid-stream changes no boot state; the retry succeeds`, async () => {
    await using rig = await Rig.create(loader);
    const b = await rig.bundle({ version: "2.0", serial: 2, rootBytes: 12 << 20 });
    const bootState = async () =>
      loader === "u-boot"
        ? await rig.get("icenet.env")
        : JSON.stringify(await rig.ls("loader/entries"));
    const state0 = await bootState();
    const a0 = (await rig.hashes()).a;
    // Feed half of the bundle through a pipe, then kill the tool while it waits for more.
    const boot = await rig.mountBoot();
    const p = rig.spawn(["install", "-"], "piped");
    const bytes = await Deno.readFile(b.path);
    const w = p.stdin.getWriter();
    await w.write(bytes.subarray(0, bytes.length >> 1));
    // Wait until it has written into slot b (its last-install record says in progress).
    for (let i = 0; i < 100; i++) {
      const rec = await Deno.readTextFile(join(rig.dir, "state/last-install")).catch(() => "");
      if (rec.startsWith("result=in-progress")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    p.kill("SIGKILL");
    await p.output().catch(() => {});
    await w.close().catch(() => {});
    await boot[Symbol.asyncDispose]();
    await $`umount ${rig.bootMount}`.noThrow().quiet(); // the killed tool's own mount of p1
    assert.equal(await bootState(), state0, "the boot state changed");
    assert.equal((await rig.hashes()).a, a0, "slot a's root changed");
    const s = await rig.status();
    assert.equal(s.other_state, "empty");
    assert.match(s.last_install, /^result=interrupted version=2\.0/);
    // The retry, the whole bundle this time.
    const r = await rig.run(["install", b.path]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await rig.status()).other_state, "trial-armed");
  });
}

Deno.test("install checks the written root against the root hash its command line pins (dm-verity)", async (t) => {
  await using rig = await Rig.create("u-boot");
  await t.step("the bundle's own root hash: installed and armed", async () => {
    const b = await rig.bundle({ version: "2.0", serial: 2, rootBytes: 6 << 20, verity: "own" });
    const r = await rig.run(["install", b.path]);
    assert.equal(r.code, 0, r.stderr);
    assert.match((await rig.get("slot-b/cmdline.txt"))!, /^dm-mod\.create="icenet-root,,0,ro,0 /);
    assert.equal((await rig.status()).other_state, "trial-armed");
  });
  await t.step("another root's hash: refused, the slot left unbootable", async () => {
    const b = await rig.bundle({ version: "3.0", serial: 3, rootBytes: 6 << 20, verity: "other" });
    const r = await rig.run(["install", b.path]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(
      r.stderr,
      /slot b: root hash of \S+ is [0-9a-f]{64}, its command line pins [0-9a-f]{64}: refused/,
    );
    assert.equal((await rig.status()).other_state, "empty");
    assert.match((await rig.status()).last_install, /^result=failed version=3\.0/);
  });
});

Deno.test("install - (a short pipe): the bundle ends early, says so, and arms nothing", async () => {
  await using rig = await Rig.create("u-boot");
  const b = await rig.bundle({ version: "2.0", serial: 2, rootBytes: 2 << 20 });
  const cut = join(rig.dir, "cut.bundle");
  const bytes = await Deno.readFile(b.path);
  await Deno.writeFile(cut, bytes.subarray(0, bytes.length - 1000));
  const env0 = await rig.get("icenet.env");
  const r = await rig.run(["install", "-"], cut);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /payload \S+: bundle ends early \(\d+ of \d+ bytes\)/);
  assert.equal(await rig.get("icenet.env"), env0);
  assert.match((await rig.status()).last_install, /^result=failed /);
});

Deno.test("install (systemd-boot): a kernel per slot (signed UKIs): the target's goes in, the other's is skipped", async () => {
  await using rig = await Rig.create("systemd-boot");
  const b = await rig.bundle({ version: "2.0", serial: 2, perSlotKernel: true });
  const r = await rig.run(["install", b.path]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await rig.get("slot-b/vmlinuz"), "uki 2.0 b\n".repeat(1000));
  assert.equal(await rig.get("slot-a/vmlinuz"), "kernel a\n", "slot a's kernel changed");
  assert.deepEqual(await rig.ls("loader/entries"), ["icenet-a.conf", "icenet-b+1.conf"]);
  assert.match((await rig.get("loader/entries/icenet-b+1.conf"))!, /^linux \/slot-b\/vmlinuz$/m);
});

Deno.test("install http://: the bundle streams through wget from a local server", async () => {
  await using rig = await Rig.create("systemd-boot");
  const b = await rig.bundle({ version: "2.0", serial: 2, rootBytes: 2 << 20 });
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen() {} },
    async (req) => {
      if (!req.url.endsWith("/update.icenet-bundle")) return new Response("no", { status: 404 });
      const f = await Deno.open(b.path);
      return new Response(f.readable);
    },
  );
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const missing = await rig.run(["install", `${base}/missing`]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /bundle ends inside its manifest \(after 0 bytes\)/);
    assert.match(
      missing.stderr,
      /wget http:\/\/127\.0\.0\.1:\d+\/missing failed \(exit status \d+\)/,
    );
    const r = await rig.run([
      "install",
      `${base}/update.icenet-bundle`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await rig.ls("loader/entries"), ["icenet-a.conf", "icenet-b+1.conf"]);
  } finally {
    ac.abort();
    await server.finished;
  }
});

Deno.test("install (u-boot) pointed at U-Boot's own uboot.env: never creates one from nothing", async () => {
  await using rig = await Rig.create("u-boot");
  await Deno.writeTextFile(rig.conf, "uboot_env = uboot.env\nuboot_env_backup =\n", {
    append: true,
  });
  const b = await rig.bundle({ version: "2.0", serial: 2 });
  const before = await rig.hashes();
  const r = await rig.run(["install", b.path]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /uboot\.env does not exist, and no uboot_env_defaults is configured/);
  assert.deepEqual(await rig.hashes(), before);
  const defaults = join(rig.dir, "env-defaults.txt");
  await Deno.writeTextFile(defaults, "bootcmd=run icenet_boot\n");
  await Deno.writeTextFile(rig.conf, `uboot_env_defaults = ${defaults}\n`, { append: true });
  const ok = await rig.run(["install", b.path]);
  assert.equal(ok.code, 0, ok.stderr);
  const env = await rig.get("uboot.env");
  assert.match(env!, /bootcmd=run icenet_boot\0icenet_trial=b\0icenet_tries=1\0\0/);
  assert.equal(await rig.get("icenet.env"), undefined);
});
