/**
 * Debian's busybox-static for the host (amd64), fetched and checked like any source
 * (the same package the ice-pkg device test uses): a real busybox to run base-files'
 * shell scripts on the host without building the project's busybox stage.
 */
import { join } from "node:path";
import { defaultDownloadDir, fetchSource, type Source } from "../../lib/fetch/mod.ts";
import { defaultStoreDir } from "../../lib/store.ts";

const DEB: Source = {
  url: "debian:pool/main/b/busybox/busybox-static_1.35.0-4+deb12u1+b1_amd64.deb",
  filename: "busybox-static_1.35.0-4+deb12u1+b1_amd64.deb",
  sha256: "3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744",
  debian: { package: "busybox-static", version: "1:1.35.0-4+deb12u1+b1", arch: "amd64" },
};

/** Unpack busybox into `dir` with a link per applet; returns the bin directory for PATH. */
export async function debianBusybox(dir: string): Promise<string> {
  const store = defaultStoreDir();
  const deb = await fetchSource(DEB, { downloadDir: defaultDownloadDir(store), storeDir: store });
  const x = await new Deno.Command("dpkg-deb", { args: ["-x", deb, dir] }).output();
  if (!x.success) throw new Error(`dpkg-deb -x ${deb}: ${new TextDecoder().decode(x.stderr)}`);
  const bin = join(dir, "applets");
  Deno.mkdirSync(bin);
  const list = await new Deno.Command(join(dir, "bin/busybox"), { args: ["--list"] }).output();
  for (const a of new TextDecoder().decode(list.stdout).trim().split("\n")) {
    Deno.symlinkSync(join(dir, "bin/busybox"), join(bin, a));
  }
  return bin;
}
