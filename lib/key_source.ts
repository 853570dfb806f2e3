/**
 * Where a kind of signing key comes from (the pattern of lib/recipe/repo_key.ts, for any
 * key format): the file or directory an environment variable names, else a development
 * key made once under the store (`<store>/<dir>/development<suffix>`), said out loud once
 * per process — whatever it signs then trusts a key that lives on this machine.
 *
 * ```ts
 * const { path, development } = await keySource(
 *   { env: "ICENET_SECUREBOOT_KEYS", dir: "secureboot-keys", signs: "EFI programs" },
 *   async (tmp) => await makeKeySet(tmp),
 * );
 * announceDevelopmentKey(spec, id, path);
 * ```
 */
import { join } from "node:path";
import { defaultStoreDir } from "./store.ts";

/** Where a kind of signing key comes from and what it signs (for its message). */
export interface KeySpec {
  /** The environment variable naming a key, e.g. ICENET_REPO_KEY. */
  env: string;
  /** The store directory of the development key, e.g. `repo-key`. */
  dir: string;
  /** What it signs, for the development-key warning: `packages`. */
  signs: string;
  /** Appended to `development` in the store: `.key` for a file; none for a directory. */
  suffix?: string;
  /** What to set the variable to, for the warning (default: `a key file`). */
  expects?: string;
}

/** A key's location, and whether it is the store's development key. */
export interface KeyLocation {
  path: string;
  development: boolean;
}

/**
 * The path `spec.env` names, else the development key under the store, made once by
 * `make(tmp)` (a file or a directory at `tmp`) and moved into place — if a concurrent
 * build won the race, its key is used.
 */
export async function keySource(
  spec: KeySpec,
  make: (tmp: string) => Promise<void>,
  storeDir = defaultStoreDir(),
): Promise<KeyLocation> {
  const given = Deno.env.get(spec.env);
  if (given) {
    try {
      await Deno.stat(given);
    } catch (e) {
      throw new Error(`${spec.env}=${given}: cannot read: ${(e as Error).message}`);
    }
    return { path: given, development: false };
  }
  const dir = join(storeDir, spec.dir);
  const path = join(dir, `development${spec.suffix ?? ""}`);
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await Deno.stat(path);
  } catch {
    const tmp = `${path}.${Deno.pid}.tmp`;
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    await make(tmp);
    if ((await Deno.stat(tmp)).isDirectory) {
      // rename(2) of a directory fails on a non-empty target: the first one stays.
      await Deno.rename(tmp, path).catch(() => Deno.remove(tmp, { recursive: true }));
    } else {
      await Deno.link(tmp, path).catch((e) => {
        if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      });
      await Deno.remove(tmp);
    }
  }
  return { path, development: true };
}

const warned = new Set<string>();

/** Say once per process that `spec`'s development key `id` at `path` signs. */
export function announceDevelopmentKey(spec: KeySpec, id: string, path: string): void {
  if (warned.has(spec.env)) return;
  warned.add(spec.env);
  console.error(
    `icenet: signing ${spec.signs} with the development key ${id} (${path}); ` +
      `set ${spec.env} to ${spec.expects ?? "a key file"} for release builds`,
  );
}
