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
import { join } from "node:path";
import { generateKeyFiles } from "../ice-pkg/keys.ts";
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

/** Where a kind of signing key comes from and what it signs (for its message). */
export interface KeySpec {
  /** The environment variable naming a key file, e.g. ICENET_REPO_KEY. */
  env: string;
  /** The store directory of the development key, e.g. `repo-key`. */
  dir: string;
  /** What it signs, for the development-key warning: `packages`. */
  signs: string;
}

const warned = new Set<string>();

/**
 * A signing key: the file `spec.env` names, else a development key made once under
 * `<store>/<spec.dir>/development.key`, said out loud once per process.
 */
export async function signingKey(spec: KeySpec, storeDir = defaultStoreDir()): Promise<RepoKey> {
  const given = Deno.env.get(spec.env);
  if (given) {
    let text: string;
    try {
      text = await Deno.readTextFile(given);
    } catch (e) {
      throw new Error(`${spec.env}=${given}: cannot read: ${(e as Error).message}`);
    }
    return { ...parseKeyFile(given, text), path: given, development: false };
  }
  const dir = join(storeDir, spec.dir);
  const path = join(dir, "development.key");
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    await Deno.stat(path);
  } catch {
    // Made once: write aside, then link into place (fails if a concurrent build won).
    const { privateFile } = await generateKeyFiles();
    const tmp = `${path}.${Deno.pid}.tmp`;
    await Deno.writeTextFile(tmp, privateFile, { mode: 0o600 });
    await Deno.link(tmp, path).catch((e) => {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    });
    await Deno.remove(tmp);
  }
  const key = parseKeyFile(path, await Deno.readTextFile(path));
  if (!warned.has(spec.env)) {
    warned.add(spec.env);
    console.error(
      `icenet: signing ${spec.signs} with the development key ${key.keyId} (${path}); ` +
        `set ${spec.env} to a key file for release builds`,
    );
  }
  return { ...key, path, development: true };
}

/** The signing key for repositories (see the module doc). */
export function repoKey(storeDir = defaultStoreDir()): Promise<RepoKey> {
  return signingKey({ env: "ICENET_REPO_KEY", dir: "repo-key", signs: "packages" }, storeDir);
}
