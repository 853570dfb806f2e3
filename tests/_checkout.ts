/**
 * A copy of this checkout in a fresh directory, as a `git clone` of it would be: the
 * tracked files and the untracked ones git does not ignore (so uncommitted work is
 * tested too), without the build outputs git ignores (init/build, node_modules).
 */
import { dirname, join } from "node:path";

/** The project root. */
export const CHECKOUT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");

/** Copy the checkout into `dir` (default: a new temp dir); returns the copy's root. */
export async function copyCheckout(dir?: string): Promise<string> {
  const dest = dir ?? await Deno.makeTempDir({ prefix: "icenet-checkout-" });
  const out = await new Deno.Command("git", {
    args: ["ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    cwd: CHECKOUT,
    stdout: "piped",
  }).output();
  if (!out.success) throw new Error(`git ls-files in ${CHECKOUT} failed`);
  const files = new TextDecoder().decode(out.stdout).split("\0").filter(Boolean);
  for (const f of files) {
    const st = await Deno.lstat(join(CHECKOUT, f)).catch(() => undefined);
    if (!st) continue; // deleted in the work tree
    await Deno.mkdir(dirname(join(dest, f)), { recursive: true });
    if (st.isSymlink) await Deno.symlink(await Deno.readLink(join(CHECKOUT, f)), join(dest, f));
    else await Deno.copyFile(join(CHECKOUT, f), join(dest, f));
  }
  return dest;
}
