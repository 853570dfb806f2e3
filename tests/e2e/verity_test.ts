// dm-verity on every board's image (issue 19), under QEMU:
//   1. the built image boots with its root on /dev/dm-0 (the verity target the kernel
//      made from dm-mod.create=), and every block of the root reads back verified;
//   2. one byte flipped in the root partition of a copy of the same image, inside the
//      data of a file not read at boot (ice-pkg's database: squashfs-tools-ng finds
//      its bytes), still boots, and the first read of that file fails with an I/O
//      error while the kernel names the device and the block that failed;
//   3. a byte flipped in the block the kernel reads first (the squashfs superblock):
//      the root cannot be mounted, and the kernel panics and reboots instead of waiting.
// Slow (an image build per board, three TCG boots): e2e tier only.
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Board } from "../../lib/board.ts";
import { buildStage } from "../../lib/qemu/build_image.ts";
import { boardVm, partitionOffsets } from "../../lib/qemu/board_vm.ts";
import { startGuest } from "../../lib/qemu/machine.ts";
import { powerOff } from "../../lib/qemu/report.ts";
import { GuestShell } from "../../lib/qemu/shell.ts";
import { readVerity, VERITY_BLOCK } from "../../lib/rootfs/verity.ts";
import { e2eBoardList, withSkipReason } from "./_boards.ts";
import { fileExtent } from "./_squashfs.ts";
import { flipByte } from "../_flip.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
const LOGIN = { user: "root", password: "icenet-test", timeoutMs: 600_000 };
const opts = { sanitizeOps: false, sanitizeResources: false };

/** A file of every image that nothing reads at boot. */
const PROBE = "/var/lib/ice-pkg/db.sqlite";

/** The test image's rootfs and image outputs (fixtures/test-image.yaml). */
async function testBuild(board: Board): Promise<{ rootfs: string; image: string }> {
  const before = Deno.env.get("ICENET_IMAGE");
  Deno.env.set("ICENET_IMAGE", join(FIXTURES, "test-image.yaml"));
  try {
    const rootfs = await buildStage(ROOT, board, "rootfs", true);
    const image = join(await buildStage(ROOT, board, "image", true), `icenet-${board.name}.img`);
    return { rootfs, image };
  } finally {
    if (before === undefined) Deno.env.delete("ICENET_IMAGE");
    else Deno.env.set("ICENET_IMAGE", before);
  }
}

/** A copy of `image` with one bit of its root partition flipped, `at` bytes in. */
async function flipped(image: string, work: string, at: number): Promise<string> {
  const copy = join(work, `flipped-${at}.img`);
  await Deno.copyFile(image, copy);
  await flipByte(copy, (await partitionOffsets(copy))[1] + at);
  return copy;
}

/** Boot `image` (copied into `work`), log in, run `f`, power off. */
async function withGuest(
  board: Board,
  image: string,
  work: string,
  f: (sh: GuestShell) => Promise<void>,
): Promise<void> {
  const log = join(work, "console.log");
  const file = await Deno.open(log, { write: true, create: true });
  const enc = new TextEncoder();
  const vm = await startGuest(
    await boardVm(board, image, work),
    (s) => file.writeSync(enc.encode(s)),
  );
  try {
    const sh = await GuestShell.login(vm.console, LOGIN);
    await f(sh);
    await powerOff(sh, vm);
  } catch (e) {
    (e as Error).message += `\n(console log: ${log})`;
    throw e;
  } finally {
    await vm.stop(2000);
    file.close();
  }
}

