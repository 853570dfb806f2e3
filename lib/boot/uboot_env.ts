/**
 * U-Boot's environment format, as `env export -c`, `env import -c`, mkenvimage and
 * fw_printenv use it: a little-endian CRC-32 of the rest, then `name=value` entries
 * each ended by a NUL, an empty entry (a second NUL), and zero padding to the size.
 *
 * IceNet keeps its A/B boot state in this format in `icenet.env` on the boot
 * partition (and a second copy, `icenet.env.bak`): the boot script reads and writes
 * it, so does `icenet-update` on the device. See lib/boot/u_boot.ts for why it is not
 * U-Boot's own `uboot.env`.
 *
 * ```ts
 * const bytes = encodeUbootEnv({ icenet_trial: "b", icenet_tries: "1" });
 * decodeUbootEnv(bytes); // { icenet_trial: "b", icenet_tries: "1" }
 * ```
 */
import { crc32 } from "./_crc32.ts";

/** CONFIG_ENV_SIZE of Debian's rpi_* U-Boot builds, and the size IceNet's files have. */
export const UBOOT_ENV_SIZE = 0x4000;

/** The file holding IceNet's boot state on the boot partition. */
export const ICENET_ENV_FILE = "icenet.env";
/** Its second copy, written after the first: one of the two is always whole. */
export const ICENET_ENV_BACKUP = "icenet.env.bak";

/** A variable name U-Boot accepts (no `=`, no NUL, not empty). */
const NAME = /^[^=\0\s]+$/;

/** The environment image of `vars` (sorted by name, as U-Boot exports), `size` bytes. */
export function encodeUbootEnv(
  vars: Record<string, string>,
  size = UBOOT_ENV_SIZE,
): Uint8Array {
  const body = Object.keys(vars).sort().map((name) => {
    if (!NAME.test(name)) {
      throw new Error(`U-Boot environment: bad variable name ${JSON.stringify(name)}`);
    }
    const value = vars[name];
    if (value.includes("\0")) throw new Error(`U-Boot environment: ${name}: value holds a NUL`);
    return `${name}=${value}\0`;
  }).join("");
  const data = new TextEncoder().encode(body + "\0");
  if (data.length > size - 4) {
    throw new Error(`U-Boot environment: ${data.length + 4} bytes do not fit in ${size}`);
  }
  const out = new Uint8Array(size);
  out.set(data, 4);
  new DataView(out.buffer).setUint32(0, crc32(out.subarray(4)), true);
  return out;
}

/**
 * The variables of an environment image. A CRC mismatch is an error (U-Boot would
 * ignore the file and use its defaults).
 */
export function decodeUbootEnv(
  bytes: Uint8Array,
  what = "U-Boot environment",
): Record<string, string> {
  if (bytes.length < 5) throw new Error(`${what}: ${bytes.length} bytes is too short`);
  const stored = new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true);
  const actual = crc32(bytes.subarray(4));
  if (stored !== actual) {
    throw new Error(
      `${what}: CRC mismatch (stored ${hex(stored)}, computed ${hex(actual)}): not a ` +
        `${bytes.length}-byte U-Boot environment, or damaged`,
    );
  }
  const vars: Record<string, string> = {};
  const text = new TextDecoder().decode(bytes.subarray(4));
  for (const entry of text.split("\0")) {
    if (entry === "") break;
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new Error(`${what}: entry without a name: ${JSON.stringify(entry)}`);
    vars[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return vars;
}

function hex(n: number): string {
  return "0x" + n.toString(16).padStart(8, "0");
}
