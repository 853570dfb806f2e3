/**
 * `/etc/icenet/update.conf`, icenet-update's view of the device (keys: update/README.md).
 * The image writes it; devices are left to the tool, which finds p1-p3 on the disk the
 * running root is on.
 *
 * ```ts
 * updateConf({ board: "rpi", bootloader: "u-boot", ubootEnvSize: 0x4000 });
 * // "board = rpi\nbootloader = u-boot\nuboot_env_size = 0x4000\n"
 * ```
 */

/** Where the root holds it. */
export const UPDATE_CONF = "etc/icenet/update.conf";

/** What a board's update.conf says. */
export interface UpdateConf {
  board: string;
  bootloader: "u-boot" | "systemd-boot";
  /** CONFIG_ENV_SIZE of the board's U-Boot (u-boot only). */
  ubootEnvSize?: number;
  /** Boot attempts a new slot gets (default 1). */
  tries?: number;
}

/** The text of update.conf. */
export function updateConf(c: UpdateConf): string {
  const lines = [
    "# icenet-update's configuration, written by the image (see update/README.md).",
    `board = ${c.board}`,
    `bootloader = ${c.bootloader}`,
  ];
  if (c.bootloader === "u-boot") {
    if (!c.ubootEnvSize) throw new Error(`update.conf of ${c.board}: u-boot needs ubootEnvSize`);
    lines.push(`uboot_env_size = 0x${c.ubootEnvSize.toString(16)}`);
  }
  if (c.tries) lines.push(`tries = ${c.tries}`);
  return lines.join("\n") + "\n";
}
