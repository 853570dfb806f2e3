/**
 * `deno task bench userland`: busybox and musl for each architecture, built (or
 * taken from the store) through the runner.
 *   busybox_size_<arch>      size of the static busybox binary
 *   libc_a_size_<arch>       size of musl's libc.a
 *   busybox_build_<arch>     configure + make time of the build that made the stored
 *                            output (recorded in its manifest)
 *   musl_build_<arch>        same for musl
 */
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { ARCHES, buildFor, join } from "../userland/_build.ts";

export default async function bench(): Promise<void> {
  const store = new Store(defaultStoreDir());
  for (const a of ARCHES) {
    const results = await buildFor(a.board, ["busybox"]);
    const bb = results.get("busybox")!;
    const musl = results.get("musl")!;
    const size = (await Deno.stat(join(bb.out!, "bin", "busybox"))).size;
    console.log(`bench: busybox_size_${a.arch} ${size} B`);
    const libc = (await Deno.stat(join(musl.out!, "sysroot", "lib", "libc.a"))).size;
    console.log(`bench: libc_a_size_${a.arch} ${libc} B`);
    for (const [name, r] of [["musl", musl], ["busybox", bb]] as const) {
      // The stage's own make time (the manifest's total also counts lock waits).
      const seconds = (await store.manifest(r.outputHash!))?.info[`${name}_build_seconds`];
      if (typeof seconds === "number") console.log(`bench: ${name}_build_${a.arch} ${seconds} s`);
    }
  }
}

if (import.meta.main) await bench();
