/**
 * The published image: `xz -9` in multi-threaded mode with a fixed block size. The
 * output depends only on the input, the preset, the block size and the xz version —
 * not on the number of threads or cores (xz 5.4 keeps the multi-threaded format for
 * -T0 even with one thread; only -T1 switches format), and not on the caller's
 * XZ_OPT / XZ_DEFAULTS, which are cleared. The blocks also let xz decompress in
 * parallel.
 *
 * ```ts
 * await compressXz("icenet-rpi.img", "out/icenet-rpi.img.xz");
 * ```
 */

/** xz's arguments (exported for the record in tests and docs). */
export const XZ_ARGS = ["-9", "-T0", "--block-size=32MiB", "--check=crc64", "-c"];

/** Compress `src` into `dest` (written under a temporary name, then renamed). */
export async function compressXz(src: string, dest: string): Promise<void> {
  const tmp = `${dest}.tmp`;
  using out = await Deno.open(tmp, { write: true, create: true, truncate: true });
  const xz = new Deno.Command("xz", {
    args: [...XZ_ARGS, src],
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin", LC_ALL: "C" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const copy = (async () => {
    for await (const chunk of xz.stdout) {
      for (let w = 0; w < chunk.length;) w += await out.write(chunk.subarray(w));
    }
  })();
  const [, status, err] = await Promise.all([copy, xz.status, new Response(xz.stderr).text()]);
  if (!status.success) {
    await Deno.remove(tmp).catch(() => {});
    throw new Error(`xz ${XZ_ARGS.join(" ")} ${src}: ${err.trim() || `exit ${status.code}`}`);
  }
  await out.syncData();
  await Deno.rename(tmp, dest);
}
