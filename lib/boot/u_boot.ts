/**
 * Boot kind "u-boot": the Raspberry Pi firmware starts Debian's U-Boot (config.txt
 * `kernel=u-boot-<build>.bin`) with the device tree config.txt picks, and U-Boot's
 * distro boot runs IceNet's `boot.scr`, which picks slot a or b (lib/boot/uboot_script.ts)
 * and boots `slot-<x>/` kernel with `slot-<x>/cmdline.env`. The firmware part — its
 * files, config.txt and its model filters — is the rpi-firmware kind's.
 *
 * On the boot partition: the firmware files, `u-boot-<build>.bin` of each build,
 * config.txt, the device trees (for the firmware), `boot.scr`, and slot a's
 * `slot-a/<kernelName>`, `slot-a/cmdline.env` and `slot-a/<kernel.dtbs path>` (the
 * tree U-Boot loads when no firmware passed one: under QEMU's 32-bit raspi machines).
 * No `icenet.env` at first: no state means slot a, committed.
 *
 * Why IceNet's state is in `icenet.env`, not U-Boot's own `uboot.env` + `saveenv`:
 *   - U-Boot loads `uboot.env` in place of its whole default environment, so a file
 *     holding only IceNet's variables (as the updater would write one) would leave it
 *     without `bootcmd`: stopped at its prompt, a bricked board in the field;
 *   - Debian's builds keep `uboot.env` on `mmc 0:1`, fixed at build time: QEMU's
 *     raspi machines wire the card to the other controller (mmc 1 on raspi3b), and a
 *     Pi 4 booting from USB has no card at all. The script writes to the partition it
 *     was loaded from instead.
 *
 * Board fields (`boot:`), besides the rpi-firmware kind's (firmware, firmwareFiles,
 * filters):
 *   uboot        the Debian u-boot-rpi package of the board's architecture, pinned
 *   ubootBuilds  the build of it (usr/lib/u-boot/<build>/) per config.txt filter;
 *                `all` is the default, e.g. { all: rpi_2, pi3: rpi_3_32b }
 *
 * ```ts
 * uBoot.files(board, cmdline); // [..., { path: "boot.scr", bytes }, { path: "slot-a/kernel8.img", kernel: true }, ...]
 * ```
 */
import { basename } from "node:path";
import { z } from "zod";
import type { Board } from "../board.ts";
import { slotDir } from "../image/layout.ts";
import type { Source } from "../fetch/source.ts";
import { SourceSchema } from "../fetch/source.ts";
import { imageCmdline } from "./cmdline.ts";
import type { BootFile, BootIssue, BootKind } from "./kind.ts";
import {
  configTxt,
  firmwareFiles,
  piFilters,
  RPI_FIRMWARE_FIELDS,
  rpiFirmware,
} from "./rpi_firmware.ts";
import { scriptImage } from "./uboot_image.ts";
import { UBOOT_ENV_SIZE } from "./uboot_env.ts";
import { abBootScript, CMDLINE_FILE } from "./uboot_script.ts";

/** The `boot:` fields of this kind. */
const Fields = {
  ...RPI_FIRMWARE_FIELDS,
  uboot: SourceSchema,
  ubootBuilds: z.record(
    z.string().regex(/^[a-z0-9+]+$/, "a config.txt model filter like pi3, or all"),
    z.string().regex(/^rpi[a-z0-9_]*$/, "a build of u-boot-rpi like rpi_arm64"),
  ),
};
const Config = z.object(Fields);

/** The U-Boot file of a build on the boot partition. */
function loaderFile(build: string): string {
  return `u-boot-${build}.bin`;
}

function check(board: Board): BootIssue[] {
  const issues = rpiFirmware.check(board);
  const { ubootBuilds } = Config.parse(board.boot);
  const filters = piFilters(board).map((f) => f.filter);
  if (!ubootBuilds.all) {
    issues.push({ path: ["boot", "ubootBuilds"], message: `no "all" build (the default)` });
  }
  for (const f of Object.keys(ubootBuilds)) {
    if (f !== "all" && !filters.includes(f)) {
      issues.push({
        path: ["boot", "ubootBuilds", f],
        message: `"${f}" is not a filter of boot.filters (have: ${filters.join(", ")})`,
      });
    }
  }
  return issues;
}

function sources(board: Board): Record<string, Source> {
  return { ...rpiFirmware.sources(board), "u-boot": Config.parse(board.boot).uboot };
}

function files(board: Board): BootFile[] {
  const { ubootBuilds } = Config.parse(board.boot);
  const arm64 = board.arch === "aarch64";
  const kernels = Object.fromEntries(
    Object.entries(ubootBuilds).filter(([f]) => f !== "all").map(([f, b]) => [f, loaderFile(b)]),
  );
  const script = abBootScript({
    kernel: board.boot.kernelName,
    bootCommand: arm64 ? "booti" : "bootz",
  });
  return [
    ...firmwareFiles(board),
    ...[...new Set(Object.values(ubootBuilds))].sort().map((b) => ({
      path: loaderFile(b),
      source: "u-boot",
      member: `usr/lib/u-boot/${b}/u-boot.bin`,
    })),
    ...board.kernel.dtbs.map((d) => ({ path: basename(d), dtb: basename(d) })),
    {
      path: "config.txt",
      text: configTxt({
        arm64,
        kernel: loaderFile(ubootBuilds.all),
        filters: piFilters(board),
        kernels,
      }),
    },
    {
      path: "boot.scr",
      bytes: scriptImage(script, { arch: arm64 ? "arm64" : "arm", name: "IceNet-OS A/B boot" }),
    },
  ];
}

/** A slot: the kernel, its device trees, its command line (`slot-<x>/` on p1). */
function slotFiles(board: Board, cmdline: string): BootFile[] {
  return [
    { path: board.boot.kernelName, kernel: true as const },
    // At their path under the kernel's dts directory: U-Boot's ${fdtfile} names them so.
    ...board.kernel.dtbs.map((d) => ({ path: d, dtb: basename(d) })),
    { path: CMDLINE_FILE, text: `bootargs=${cmdline}\n` },
  ];
}

/** The U-Boot that QEMU starts on a machine with device tree `dtb`. */
function qemuLoader(board: Board, dtb: string) {
  const { ubootBuilds } = Config.parse(board.boot);
  const filter = piFilters(board).find((f) => f.dtb === dtb)?.filter;
  const build = (filter && ubootBuilds[filter]) || ubootBuilds.all;
  return { loader: loaderFile(build), cmdlineFile: `${slotDir("a")}/${CMDLINE_FILE}` };
}

/** The Pi firmware, then U-Boot with IceNet's A/B boot script. */
export const uBoot: BootKind = {
  name: "u-boot",
  description: "Raspberry Pi firmware, then U-Boot with an A/B boot script (boot.scr)",
  fields: Fields,
  check,
  cmdline: imageCmdline,
  label: "BOOT",
  sources,
  files,
  slotFiles,
  // CONFIG_ENV_SIZE of Debian's rpi builds: icenet.env is written in that size.
  update: { bootloader: "u-boot", ubootEnvSize: UBOOT_ENV_SIZE },
  qemu: "u-boot",
  qemuLoader,
  imager: true,
};
