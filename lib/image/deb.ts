/**
 * Files out of a Debian binary package (.deb), e.g. the Raspberry Pi firmware or
 * systemd-boot's EFI binary, without installing it: `dpkg-deb --fsys-tarfile | tar`.
 *
 * ```ts
 * await extractDeb("raspi-firmware_1.20220830+ds-1_all.deb", "fw", ["./usr/lib/raspi-firmware/"]);
 * ```
 */
import $ from "dax";

/** Unpack `members` (paths as in the package's data, like `./usr/lib/x/`) into `dest`. */
export async function extractDeb(deb: string, dest: string, members: string[]): Promise<void> {
  await Deno.mkdir(dest, { recursive: true });
  const r = await $`dpkg-deb --fsys-tarfile ${deb} | tar -x -C ${dest} --no-same-owner ${members}`
    .stderr("piped").noThrow();
  if (r.code !== 0) {
    throw new Error(`${deb}: cannot extract ${members.join(" ")}: ${r.stderr.trim()}`);
  }
}

/** The paths listed in a .deb's data (as `./usr/...`). */
export async function listDeb(deb: string): Promise<string[]> {
  const r = await $`dpkg-deb --fsys-tarfile ${deb} | tar -t`.stdout("piped").stderr("piped")
    .noThrow();
  if (r.code !== 0) throw new Error(`${deb}: cannot list its files: ${r.stderr.trim()}`);
  return r.stdout.split("\n").filter(Boolean);
}
