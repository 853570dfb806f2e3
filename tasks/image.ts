/**
 * Stage "image": the bootable disk image `<out>/icenet-<board>.img` of a board, from
 * the kernel stage (kernel + device trees) and the rootfs stage (`root.squashfs`).
 *
 * What goes where is the image plan (lib/image/plan.ts): the partitions of
 * `boards/<board>.yaml` — boot (FAT), root-a (the squashfs as it is), root-b (the
 * second system slot, empty until an update), data (ext4, empty; init grows it to the
 * card at first boot) — and the boot partition's files, which the
 * board's boot kind decides (lib/boot/: the Pi firmware's config.txt and cmdline.txt,
 * systemd-boot's loader and entry). This stage only writes the plan out, once it has
 * measured the boot files and the root: `size: auto` partitions are sized from them
 * (lib/image/sizing.ts), fixed ones are checked against them.
 *
 * Where the plan asks for Secure Boot (systemd-boot: the loader signed, each slot's kernel
 * a signed UKI), the files are signed with the db key of lib/secureboot/keys.ts, whose key
 * and certificate are inputs of the stage. Each slot's signed UKI is also kept in the
 * output, `slots/slot-<x>/<kernel>`: what an update bundle of this build carries.
 *
 * Written without root, loop devices or mounts, and byte-reproducible: sfdisk on a
 * file, mkfs.fat + mtools, mkfs.ext4 -d (lib/image/). genimage would do the same job
 * but is not packaged in Debian 12, and these tools are small enough to drive directly.
 */
import { dirname, join } from "node:path";
import type { Board } from "../lib/board.ts";
import type { BootFile } from "../lib/boot/kind.ts";
import { runStandalone } from "../lib/cli.ts";
import { sha256File } from "../lib/hash.ts";
import { extractDeb } from "../lib/image/deb.ts";
import { writeDisk } from "../lib/image/disk.ts";
import { makeExt4 } from "../lib/image/ext4.ts";
import { listTree, makeFat } from "../lib/image/fat.ts";
import { bootKind } from "../lib/boot/registry.ts";
import { type DiskPlan, slotDir, SLOTS } from "../lib/image/layout.ts";
import type { PartitionContent } from "../lib/image/sizing.ts";
import { dbKey, type KeyPair } from "../lib/secureboot/keys.ts";
import { signEfi } from "../lib/secureboot/sign.ts";
import { writeSlotUkis } from "../lib/secureboot/slot_ukis.ts";
import { type ImagePlan, planImage, SETUP_EXAMPLE, withOverrides } from "../lib/image/plan.ts";
import { defineStage, type Stage, type StageContext } from "../lib/stage.ts";
import { effectiveImageDef } from "../lib/rootfs/stage.ts";
import { readVerity } from "../lib/rootfs/verity.ts";
import { readKernelArgs } from "../lib/rootfs/kernel_args.ts";
import { manifestFor, rootVersion } from "../lib/update/bundle.ts";
import { slotPayloads } from "../lib/update/slot.ts";

/** The image file name of a board. */
export function imageName(board: string): string {
  return `icenet-${board}.img`;
}

async function copyInto(src: string, dest: string): Promise<void> {
  await Deno.mkdir(dirname(dest), { recursive: true });
  try {
    await Deno.copyFile(src, dest);
  } catch (e) {
    throw new Error(`image: cannot copy ${src} to the boot partition: ${(e as Error).message}`);
  }
  await Deno.chmod(dest, 0o644);
}

/** Unpack the package members the plan takes files from: member path -> local path. */
async function unpackSources(ctx: StageContext, files: BootFile[]): Promise<Map<string, string>> {
  const local = new Map<string, string>();
  for (const name of Object.keys(ctx.sources)) {
    const members = files.flatMap((f) =>
      "source" in f && f.source === name
        ? [f.member]
        : "uki" in f && f.uki.source === name
        ? [f.uki.stub]
        : []
    );
    if (!members.length) continue;
    const dir = join(ctx.tmp, `deb-${name}`);
    await extractDeb(ctx.sources[name], dir, members.map((m) => `./${m}`));
    for (const m of members) local.set(`${name}:${m}`, join(dir, m));
  }
  return local;
}

/**
 * `slot-a/manifest`: what icenet-update knows of the factory slot (version, serial,
 * hashes), as an update bundle's manifest would say; an older bundle is refused against it.
 */
async function slotManifest(ctx: StageContext, plan: ImagePlan): Promise<string> {
  const { board, deps } = ctx;
  const tmp = join(ctx.tmp, "slot-payloads");
  await Deno.mkdir(tmp, { recursive: true });
  const src = { kernel: deps.kernel, rootfs: deps.rootfs, image: ctx.out };
  return await manifestFor({
    board: board.name,
    version: await rootVersion(join(deps.rootfs, "root.squashfs")) ?? "dev",
    serial: Number(ctx.params.serial),
    kernel: board.boot.kernelName,
    payloads: await slotPayloads(board, plan.disk, src, tmp),
  });
}

