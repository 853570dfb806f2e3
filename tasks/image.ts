/**
 * Stage "image": the bootable disk image `<out>/icenet-<board>.img` of a board, from
 * the kernel stage (kernel + device trees) and the rootfs stage (`root.squashfs`).
 *
 * Layout from `boards/<board>.yaml` (partitions): boot (FAT), root (the squashfs as
 * it is), data (ext4, empty; init grows it to the card at first boot).
 *   - rpi, rpi32: MBR; boot holds the Raspberry Pi GPU firmware (Debian's
 *     raspi-firmware), config.txt, cmdline.txt, the kernel and device trees.
 *   - zima: GPT; the EFI system partition holds systemd-boot (Debian's
 *     systemd-boot-efi) as the removable-media loader, its loader entry and the kernel.
 *
 * Written without root, loop devices or mounts, and byte-reproducible: sfdisk on a
 * file, mkfs.fat + mtools, mkfs.ext4 -d (lib/image/). genimage would do the same job
 * but is not packaged in Debian 12, and these tools are small enough to drive directly.
 */
import { basename, dirname, join } from "node:path";
import type { Board } from "../lib/board.ts";
import { runStandalone } from "../lib/cli.ts";
import { sha256File } from "../lib/hash.ts";
import { extractDeb } from "../lib/image/deb.ts";
import { writeDisk } from "../lib/image/disk.ts";
import { makeExt4 } from "../lib/image/ext4.ts";
import { makeFat } from "../lib/image/fat.ts";
import { type DiskPlan, partitionNamed, planDisk } from "../lib/image/layout.ts";
import { configTxt, kernelCmdline, partuuid } from "../lib/image/rpi_boot.ts";
import { EFI_FALLBACK, loaderConf, loaderEntry } from "../lib/image/systemd_boot.ts";
import type { Source } from "../lib/fetch/source.ts";
import { defineStage, type Stage, type StageContext } from "../lib/stage.ts";
import { effectiveImageDef } from "../lib/rootfs/stage.ts";

/**
 * Raspberry Pi GPU firmware (bootcode.bin, start*.elf, fixup*.dat), as Debian ships it
 * in non-free-firmware. Only Debian's archive has this .deb, so the url names the
 * archive path and the debian provider fetches it.
 */
export const RASPI_FIRMWARE: Source = {
  url: "debian:pool/non-free-firmware/r/raspi-firmware/raspi-firmware_1.20220830+ds-1_all.deb",
  filename: "raspi-firmware_1.20220830+ds-1_all.deb",
  sha256: "0094ced47a7fbb6a220ff83e7b43aa637a5d8f6802461e2e4e474597fb796f62",
  debian: {
    package: "raspi-firmware",
    version: "1.20220830+ds-1",
    arch: "all",
    component: "non-free-firmware",
  },
};

/** systemd-boot's EFI binary (Debian 12's systemd 252). */
export const SYSTEMD_BOOT_EFI: Source = {
  url: "debian:pool/main/s/systemd/systemd-boot-efi_252.39-1~deb12u2_amd64.deb",
  filename: "systemd-boot-efi_252.39-1~deb12u2_amd64.deb",
  sha256: "8f2b81bdcfafc466882a0cae460272dbf10d8d97c6a3c1c6ea33038c155a2f5e",
  debian: { package: "systemd-boot-efi", version: "252.39-1~deb12u2", arch: "amd64" },
};

/**
 * Firmware files put on a Pi boot partition. The _cd/_db/_x variants (cut-down
 * memory, debug, camera/codecs) are left out: 22 MB more that a headless IceNet
 * never selects. start4/fixup4 only when the board has a Pi 4 device tree.
 */
export function piFirmwareFiles(board: Board): string[] {
  const files = ["bootcode.bin", "fixup.dat", "start.elf"];
  if (board.kernel.dtbs.some((d) => basename(d).startsWith("bcm2711-"))) {
    files.push("fixup4.dat", "start4.elf");
  }
  return files;
}

/** The kernel command line of a board's image. */
export function imageCmdline(board: Board, plan: DiskPlan): string {
  const root = partitionNamed(plan, "root");
  const data = plan.partitions.find((p) => p.name === "data");
  return kernelCmdline({
    // The screen first, the serial port last: it becomes /dev/console.
    consoles: ["tty1", board.kernel.console],
    root: partuuid(plan.table, plan.labelId, root.number, root.uuid),
    data: data && partuuid(plan.table, plan.labelId, data.number, data.uuid),
  });
}

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

/** The example first-boot settings file put on every boot partition (base-files' setup). */
const SETUP_EXAMPLE = "lib/image/icenet-setup.example.txt";

