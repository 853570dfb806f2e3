/**
 * mark-good and mark-bad: the boot state transitions of both boot loaders, with the
 * boot loader's own step played by its real counterpart where there is one (Debian's
 * fw_setenv does boot.scr's `saveenv` of the decremented tries; for systemd-boot the
 * rename of the entry it does before booting a counted entry, `+1` -> `+0-1`, is done
 * with mtools' mren). The order systemd-boot 252 boots entries in is checked with
 * sdBootOrder(), its config_entry_compare() rules.
 */
import assert from "node:assert/strict";
import $ from "dax";
import { join } from "node:path";
import { manifestFor } from "../../lib/update/bundle.ts";
import { Rig } from "./_rig.ts";

/** An entry as systemd-boot 252 sees it. */
interface SdEntry {
  id: string;
  sortKey?: string;
  version?: string;
  triesLeft: number; // -1: no counting
}

/** systemd's strverscmp_improved, enough for our names: digit runs compare as numbers. */
function verscmp(a = "", b = ""): number {
  const re = /(\d+|\D+)/g;
  const pa = a.match(re) ?? [], pb = b.match(re) ?? [];
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    const x = pa[i], y = pb[i];
    const c = /^\d/.test(x) && /^\d/.test(y) ? Number(x) - Number(y) : x < y ? -1 : x > y ? 1 : 0;
    if (c) return Math.sign(c);
  }
  return Math.sign(pa.length - pb.length);
}

/**
 * src/boot/efi/boot.c (v252) config_entry_compare(): entries with no tries left last;
 * with a sort-key on both: by sort-key, then version downwards; then by id downwards.
 * With no `default` in loader.conf the first entry boots.
 */
function sdBootOrder(entries: SdEntry[]): string[] {
  return [...entries].sort((a, b) => {
    const r = Number(a.triesLeft === 0) - Number(b.triesLeft === 0);
    if (r) return r;
    if (!a.sortKey !== !b.sortKey) return Number(!a.sortKey) - Number(!b.sortKey);
    if (a.sortKey && b.sortKey) {
      if (a.sortKey !== b.sortKey) return a.sortKey < b.sortKey ? -1 : 1;
      const v = -verscmp(a.version, b.version);
      if (v) return v;
    }
    return -verscmp(a.id, b.id);
  }).map((e) => e.id);
}

async function entries(rig: Rig): Promise<SdEntry[]> {
  const out: SdEntry[] = [];
  for (const name of await rig.ls("loader/entries")) {
    const text = (await rig.get(`loader/entries/${name}`))!;
    const m = name.match(/\+(\d+)(?:-\d+)?\.conf$/);
    out.push({
      id: name,
      sortKey: text.match(/^sort-key (.+)$/m)?.[1],
      version: text.match(/^version (.+)$/m)?.[1],
      triesLeft: m ? Number(m[1]) : -1,
    });
  }
  return out;
}

/** What systemd-boot does when it boots a counted entry: one try used. */
async function sdBootTries(rig: Rig, name: string): Promise<string> {
  const m = name.match(/^(.*)\+(\d+)(?:-(\d+))?\.conf$/)!;
  const next = `${m[1]}+${Math.max(0, Number(m[2]) - 1)}-${Number(m[3] ?? 0) + 1}.conf`;
  await $`mren -i ${rig.bootImg} ${"::loader/entries/" + name} ${"::loader/entries/" + next}`;
  return next;
}