/** Whether a plan asks for Secure Boot signatures (a signed file or a UKI). */
export function needsSigning(files: BootFile[]): boolean {
  return files.some((f) => "uki" in f || ("source" in f && f.signed));
}

/**
 * Each slot's signed UKI, with that slot's command line, into the output's `slots/`
 * (the boot partition takes slot a's; a bundle takes both).
 */
async function buildSlotUkis(
  ctx: StageContext,
  plan: ImagePlan,
  unpacked: Map<string, string>,
  db: KeyPair,
): Promise<void> {
  const uki = plan.files.find((f) => "uki" in f);
  if (!uki || !("uki" in uki)) return;
  const made = await writeSlotUkis({
    board: ctx.board,
    disk: plan.disk,
    kernel: ctx.deps.kernel,
    rootfs: ctx.deps.rootfs,
    stub: unpacked.get(`${uki.uki.source}:${uki.uki.stub}`)!,
    db,
    out: ctx.out,
    tmp: ctx.tmp,
  });
  for (const [slot, m] of Object.entries(made)) {
    ctx.record(`uki-${slot}`, {
      bytes: m.bytes,
      sections: m.sections.map((s) => `${s.name}@0x${s.vma.toString(16)}+${s.size}`),
    });
  }
}

/** Fill the boot partition's staging directory with the plan's files. */
async function stageBoot(
  ctx: StageContext,
  plan: ImagePlan,
  dir: string,
  db?: KeyPair,
): Promise<void> {
  const { board, deps } = ctx;
  const unpacked = await unpackSources(ctx, plan.files);
  const signer = () => {
    if (!db) throw new Error("image: the plan has Secure Boot files, but no db key was given");
    return db;
  };
  if (needsSigning(plan.files)) await buildSlotUkis(ctx, plan, unpacked, signer());
  if (bootKind(board).update) {
    await Deno.mkdir(join(dir, slotDir("a")), { recursive: true });
    await Deno.writeTextFile(join(dir, slotDir("a"), "manifest"), await slotManifest(ctx, plan));
  }
  for (const f of plan.files) {
    const dest = join(dir, f.path);
    if ("text" in f) {
      await Deno.mkdir(dirname(dest), { recursive: true });
      await Deno.writeTextFile(dest, f.text);
    } else if ("bytes" in f) {
      await Deno.mkdir(dirname(dest), { recursive: true });
      await Deno.writeFile(dest, f.bytes);
    } else if ("kernel" in f) await copyInto(join(deps.kernel, board.boot.kernelName), dest);
    else if ("dtb" in f) await copyInto(join(deps.kernel, "dtbs", f.dtb), dest);
    else if ("input" in f) await copyInto(ctx.inputs[f.input], dest);
    else if ("uki" in f) await copyInto(join(ctx.out, "slots", f.path), dest);
    else if (f.signed) {
      await Deno.mkdir(dirname(dest), { recursive: true });
      await signEfi(signer(), unpacked.get(`${f.source}:${f.member}`)!, dest);
    } else await copyInto(unpacked.get(`${f.source}:${f.member}`)!, dest);
  }
}

/**
 * What the boot partition and the root slots hold, for `size: auto` and the fit check:
 * the staged boot files (slot a's apart: an update needs room for more) and the root.
 */
async function measureContent(
  plan: ImagePlan,
  bootDir: string,
  squashfs: string,
): Promise<Record<string, PartitionContent>> {
  const content: Record<string, PartitionContent> = {};
  const boot = { bytes: 0, slot: 0 };
  for (const [path, isDir] of await listTree(bootDir)) {
    if (isDir) continue;
    const size = (await Deno.stat(join(bootDir, path))).size;
    boot.bytes += size;
    if (path.startsWith(`${slotDir("a")}/`)) boot.slot += size;
  }
  const root = { bytes: (await Deno.stat(squashfs)).size };
  for (const p of plan.disk.partitions) {
    if (p.name === "boot") content[p.name] = boot;
    // Slot b takes the roots of later releases: it is sized (and checked) as slot a.
    else if (SLOTS.some((s) => p.name === `root-${s}`)) content[p.name] = root;
  }
  return content;
}

