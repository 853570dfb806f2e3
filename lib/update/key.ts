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
import { type RepoKey, signingKey } from "../recipe/repo_key.ts";
import { defaultStoreDir } from "../store.ts";

/** Where the root holds the public update key icenet-update checks bundles with. */
export const UPDATE_PUB = "etc/icenet/update.pub";

/** The signing key for update bundles (see the module doc). */
export function updateKey(storeDir = defaultStoreDir()): Promise<RepoKey> {
  return signingKey(
    { env: "ICENET_UPDATE_KEY", dir: "update-key", signs: "update bundles" },
    storeDir,
  );
}