Deno.test("systemd-boot: trial first while it has tries, committed newest after mark-good, back to the good one after mark-bad", async (t) => {
  await using rig = await Rig.create("systemd-boot");
  await t.step("installed b sorts first while it has a try", async () => {
    const b = await rig.bundle({ version: "2.0", serial: 2 });
    assert.equal((await rig.run(["install", b.path])).code, 0);
    assert.deepEqual(sdBootOrder(await entries(rig)), ["icenet-b+1.conf", "icenet-a.conf"]);
  });
  await t.step("after its try, a boots unless b is marked good", async () => {
    const tried = await sdBootTries(rig, "icenet-b+1.conf");
    assert.equal(tried, "icenet-b+0-1.conf");
    assert.deepEqual(sdBootOrder(await entries(rig)), ["icenet-a.conf", "icenet-b+0-1.conf"]);
  });
  await t.step("mark-good on the trial of b: icenet-b.conf, first", async () => {
    await rig.setCmdline("b", true);
    assert.equal((await rig.status()).state, "trial");
    const r = await rig.run(["mark-good"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /slot b is committed/);
    assert.deepEqual(await rig.ls("loader/entries"), ["icenet-a.conf", "icenet-b.conf"]);
    const entry = (await rig.get("loader/entries/icenet-b.conf"))!;
    assert.doesNotMatch(entry, /icenet\.trial/);
    assert.match(entry, /^title IceNet-OS \(slot b\)$/m);
    assert.deepEqual(sdBootOrder(await entries(rig)), ["icenet-b.conf", "icenet-a.conf"]);
    await rig.setCmdline("b");
    const s = await rig.status();
    assert.equal(s.state, "committed");
    assert.equal(s.good, "b");
  });
  await t.step("mark-good again: nothing changes", async () => {
    const before = await rig.hashes();
    assert.equal((await rig.run(["mark-good"])).code, 0);
    assert.deepEqual(await rig.hashes(), before);
  });
  await t.step(
    "v3 into a, tried, mark-bad: no tries left, b boots, status says failed",
    async () => {
      const v3 = await rig.bundle({ version: "3.0", serial: 3 });
      assert.equal((await rig.run(["install", v3.path])).code, 0);
      assert.deepEqual(sdBootOrder(await entries(rig)), ["icenet-a+1.conf", "icenet-b.conf"]);
      await sdBootTries(rig, "icenet-a+1.conf");
      await rig.setCmdline("a", true);
      const r = await rig.run(["mark-bad"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stderr, /trial of slot a failed: rebooting into slot b/);
      assert.deepEqual(sdBootOrder(await entries(rig)), ["icenet-b.conf", "icenet-a+0-1.conf"]);
      await rig.setCmdline("b");
      const s = await rig.status();
      assert.equal(s.other_state, "failed-trial");
      assert.equal(s.last_install, "result=failed-trial slot=a");
    },
  );
  await t.step("mark-bad on a committed slot only logs", async () => {
    const before = await rig.hashes();
    const r = await rig.run(["mark-bad"]);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /slot b is committed: mark-bad only logs/);
    assert.deepEqual(await rig.hashes(), before);
  });
});

Deno.test("u-boot: the trial's variables through install, boot.scr's saveenv, mark-good and mark-bad", async (t) => {
  await using rig = await Rig.create("u-boot");
  await t.step("install arms b: icenet_trial=b icenet_tries=1, icenet_good unset (a)", async () => {
    const b = await rig.bundle({ version: "2.0", serial: 2 });
    assert.equal((await rig.run(["install", b.path])).code, 0);
    const env = await rig.fwPrintenv();
    assert.equal(env.icenet_good, undefined);
    assert.equal(env.icenet_trial, "b");
    assert.equal(env.icenet_tries, "1");
  });
  await t.step(
    "boot.scr used the try (fw_setenv), b runs on trial; mark-good commits it",
    async () => {
      await rig.fwSetenv("icenet_tries", "0");
      await rig.setCmdline("b", true);
      const s = await rig.status(); // reads the environment fw_setenv wrote
      assert.equal(s.state, "trial");
      assert.equal(s.tries, "0");
      assert.equal((await rig.run(["mark-good"])).code, 0);
      const env = await rig.fwPrintenv();
      assert.equal(env.icenet_good, "b");
      assert.equal(env.icenet_trial, undefined);
      assert.equal(env.icenet_tries, undefined);
      // Still the trial boot's command line (icenet.trial=1): the boot state says committed.
      assert.equal((await rig.status()).state, "committed");
    },
  );
  await t.step("installing while a trial runs is refused", async () => {
    await rig.setCmdline("a", true);
    const v = await rig.bundle({ version: "9.0", serial: 9 });
    const r = await rig.run(["install", v.path]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /running on trial/);
  });
  await t.step("v3 into a, tried, mark-bad: tries 0, good stays b", async () => {
    await rig.setCmdline("b");
    const v3 = await rig.bundle({ version: "3.0", serial: 3 });
    assert.equal((await rig.run(["install", v3.path])).code, 0);
    assert.equal((await rig.fwPrintenv()).icenet_trial, "a");
    await rig.fwSetenv("icenet_tries", "0");
    await rig.setCmdline("a", true);
    const r = await rig.run(["mark-bad"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /trial of slot a failed: rebooting into slot b/);
    const env = await rig.fwPrintenv();
    assert.equal(env.icenet_good, "b");
    assert.equal(env.icenet_trial, "a");
    assert.equal(env.icenet_tries, "0");
    await rig.setCmdline("b");
    assert.equal((await rig.status()).other_state, "failed-trial");
  });
  await t.step("a damaged icenet.env: its second copy is used, as boot.scr does", async () => {
    await rig.put("icenet.env", "garbage");
    const r = await rig.run(["status"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /warning: \S+\/icenet\.env: 7 bytes, but uboot_env_size is 16384 .*; using \S+\/icenet\.env\.bak/,
    );
    assert.match(r.stdout, /^good=b$/m);
  });
  await t.step("both copies damaged: refused, not replaced", async () => {
    await rig.put("icenet.env.bak", "x".repeat(16384));
    const before = await rig.hashes();
    const r = await rig.run(["mark-good"]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      /icenet\.env: 7 bytes, .*, and \S+icenet\.env\.bak: damaged too: refused/,
    );
    assert.deepEqual(await rig.hashes(), before);
  });
});

Deno.test("status reads the factory slot's record: an unsigned manifest as the image writes it", async () => {
  await using rig = await Rig.create("systemd-boot");
  const dir = await Deno.makeTempDir({ dir: rig.dir });
  await Deno.writeTextFile(join(dir, "root"), "root\n");
  await Deno.writeTextFile(join(dir, "vmlinuz"), "kernel\n");
  await rig.put(
    "slot-a/manifest",
    await manifestFor({
      board: "testboard",
      version: "1.0",
      serial: 1,
      kernel: "vmlinuz",
      payloads: [{ name: "root", path: join(dir, "root") }, {
        name: "slot/vmlinuz",
        path: join(dir, "vmlinuz"),
      }],
    }),
  );
  const s = await rig.status();
  assert.equal(s.version, "1.0");
  assert.equal(s.serial, "1");
  assert.equal(s.other_state, "empty");
  // An older bundle is refused against it.
  const old = await rig.bundle({ version: "0.9", serial: 0 });
  assert.match((await rig.run(["install", old.path])).stderr, /older than the running 1\.0/);
});

Deno.test("one icenet-update at a time: a status waits while another holds the state lock", async () => {
  await using rig = await Rig.create("systemd-boot");
  const lock = join(rig.dir, "lock");
  // flock(1) holds the lock as another icenet-update (the boot gate's mark-good) would.
  const holder = new Deno.Command("flock", { args: [lock, "sleep", "2"] }).spawn();
  await new Promise((r) => setTimeout(r, 300));
  const t0 = performance.now();
  const s = await rig.status();
  const waited = performance.now() - t0;
  await holder.status;
  assert.equal(s.slot, "a");
  assert.ok(waited > 1000, `status returned after ${waited} ms, while the lock was held`);
});
