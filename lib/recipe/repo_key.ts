/**
 * The repository signing key: the file named by ICENET_REPO_KEY (an ice-pkg private
 * key file), else a development key made once under the store
 * (`<store>/repo-key/development.key`). Using the development key is said out loud,
 * once per process: images signed with it trust a key that lives on this machine.
 *
 * ```ts
 * const { keyId, privateFile, publicLine } = await repoKey();
 * ```
 */
import { generateKeyFiles } from "../ice-pkg/keys.ts";
import { announceDevelopmentKey, keySource, type KeySpec } from "../key_source.ts";
import { defaultStoreDir } from "../store.ts";

/** A loaded signing key. */
export interface RepoKey {
  keyId: string;
  /** Content of the private key file. */
  privateFile: string;
  /** `ed25519 <base64>` line for `<root>/etc/icenet/keys/<keyId>.pub`. */
  publicLine: string;
  /** Where it came from. */
  path: string;
  development: boolean;
}

/** Parse a private key file's content; errors name the file. */
export function parseKeyFile(path: string, text: string): Omit<RepoKey, "path" | "development"> {
  let j: { type?: string; keyId?: string; public?: string };
  try {
    j = JSON.parse(text);
  } catch {
    throw new Error(`${path}: not an ice-pkg private key file (JSON expected)`);
  }
  if (j.type !== "icenet-ed25519-private" || !j.keyId || !j.public) {
    throw new Error(`${path}: not an ice-pkg private key file (type, keyId, public expected)`);
  }
  return { keyId: j.keyId, privateFile: text, publicLine: `ed25519 ${j.public}\n` };
}

export type { KeySpec };

/**
 * A signing key: the file `spec.env` names, else a development key made once under
 * `<store>/<spec.dir>/development.key`, said out loud once per process
 * (lib/key_source.ts, shared with the Secure Boot keys).
 */
export async function signingKey(spec: KeySpec, storeDir = defaultStoreDir()): Promise<RepoKey> {
  const file = { ...spec, suffix: ".key" };
  const { path, development } = await keySource(file, async (tmp) => {
    const { privateFile } = await generateKeyFiles();
    await Deno.writeTextFile(tmp, privateFile, { mode: 0o600 });
  }, storeDir);
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new Error(`${spec.env}=${path}: cannot read: ${(e as Error).message}`);
  }
  const key = parseKeyFile(path, text);
  if (development) announceDevelopmentKey(file, key.keyId, path);
  return { ...key, path, development };
}

/** The signing key for repositories (see the module doc). */
export function repoKey(storeDir = defaultStoreDir()): Promise<RepoKey> {
  return signingKey({ env: "ICENET_REPO_KEY", dir: "repo-key", signs: "packages" }, storeDir);
}
