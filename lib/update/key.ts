/**
 * The update signing key: the file named by ICENET_UPDATE_KEY (an ice-pkg private key
 * file, the same format as ICENET_REPO_KEY's), else a development key made once under
 * the store (`<store>/update-key/development.key`), said out loud once per process.
 * It is a key of its own: a device trusts it for whole systems, not for packages.
 *
 * The device trusts the public half as one `ed25519 <base64>` line in
 * `/etc/icenet/update.pub` of the root (see `UPDATE_PUB`).
 *
 * ```ts
 * const { privateFile, publicLine } = await updateKey();
 * ```
 */
import { join } from "node:path";
import { generateKeyFiles } from "../ice-pkg/keys.ts";
import { parseKeyFile, type RepoKey } from "../recipe/repo_key.ts";
import { defaultStoreDir } from "../store.ts";

/** Where the root holds the public update key icenet-update checks bundles with. */
export const UPDATE_PUB = "etc/icenet/update.pub";

let warned = false;

/** The signing key for update bundles (see the module doc). */
export async function updateKey(storeDir = defaultStoreDir()): Promise<RepoKey> {
  const given = Deno.env.get("ICENET_UPDATE_KEY");
  if (given) {
    let text: string;
    try {
      text = await Deno.readTextFile(given);
    } catch (e) {
      throw new Error(`ICENET_UPDATE_KEY=${given}: cannot read: ${(e as Error).message}`);
    }
    return { ...parseKeyFile(given, text), path: given, development: false };
  }
  const dir = join(storeDir, "update-key");
  const path = join(dir, "development.key");
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await Deno.stat(path);
  } catch {
    // Made once: written aside, then linked into place (fails if a concurrent build won).
    const { privateFile } = await generateKeyFiles();
    const tmp = `${path}.${Deno.pid}.tmp`;
    await Deno.writeTextFile(tmp, privateFile, { mode: 0o600 });
    await Deno.link(tmp, path).catch((e) => {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    });
    await Deno.remove(tmp);
  }
  const key = parseKeyFile(path, await Deno.readTextFile(path));
  if (!warned) {
    warned = true;
    console.error(
      `icenet: signing update bundles with the development key ${key.keyId} (${path}); ` +
        `set ICENET_UPDATE_KEY to a key file for release builds`,
    );
  }
  return { ...key, path, development: true };
}
