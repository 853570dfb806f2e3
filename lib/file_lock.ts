/**
 * Advisory file locks (flock) that order work between processes and within one:
 * each call opens its own file description, so two holders in one process exclude
 * each other too. Release by closing the returned file (`using` does it).
 *
 * ```ts
 * using _lock = await lockFile(join(dir, "x.lock"), true);
 * ```
 */
import { dirname } from "node:path";

/** Take an exclusive (or shared) lock on `path`, creating it and its directory. */
export async function lockFile(path: string, exclusive: boolean): Promise<Deno.FsFile> {
  await Deno.mkdir(dirname(path), { recursive: true });
  const f = await Deno.open(path, { create: true, write: true });
  try {
    await f.lock(exclusive);
  } catch (e) {
    f.close();
    throw e;
  }
  return f;
}
