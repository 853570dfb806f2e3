// The image stage's run() with the real firmware packages (through the fetcher and its
// Debian provider, cached in the download dir), a real squashfs, and a stand-in kernel
// file (nothing boots here; tests/e2e/boot_test.ts boots the real one).
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { boardNames, loadBoard } from "../../lib/board.ts";
import { defaultDownloadDir, fetchSource } from "../../lib/fetch/mod.ts";
import { dataExtents } from "../../lib/image/extents.ts";
import { fatCopyOut, fatList } from "../../lib/image/fat.ts";
import { planDisk } from "../../lib/image/layout.ts";
import { planImage } from "../../lib/image/plan.ts";
import type { PartitionContent } from "../../lib/image/sizing.ts";
import { stageEnv } from "../../lib/runner.ts";
import { stageShell } from "../../lib/shell.ts";
import type { StageContext } from "../../lib/stage.ts";
import { defaultStoreDir } from "../../lib/store.ts";
import { secureBootKeys } from "../../lib/secureboot/keys.ts";
import { imageName, imageStage, needsSigning } from "../../tasks/image.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

async function fakeDeps(tmp: string, board: Awaited<ReturnType<typeof loadBoard>>) {
  const kernel = join(tmp, "kernel");
  await Deno.mkdir(join(kernel, "dtbs"), { recursive: true });
  await Deno.writeTextFile(join(kernel, board.boot.kernelName), "stand-in kernel\n");
  for (const d of board.kernel.dtbs) {
    await Deno.writeTextFile(join(kernel, "dtbs", d.split("/").pop()!), `dtb ${d}\n`);
  }
  const rootfs = join(tmp, "rootfs");
  await Deno.mkdir(join(rootfs, "tree/etc"), { recursive: true });
  await Deno.writeTextFile(join(rootfs, "tree/etc/hostname"), "icenet\n");
  await Deno.writeTextFile(join(rootfs, "tree/etc/os-release"), 'NAME="IceNet-OS"\nID=icenet\n');
  // mksquashfs refuses -mkfs-time beside a SOURCE_DATE_EPOCH that the caller may export.
  await $`env -u SOURCE_DATE_EPOCH mksquashfs ${join(rootfs, "tree")} ${
    join(rootfs, "root.squashfs")
  } -noappend -all-root -mkfs-time 0 -all-time 0 -quiet -no-progress`
    .quiet();
  return { kernel, rootfs: rootfs };
}

async function runImage(boardName: string, tmp: string, deps: Record<string, string>) {
  const board = await loadBoard(ROOT, boardName);
  // The store's Secure Boot keys sign zima's loader and UKIs (as the registry's stage does).
  const plan = planImage(board);
  const stage = imageStage(
    board,
    {},
    0,
    needsSigning(plan.files) ? (await secureBootKeys()).db : undefined,
  );
  const store = defaultStoreDir();
  const sources: Record<string, string> = {};
  for (const [name, src] of Object.entries(stage.sources)) {
    sources[name] = await fetchSource(src, {
      downloadDir: defaultDownloadDir(store),
      storeDir: store,
    });
  }
  const out = join(tmp, `out-${crypto.randomUUID()}`),
    work = join(tmp, `work-${crypto.randomUUID()}`);
  await Deno.mkdir(out);
  await Deno.mkdir(work);
  const info: Record<string, unknown> = {};
  const env = stageEnv(work);
  const ctx: StageContext = {
    board,
    deps,
    sources,
    // The stage's declared inputs, as the runner hands them over.
    inputs: Object.fromEntries(stage.inputs.map((i) => [i, i.startsWith("/") ? i : join(ROOT, i)])),
    params: stage.params,
    out,
    tmp: work,
    root: ROOT,
    $: stageShell({
      cwd: work,
      env,
      log: { writeSync: (p: Uint8Array) => p.length },
      signal: new AbortController().signal,
    }),
    log: () => {},
    record: (k, v) => info[k] = v,
    signal: new AbortController().signal,
    jobs: 1,
    env,
  };
  await stage.run(ctx);
  return { board, out, img: join(out, imageName(boardName)), info };
}

