// A/B updates end to end under QEMU (zima: OVMF + systemd-boot's boot counting): the
// test image boots v1 from slot a; signed bundles served over HTTP from the host go
// into the inactive slot; a trial boot that passes icenet-init's health gate commits;
// one whose service never becomes ready, or whose kernel panics, falls back to the good
// slot by itself; QEMU killed mid-install harms nothing; bad bundles are refused with
// nothing written. The user's package and /etc edit survive v1 -> v2.
// Slow (builds, many TCG boots): e2e tier only.
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import $ from "dax";
import { type Board, qemuMachine } from "../../lib/board.ts";
import { bootKind } from "../../lib/boot/registry.ts";
import { buildImage, buildStage } from "../../lib/qemu/build_image.ts";
import { boardVm, partitionOffsets } from "../../lib/qemu/board_vm.ts";
import { startGuest } from "../../lib/qemu/machine.ts";
import { GuestShell } from "../../lib/qemu/shell.ts";
import { e2eBoardList } from "./_boards.ts";
import {
  LOGIN,
  loginUp,
  makeBundle,
  rebootAndLogin,
  serveDir,
  status,
  variantRoot,
  withTestImage,
} from "./_update.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const opts = { sanitizeOps: false, sanitizeResources: false };

/** A board whose boots take minutes under TCG: the Pi boards (U-Boot, ARM on x86). */
function slowBoot(board: Board): boolean {
  return bootKind(board).qemu !== "uefi";
}

/** The guest console goes to a log file. */
function consoleLog(work: string, name: string) {
  const file = Deno.openSync(join(work, name), { write: true, create: true, append: true });
  const enc = new TextEncoder();
  return (s: string) => void file.writeSync(enc.encode(s));
}

async function bootVm(board: Board, image: string, work: string, reuseDisk: boolean) {
  const spec = await boardVm(board, image, work, { reuseDisk });
  return startGuest(spec, consoleLog(work, "console.log"));
}

/**
 * Put host files into the writable layer of a stopped guest's disk (`/upper/<name>` of
 * its last partition, the data ext4, with debugfs through a loop device): the way in
 * for bundles on the Pi machines, which have no network under QEMU.
 */
async function putOnData(disk: string, files: Record<string, string>) {
  const offsets = await partitionOffsets(disk);
  const loop = (await $`losetup --find --show -o ${offsets[offsets.length - 1]} ${disk}`.text())
    .trim();
  try {
    // The guest was cut off: replay its journal first, or the next mount's replay would
    // write older metadata over what debugfs adds.
    const fsck = await $`e2fsck -fy ${loop}`.noThrow().quiet();
    assert.ok(fsck.code <= 1, `e2fsck of the data partition: exit ${fsck.code}`);
    for (const [name, src] of Object.entries(files)) {
      await $`debugfs -w -R ${`write ${src} /upper/${name}`} ${loop}`.quiet();
    }
  } finally {
    await $`losetup -d ${loop}`;
  }
}