for (const e of await e2eBoardList()) {
  Deno.test(
    withSkipReason(
      `${e.name} image: the root is verified by dm-verity; a flipped byte fails at its first read`,
      e,
    ),
    { ...opts, ignore: e.skip !== undefined },
    async (t) => {
      const board = e.board;
      const { rootfs, image } = await testBuild(board);
      const verity = await readVerity(rootfs);
      assert.ok(verity, `${rootfs}: no verity.json (the test image turns verity off?)`);
      const work = await Deno.makeTempDir({ prefix: `icenet-e2e-verity-${board.name}-` });

      await t.step("the built image: root on dm-0, every block verifies", async () => {
        await withGuest(board, image, await Deno.makeTempDir({ dir: work }), async (sh) => {
          assert.equal((await sh.check("cat /sys/block/dm-0/dm/name")).trim(), "icenet-root");
          const table = await sh.check("cat /proc/cmdline");
          assert.match(table, new RegExp(`verity 1 .* sha256 ${verity.rootHash} ${verity.salt}`));
          const mounts = await sh.check("cat /proc/mounts");
          assert.match(mounts, /^\/dev\/(root|dm-0) \S+ squashfs ro/m, mounts);
          // Every data block read through the target: any mismatch is an I/O error.
          const bytes = verity.dataBlocks * VERITY_BLOCK;
          const dd = await sh.check(
            `dd if=/dev/dm-0 of=/dev/null bs=${VERITY_BLOCK} 2>&1`,
            300_000,
          );
          assert.match(dd, new RegExp(`^${verity.dataBlocks}\\+0 records in`, "m"), dd);
          assert.equal(Number((await sh.check("cat /sys/block/dm-0/size")).trim()) * 512, bytes);
          await sh.check(`cat ${PROBE} > /dev/null`);
        });
      });

      await t.step(`one byte flipped in ${PROBE}'s data: boots, then that read fails`, async () => {
        const at = await fileExtent(join(rootfs, "root.squashfs"), PROBE);
        // A verity block wholly inside the file's bytes (its fragment holds nothing else
        // read at boot: the boot below proves it).
        const block = Math.ceil(at.start / VERITY_BLOCK);
        assert.ok((block + 1) * VERITY_BLOCK <= at.start + at.bytes, JSON.stringify(at));
        const copy = await flipped(image, work, block * VERITY_BLOCK + 1234);

        await withGuest(board, copy, await Deno.makeTempDir({ dir: work }), async (sh) => {
          const r = await sh.run(`{ cat ${PROBE} >/dev/null; }`);
          assert.notEqual(r.status, 0, `reading ${PROBE} of a damaged root succeeded`);
          assert.match(r.out, /Input\/output error|I\/O error/, r.out);
          const dmesg = await sh.check("dmesg");
          assert.match(
            dmesg,
            new RegExp(`device-mapper: verity: \\d+:\\d+: data block ${block} is corrupted`),
            dmesg.split("\n").filter((l) => /verity|squashfs|SQUASHFS/.test(l)).join("\n"),
          );
        });
        console.log(
          `verity ${board.name}: ${PROBE} at bytes ${at.start}+${at.bytes} of the root` +
            `${
              at.fragment !== undefined ? ` (fragment ${at.fragment})` : ""
            }; block ${block} flipped`,
        );
      });

      await t.step(
        "the squashfs superblock's block flipped: the kernel panics and reboots",
        async () => {
          // No root to mount is a panic (no rootwait with a verified root), and panic=5 reboots:
          // the boot loader's choice (the good slot, on a trial) comes next, not a hang.
          const copy = await flipped(image, work, 16);
          const dir = await Deno.makeTempDir({ dir: work });
          const log = await Deno.open(join(dir, "console.log"), { write: true, create: true });
          const enc = new TextEncoder();
          const vm = await startGuest(
            await boardVm(board, copy, dir, { noReboot: true }),
            (s) => log.writeSync(enc.encode(s)),
          );
          try {
            await vm.console.expect(
              /device-mapper: verity: \d+:\d+: data block 0 is corrupted/,
              300_000,
              "the verity error of block 0",
            );
            await vm.console.expect(/Kernel panic - not syncing/, 120_000, "the panic");
            const status = await Promise.race([
              vm.status,
              new Promise<undefined>((r) => setTimeout(() => r(undefined), 120_000)),
            ]);
            assert.ok(status, "the guest did not reboot within 2 minutes of the panic");
          } catch (e) {
            (e as Error).message += `\n(console log: ${join(dir, "console.log")})`;
            throw e;
          } finally {
            await vm.stop(2000);
            log.close();
          }
        },
      );
      await Deno.remove(work, { recursive: true });
    },
  );
}