// Every board of boards/: the image holds its plan (lib/image/plan.ts), file for file.
for (const boardName of boardNames(ROOT)) {
  Deno.test(`image stage (${boardName}) writes the board's layout and boot files, reproducibly`, async () => {
    const tmp = await Deno.makeTempDir();
    const deps = await fakeDeps(tmp, await loadBoard(ROOT, boardName));
    const a = await runImage(boardName, tmp, deps);
    const b = await runImage(boardName, tmp, deps);
    // The stage hashes its image; two runs in different directories agree.
    assert.match(String(a.info.sha256), /^[0-9a-f]{64}$/);
    assert.equal(a.info.sha256, b.info.sha256);
    // The layout is the board's, auto partitions sized from the content the stage measured.
    const recorded = a.info.partitions as { name: string; content?: PartitionContent }[];
    const content = Object.fromEntries(
      recorded.filter((p) => p.content).map((p) => [p.name, p.content!]),
    );
    assert.ok(content.boot.slot! > 0, "slot a's files are counted");
    const plan = planDisk(a.board.partitions, boardName, content);
    const dump = JSON.parse(await $`sfdisk -J ${a.img}`.text()).partitiontable;
    assert.equal(dump.label, a.board.partitions.table === "gpt" ? "gpt" : "dos");
    assert.deepEqual(
      dump.partitions.map((p: { start: number; size: number }) => [p.start * 512, p.size * 512]),
      plan.partitions.map((p) => [p.start, p.bytes]),
    );
    assert.deepEqual(recorded.map((p) => p.name), plan.partitions.map((p) => p.name));
    assert.equal(
      content["root-a"].bytes,
      (await Deno.stat(join(deps.rootfs, "root.squashfs"))).size,
    );
    const boot = plan.partitions[0].start;
    const files = await fatList(a.img, boot);
    const planned = planImage(a.board);
    for (const f of planned.files) {
      assert.ok(files.includes(f.path), `${f.path} in ${files}`);
      if (!("text" in f)) continue;
      const copy = join(tmp, "copy");
      await fatCopyOut(a.img, boot, f.path, copy);
      assert.equal(await Deno.readTextFile(copy), f.text, f.path);
    }
    if (boardName === "zima") {
      assert.match(
        planned.cmdline,
        new RegExp(
          `^console=tty1 console=ttyS0,115200 root=PARTUUID=${
            plan.partitions[1].uuid
          } rootfstype=squashfs ro`,
        ),
      );
      await fatCopyOut(a.img, boot, "EFI/BOOT/BOOTX64.EFI", join(tmp, "efi"));
      assert.equal(
        new TextDecoder().decode((await Deno.readFile(join(tmp, "efi"))).slice(0, 2)),
        "MZ",
      );
      // Secure Boot: the loader and slot a's UKI are signed by the db key; the UKI holds
      // slot a's command line; the output keeps both slots' UKIs for bundles.
      const { db } = await secureBootKeys();
      await fatCopyOut(a.img, boot, "slot-a/vmlinuz", join(tmp, "uki"));
      for (const f of [join(tmp, "efi"), join(tmp, "uki")]) {
        await $`sbverify --cert ${db.cert} ${f}`.quiet();
      }
      const sections = await $`objdump -h ${join(tmp, "uki")}`.text();
      for (const name of [".osrel", ".cmdline", ".linux"]) {
        assert.match(sections, new RegExp(` ${name} `));
      }
      const cmdline = await $`objcopy -O binary --only-section=.cmdline ${
        join(tmp, "uki")
      } /dev/stdout`
        .text();
      assert.equal(cmdline, planned.cmdline);
      assert.deepEqual(
        await Deno.readFile(join(tmp, "uki")),
        await Deno.readFile(join(a.out, "slots", "slot-a", "vmlinuz")),
      );
      assert.match(
        await $`objcopy -O binary --only-section=.cmdline ${
          join(a.out, "slots/slot-b/vmlinuz")
        } /dev/stdout`.text(),
        / icenet\.slot=b libata\.force=nodbdelay$/,
      );
    } else if (boardName === "rpi") {
      for (const f of ["bootcode.bin", "start.elf", "fixup.dat", "start4.elf"]) {
        assert.ok(files.includes(f), `${f} in ${files}`);
      }
      assert.match(planned.cmdline, new RegExp(`root=PARTUUID=${plan.labelId.slice(2)}-02 `));
    }
    // The root partition starts with the squashfs, byte for byte.
    const root = plan.partitions[1];
    const sq = await Deno.readFile(join(deps.rootfs, "root.squashfs"));
    using f = await Deno.open(a.img);
    await f.seek(root.start, Deno.SeekMode.Start);
    const got = new Uint8Array(sq.length);
    let n = 0;
    while (n < sq.length) n += (await f.read(got.subarray(n)))!;
    assert.deepEqual(got, sq);
    // Sparse where the file systems are empty, so a block map skips it: the root
    // partition holds only its squashfs, the empty data partition little besides its
    // journal and inode tables, and most of the image is a hole.
    const extents = dataExtents(a.img);
    const mappedIn = (p: { start: number; bytes: number }) =>
      extents.reduce(
        (n, e) => n + Math.max(0, Math.min(e.end, p.start + p.bytes) - Math.max(e.start, p.start)),
        0,
      );
    assert.equal(mappedIn(root), Math.ceil(sq.length / 4096) * 4096);
    const data = plan.partitions[2];
    assert.ok(mappedIn(data) < 6 << 20, `data partition maps ${mappedIn(data)} bytes`);
    const size = (await Deno.stat(a.img)).size;
    assert.ok(mappedIn({ start: 0, bytes: size }) < size / 2, "the image is mostly holes");
    await Deno.remove(tmp, { recursive: true });
  });
}