/** Each partition's file system image, by partition name (the boot files staged in `bootDir`). */
async function partitionImages(ctx: StageContext, disk: DiskPlan, label: string, bootDir: string) {
  const { deps, tmp } = ctx;
  const epoch = Number(ctx.env.SOURCE_DATE_EPOCH);
  const images: Record<string, string> = {};
  for (const p of disk.partitions) {
    const file = join(tmp, `${p.name}.${p.fs}`);
    if (p.name === "boot") {
      await makeFat(file, {
        bytes: p.bytes,
        label,
        volumeId: p.fsUuid.slice(0, 8),
        dir: bootDir,
        epoch,
      });
    } else if (p.name === `root-${SLOTS[0]}`) {
      if (p.fs !== "squashfs") throw new Error(`partition ${p.name}: fs must be squashfs`);
      images[p.name] = join(deps.rootfs, "root.squashfs");
      continue;
    } else if (SLOTS.some((s) => p.name === `root-${s}`)) {
      // The other slot: empty until an update writes it (the boot state says so).
      continue;
    } else if (p.fs === "ext4") {
      await makeExt4(file, { bytes: p.bytes, label: p.name, uuid: p.fsUuid, epoch });
    } else {
      throw new Error(`partition ${p.name}: no content rule for fs ${p.fs}`);
    }
    images[p.name] = file;
  }
  return images;
}

async function run(ctx: StageContext, db?: KeyPair): Promise<void> {
  const { board, out, log } = ctx;
  const verity = await readVerity(ctx.deps.rootfs);
  const sizes = ctx.params.partitionSizes as Record<string, string>;
  const args = await readKernelArgs(ctx.deps.rootfs);
  // Sizes do not enter the boot files (command lines name partitions, not offsets): the
  // files are staged from the plan, then measured, and the disk is laid out for them.
  const plan = planImage(board, sizes, verity, args);
  if (verity) ctx.record("rootHash", verity.rootHash);
  const bootDir = join(ctx.tmp, "boot");
  await stageBoot(ctx, plan, bootDir, db);
  const squashfs = join(ctx.deps.rootfs, "root.squashfs");
  ctx.record("rootBytes", (await Deno.stat(squashfs)).size);
  const content = await measureContent(plan, bootDir, squashfs);
  const sized = planImage(board, sizes, verity, args, content);
  if (sized.cmdline !== plan.cmdline) {
    throw new Error(`image: board ${board.name}: the command line depends on partition sizes`);
  }
  const disk = sized.disk;
  const img = join(out, imageName(board.name));
  await writeDisk(img, disk, await partitionImages(ctx, disk, plan.label, bootDir));
  const size = (await Deno.stat(img)).size;
  const sha256 = await sha256File(img);
  log(`${img}: ${size} bytes, sha256 ${sha256}`);
  ctx.record("image", imageName(board.name));
  ctx.record("imageBytes", size);
  ctx.record("sha256", sha256);
  ctx.record("cmdline", plan.cmdline);
  ctx.record(
    "partitions",
    disk.partitions.map((p) => ({
      name: p.name,
      size: p.size,
      start: p.start,
      bytes: p.bytes,
      uuid: p.uuid,
      ...(content[p.name] ? { content: content[p.name] } : {}),
    })),
  );
}

/**
 * The image stage of one board (its firmware sources come from its boot kind); `db`:
 * the Secure Boot key that signs, where the board's plan asks for signatures.
 */
export function imageStage(
  board: Board,
  partitionSizes: Record<string, string> = {},
  serial = 0,
  db?: KeyPair,
): Stage {
  const signing = needsSigning(planImage(board, partitionSizes).files);
  return defineStage({
    name: "image",
    description: "bootable disk image: partitions, boot loader, kernel, root, data",
    needs: ["kernel", "rootfs"],
    tools: [
      "sfdisk",
      "mkfs.fat",
      "mcopy",
      "mmd",
      "mkfs.ext4",
      "debugfs",
      "dpkg-deb",
      "tar",
      "unsquashfs",
      ...(signing ? ["objcopy", "sbsign", "sbverify", "faketime"] : []),
    ],
    sources: planImage(board, partitionSizes).sources,
    // The release serial of the factory slot (ICENET_SERIAL, as `deno task bundle` takes it).
    params: { partitionSizes, serial },
    // Read by lib/image/ext4.ts beside its code: not a module, so declared.
    // The db key and certificate, by content: a build with other keys is another image.
    inputs: ["lib/image/mke2fs.conf", SETUP_EXAMPLE, ...(signing && db ? [db.key, db.cert] : [])],
    run: (ctx) => run(ctx, db),
  });
}

/** The registry entry: the image definition (as the rootfs stage picks it) may resize partitions. */
export default async function stages(root: string, board: Board): Promise<Stage[]> {
  const { def, where } = await effectiveImageDef(root);
  withOverrides(board, def.partitions, where); // fail early, naming the file
  const serial = Deno.env.get("ICENET_SERIAL") ?? "0";
  if (!/^\d+$/.test(serial)) throw new Error(`ICENET_SERIAL=${serial}: not a whole number`);
  // Only db signs: the set's PK and KEK may be kept offline (and a sandboxed stage sees
  // only its declared inputs, db's key and certificate).
  const db = needsSigning(planImage(board, def.partitions).files) ? await dbKey() : undefined;
  return [imageStage(board, def.partitions, Number(serial), db)];
}

if (import.meta.main) {
  await runStandalone({ name: "image" } as Stage);
}
