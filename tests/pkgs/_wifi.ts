/**
 * What the Wi-Fi package tests (libnl, iw, wpa-supplicant, hostapd) share: a root of
 * a board's packages whose programs run in a network namespace of their own (no
 * daemon under test can reach the host's Wi-Fi) with one /tmp (a daemon and its
 * client meet there), and what asking the kernel for nl80211 gives in it.
 */
import { readPackageMeta } from "../../lib/ice-pkg/package.ts";
import { buildReal, packageIn } from "../rootfs/_real.ts";
import { BOARDS, makeRoot, type Root } from "./_root.ts";

export type Board = typeof BOARDS[number];

/**
 * What a program meets when it opens nl80211 in the root:
 * - `no-genl`: under qemu-user, whose socket() refuses NETLINK_GENERIC
 *   (EPROTONOSUPPORT; it passes only route, uevent and audit netlink sockets);
 * - `absent`: natively, a host kernel without cfg80211: generic netlink answers that
 *   it has no family "nl80211";
 * - `present`: a host kernel with cfg80211 (a laptop): the family is there, but the
 *   root's network namespace has no Wi-Fi device.
 */
export type Nl80211 = "no-genl" | "absent" | "present";

export function nl80211(b: Board): Nl80211 {
  if (b.qemu) return "no-genl";
  try {
    Deno.statSync("/sys/module/cfg80211");
    return "present";
  } catch {
    return "absent";
  }
}

/** wpa_supplicant's and hostapd's words for why nl80211 did not open (none when it did). */
export const DRIVER_FAILURE: Record<Nl80211, RegExp | undefined> = {
  "no-genl": /nl80211: Failed to connect to generic netlink/,
  absent: /nl80211: 'nl80211' generic netlink not found/,
  present: undefined,
};

/** Build `packages` for the board and unpack them into a root under a new temporary dir. */
export async function wifiRoot(
  b: Board,
  packages: string[],
): Promise<{ root: Root; dir: string; files: Record<string, string> }> {
  const res = await buildReal(packages.map((p) => `pkg:${p}`), b.board);
  const files = Object.fromEntries(
    packages.map((p) => [p, packageIn(res.get(`pkg:${p}`)!.out!)]),
  );
  const dir = await Deno.makeTempDir({ prefix: `icenet-wifi-${b.arch}-` });
  const root = await makeRoot(b, Object.values(files), dir, { sharedTmp: true, unshareNet: true });
  return { root, dir, files };
}

/** The run-time dependencies a package records. */
export async function dependsOf(file: string): Promise<string[]> {
  return (await readPackageMeta(file, { where: file })).depends;
}