for (const { name, board, skip } of await e2eBoardList()) {
  const why = skip ?? (bootKind(board).update ? undefined : "its boot kind has no trial boot");
  Deno.test(
    {
      name: `${name} A/B update: commit, fall back from a never-ready and a panicking slot, ` +
        `killed install, refusals${why ? ` (ignored: ${why})` : ""}`,
      ignore: !!why,
      ...opts,
    },
    async (t) => {
      const work = await Deno.makeTempDir({ prefix: `icenet-e2e-update-${name}-` });
      const image = await withTestImage(() => buildImage(ROOT, board, true));
      const kernel = await buildStage(ROOT, board, "kernel", true);
      const built = { kernel, image: dirname(image) };
      const rootfs = await withTestImage(() => buildStage(ROOT, board, "rootfs", true));
      const repo = join(await buildStage(ROOT, board, "repo", true), "repo");
      const web = join(work, "web");
      await Deno.mkdir(web);
      // Each release says its version where `icenetctl boot` and bundles read it.
      const osRelease = (v: string) =>
        `NAME="IceNet-OS"\nID=icenet\nVERSION_ID=${v}\nPRETTY_NAME="IceNet-OS ${v}"\n`;
      const v2 = await variantRoot(rootfs, join(work, "v2"), {
        "etc/release-mark": "v2\n",
        "etc/os-release": osRelease("2"),
      });
      const v3 = await variantRoot(rootfs, join(work, "v3"), {
        "etc/release-mark": "v3\n",
        "etc/os-release": osRelease("3"),
        // A service that never becomes ready, and a gate that gives up on it soon.
        "etc/icenet/services/never-ready": "command = /bin/sleep 100000\nready = notify-fd\n",
        "etc/icenet/boot.conf": "timeout = 40s\n",
      });
      await makeBundle(board, built, join(web, "v2"), { root: v2, version: "2", serial: 2 });
      await makeBundle(board, built, join(web, "v3"), { root: v3, version: "3", serial: 3 });
      await makeBundle(board, built, join(web, "v4"), {
        root: v2,
        version: "4",
        serial: 4,
        cmdlineExtra: "init=/no/such/init",
      });
      await makeBundle(board, built, join(web, "v5"), { root: v2, version: "5", serial: 5 });
      await makeBundle(board, built, join(web, "old"), { root: v2, version: "1.9", serial: 1 });
      await makeBundle(board, built, join(web, "foreign"), {
        root: v2,
        version: "9",
        serial: 9,
        board: "not-" + name,
      });
      // The v5 bundle with one byte of its signature changed.
      const bad = await Deno.readFile(join(web, "v5"));
      const sigAt = new TextDecoder().decode(bad.subarray(0, 8192)).indexOf("signature ed25519");
      const b64At = new TextDecoder().decode(bad.subarray(0, 8192)).indexOf(" ", sigAt + 18) + 5;
      bad[b64At] = bad[b64At] === 0x41 ? 0x42 : 0x41;
      await Deno.writeFile(join(web, "badsig"), bad);
      const server = serveDir(web);
      const repoServer = serveDir(repo);
      const url = (f: string) => `http://10.0.2.2:${server.addr.port}/${f}`;
      const times = { trial: 0, plain: 0, gateToGood: 0, panicToGood: 0 };
      let vm = await bootVm(board, image, work, false);
      // Each step needs the one before: stop at the first that fails (keeping `work`).
      const step = async (name: string, f: () => Promise<void>) => {
        if (!await t.step(name, f)) throw new Error(`${name}: failed (console: ${work})`);
      };
      // The Pi boards under TCG (slow ARM boots) run the commit and one fallback; the
      // rest (refusals, a panic, a power cut, the user's data) is the same code on zima.
      const full = !slowBoot(board);
      const also = (name: string, f: () => Promise<void>) =>
        full ? step(name, f) : t.step({ name, ignore: true, fn: f }).then(() => {});
      try {
        let sh = await loginUp(vm, full);
        // Where the guest takes a bundle from: HTTP from the host; on the Pi machines (no
        // network under QEMU) its own data partition, put there while it is stopped, one
        // bundle at a time (a 40 MB rpi bundle and the grown data partition of the VM's
        // 256 MB card leave room for one).
        const from = async (f: string) => {
          if (full) return url(f);
          await sh.check("rm -f /v2 /v3 && sync");
          await vm.stop(0);
          await putOnData(join(work, "disk.img"), { [f]: join(web, f) });
          vm = await bootVm(board, image, work, true);
          sh = await loginUp(vm, full);
          return `/${f}`;
        };
        await step("v1 runs from slot a, committed", async () => {
          const s = await status(sh);
          assert.equal(s.slot, "a");
          assert.equal(s.state, "committed");
          assert.equal(s.other_state, "empty");
        });
        await also("the user installs a package and edits /etc", async () => {
          const r = `http://10.0.2.2:${repoServer.addr.port}/`;
          await sh.check(`ice-pkg --repo ${r} update`, 300_000);
          await sh.check(`ice-pkg --repo ${r} install chrony`, 300_000);
          await sh.check("echo '10.1.2.3 my-nas' >> /etc/hosts && sync");
        });
        await step("v2: installed over HTTP into slot b, boots on trial, commits", async () => {
          const src = await from("v2"); // first: it may restart the guest (a new `sh`)
          await sh.check(`icenet-update install ${src}`, 300_000);
          assert.equal((await status(sh)).other_state, "trial-armed");
          const t0 = performance.now();
          sh = await rebootAndLogin(vm, sh, full);
          times.trial = performance.now() - t0;
          assert.match(await sh.check("cat /proc/cmdline"), /icenet\.slot=b/);
          const s = await status(sh);
          assert.deepEqual([s.slot, s.state, s.version], ["b", "committed", "2"]);
          assert.equal(await sh.check("cat /etc/release-mark"), "v2\n");
          assert.match(await sh.check("icenetctl boot"), /^boot slot=b trial=1 version=2$/m);
        });
        await also("the user's package and /etc edit survived", async () => {
          assert.match(await sh.check("ice-pkg list"), /chrony/);
          await sh.check("test -x /usr/sbin/chronyd");
          assert.match(await sh.check("cat /etc/hosts"), /10\.1\.2\.3 my-nas/);
        });
        await also("refused with a clear message and nothing written", async () => {
          const root = qemuMachine(board).rootDevice; // slot a's root: the one not running
          const before = await sh.check(`sha256sum ${root} | cut -d' ' -f1`, 120_000);
          for (
            const [file, why] of [
              ["old", /older|serial/],
              ["foreign", /board/],
              ["badsig", /signature/],
            ] as const
          ) {
            const r = await sh.run(`icenet-update install ${url(file)}`, 300_000);
            assert.notEqual(r.status, 0, file);
            assert.match(r.out, why, file);
          }
          assert.equal(await sh.check(`sha256sum ${root} | cut -d' ' -f1`, 120_000), before);
          assert.equal((await status(sh)).slot, "b");
        });
        await step(
          "a plain reboot of the committed slot (the trial boot's yardstick)",
          async () => {
            const t0 = performance.now();
            sh = await rebootAndLogin(vm, sh, full);
            times.plain = performance.now() - t0;
            assert.match(await sh.check("cat /proc/cmdline"), /icenet\.slot=b/);
          },
        );
        await step(
          "v3, whose service never becomes ready, is tried once; back on v2",
          async () => {
            const src = await from("v3"); // first: it may restart the guest (a new `sh`)
            await sh.check(`icenet-update install ${src}`, 300_000);
            await sh.send("icenetctl reboot");
            // The trial boot (slot a) logs in too; its gate fails and it reboots by itself.
            await vm.console.expect(/icenet\.slot=a/, 300_000, "the trial boot of slot a");
            sh = await GuestShell.login(vm.console, LOGIN);
            await vm.console.expect(/boot gate: bad/, 300_000, "the trial's gate to fail");
            const t0 = performance.now();
            await vm.console.expect(/icenet-preinit/, 300_000, "the boot after the failed trial");
            sh = await loginUp(vm, full);
            times.gateToGood = performance.now() - t0;
            assert.match(await sh.check("cat /proc/cmdline"), /icenet\.slot=b/);
            const s = await status(sh);
            assert.deepEqual([s.slot, s.state, s.version], ["b", "committed", "2"]);
            assert.equal(s.other_state, "failed-trial");
          },
        );
        await also("v4, whose kernel panics, is tried once; back on v2", async () => {
          await sh.check(`icenet-update install ${url("v4")}`, 300_000);
          await sh.send("icenetctl reboot");
          await vm.console.expect(/Kernel panic/, 300_000, "the trial kernel's panic");
          const t0 = performance.now();
          sh = await loginUp(vm);
          times.panicToGood = performance.now() - t0;
          assert.match(await sh.check("cat /proc/cmdline"), /icenet\.slot=b/);
          const s = await status(sh);
          assert.deepEqual([s.slot, s.state, s.version], ["b", "committed", "2"]);
        });
        await also(
          "QEMU killed mid-install: v2 boots unharmed, the next install succeeds",
          async () => {
            await sh.send(`icenet-update install ${url("slow-v5")}`);
            await new Promise((r) => setTimeout(r, 8000));
            await vm.stop(0); // the power cut, a few MiB into the root payload
            vm = await bootVm(board, image, work, true);
            sh = await loginUp(vm);
            assert.match(await sh.check("cat /proc/cmdline"), /icenet\.slot=b/);
            const s = await status(sh);
            assert.deepEqual([s.slot, s.state, s.version], ["b", "committed", "2"]);
            assert.match(s.last_install, /^result=interrupted/);
            assert.notEqual(s.other_state, "trial-armed");
            await sh.check(`icenet-update install ${url("v5")}`, 300_000);
            assert.equal((await status(sh)).other_state, "trial-armed");
          },
        );
        // Wall times under TCG (host load shows in them): figures, not assertions.
        const sec = (ms: number) => ms ? (ms / 1000).toFixed(1) : "-";
        console.log(
          `bench: update_trial_boot_${name} ${sec(times.trial)} s (reboot to login, gate passed)`,
        );
        console.log(`bench: update_plain_boot_${name} ${sec(times.plain)} s (the same, committed)`);
        console.log(`bench: update_gate_fail_to_good_${name} ${sec(times.gateToGood)} s`);
        console.log(`bench: update_panic_to_good_${name} ${sec(times.panicToGood)} s`);
      } finally {
        await vm.stop(2000);
        await server.shutdown();
        await repoServer.shutdown();
      }
      await Deno.remove(work, { recursive: true });
    },
  );
}