/** Fill the boot partition's staging directory. */
async function stageBoot(ctx: StageContext, plan: DiskPlan, dir: string): Promise<void> {
  const { board, deps, sources, tmp } = ctx;
  await copyInto(ctx.inputs[SETUP_EXAMPLE], join(dir, "icenet-setup.example.txt"));
  const kernel = join(deps.kernel, board.boot.kernelName);
  const cmdline = imageCmdline(board, plan);
  if (board.boot.loader === "rpi-firmware") {
    const fw = join(tmp, "raspi-firmware");
    await extractDeb(sources["raspi-firmware"], fw, ["./usr/lib/raspi-firmware/"]);
    for (const f of piFirmwareFiles(board)) {
      await copyInto(join(fw, "usr/lib/raspi-firmware", f), join(dir, f));
    }
    await copyInto(kernel, join(dir, board.boot.kernelName));
    const dtbs = board.kernel.dtbs.map((d) => basename(d));
    for (const d of dtbs) await copyInto(join(deps.kernel, "dtbs", d), join(dir, d));
    await Deno.writeTextFile(
      join(dir, "config.txt"),
      configTxt({ arm64: board.arch === "aarch64", kernel: board.boot.kernelName, dtbs }),
    );
    await Deno.writeTextFile(join(dir, "cmdline.txt"), cmdline + "\n");
  } else {
    const sb = join(tmp, "systemd-boot");
    await extractDeb(sources["systemd-boot-efi"], sb, ["./usr/lib/systemd/boot/efi/"]);
    const efiName = { x86_64: "x64", aarch64: "aa64" }[board.arch as "x86_64" | "aarch64"];
    if (!efiName) throw new Error(`board ${board.name}: systemd-boot needs x86_64 or aarch64`);
    await copyInto(
      join(sb, `usr/lib/systemd/boot/efi/systemd-boot${efiName}.efi`),
      join(dir, EFI_FALLBACK[board.arch]),
    );
    await copyInto(kernel, join(dir, board.boot.kernelName));
    await Deno.mkdir(join(dir, "loader/entries"), { recursive: true });
    await Deno.writeTextFile(join(dir, "loader/loader.conf"), loaderConf("icenet.conf"));
    await Deno.writeTextFile(
      join(dir, "loader/entries/icenet.conf"),
      loaderEntry({ title: "IceNet-OS", linux: `/${board.boot.kernelName}`, options: cmdline }),
    );
  }
}

async function run(ctx: StageContext): Promise<void> {
  const { board, deps, out, tmp, log } = ctx;
  const epoch = Number(ctx.env.SOURCE_DATE_EPOCH);
  const plan = planDisk(board.partitions, board.name);
  const images: Record<string, string> = {};
  for (const p of plan.partitions) {
    const file = join(tmp, `${p.name}.${p.fs}`);
    if (p.name === "boot") {
      const dir = join(tmp, "boot");
      await stageBoot(ctx, plan, dir);
      await makeFat(file, {
        bytes: p.bytes,
        label: board.boot.loader === "systemd-boot" ? "ESP" : "BOOT",
        volumeId: p.fsUuid.slice(0, 8),
        dir,
        epoch,
      });
    } else if (p.name === "root") {
      if (p.fs !== "squashfs") throw new Error(`partition root: fs must be squashfs`);
      const squashfs = join(deps.rootfs, "root.squashfs");
      images.root = squashfs;
      ctx.record("rootBytes", (await Deno.stat(squashfs)).size);
      continue;
    } else if (p.fs === "ext4") {
      await makeExt4(file, { bytes: p.bytes, label: p.name, uuid: p.fsUuid, epoch });
    } else {
      throw new Error(`partition ${p.name}: no content rule for fs ${p.fs}`);
    }
    images[p.name] = file;
  }
  const img = join(out, imageName(board.name));
  await writeDisk(img, plan, images);
  const size = (await Deno.stat(img)).size;
  const sha256 = await sha256File(img);
  log(`${img}: ${size} bytes, sha256 ${sha256}`);
  ctx.record("image", imageName(board.name));
  ctx.record("imageBytes", size);
  ctx.record("sha256", sha256);
  ctx.record("cmdline", imageCmdline(board, plan));
  ctx.record(
    "partitions",
    plan.partitions.map((p) => ({ name: p.name, start: p.start, bytes: p.bytes, uuid: p.uuid })),
  );
}

/**
 * The board's partition list with the image definition's size overrides applied
 * (`partitions: { data: 256M }` in images/<name>.yaml).
 */
export function withOverrides(
  board: Board,
  overrides: Record<string, string>,
  where: string,
): Board["partitions"] {
  const list = board.partitions.list;
  for (const name of Object.keys(overrides)) {
    if (!list.some((p) => p.name === name)) {
      throw new Error(
        `${where}: partitions: "${name}" is not a partition of board ${board.name} (${
          list.map((p) => p.name).join(", ")
        })`,
      );
    }
  }
  return {
    ...board.partitions,
    list: list.map((p) => overrides[p.name] ? { ...p, size: overrides[p.name] } : p),
  };
}

/** The image stage of one board (its firmware source depends on the boot loader). */
export function imageStage(board: Board, partitionSizes: Record<string, string> = {}): Stage {
  const sources: Record<string, Source> = board.boot.loader === "rpi-firmware"
    ? { "raspi-firmware": RASPI_FIRMWARE }
    : { "systemd-boot-efi": SYSTEMD_BOOT_EFI };
  return defineStage({
    name: "image",
    description: "bootable disk image: partitions, boot loader, kernel, root, data",
    needs: ["kernel", "rootfs"],
    tools: ["sfdisk", "mkfs.fat", "mcopy", "mmd", "mkfs.ext4", "debugfs", "dpkg-deb", "tar"],
    sources,
    params: { partitionSizes },
    // Read by lib/image/ext4.ts beside its code: not a module, so declared.
    inputs: ["lib/image/mke2fs.conf", SETUP_EXAMPLE],
    run: (ctx) =>
      run({
        ...ctx,
        board: { ...ctx.board, partitions: withOverrides(ctx.board, partitionSizes, "image") },
      }),
  });
}

/** The registry entry: the image definition (as the rootfs stage picks it) may resize partitions. */
export default async function stages(root: string, board: Board): Promise<Stage[]> {
  const { def, where } = await effectiveImageDef(root);
  withOverrides(board, def.partitions, where); // fail early, naming the file
  return [imageStage(board, def.partitions)];
}

if (import.meta.main) {
  await runStandalone({ name: "image" } as Stage);
}
