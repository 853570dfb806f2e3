/**
 * A repository of one's own: add a package to a signed repository directory (made
 * if missing) that a device adds beside the board's (`ice-pkg --repo URL`, or a line in
 * `/etc/icenet/repositories`). Each call re-signs the index with a higher serial and
 * a 30-day expiry, as `deno task repo build` does for a published repository.
 *
 * ```ts
 * const p = await publishPackage({ repoDir: "repo-zima", pkg: "hello-1.0-r0.x86_64.ice",
 *   arch: "x86_64", key: await repoKey() });
 * ```
 *
 * Rules: one version per package name (a new build replaces the old one: devices
 * keep what they installed in their cache for rollback); one architecture per
 * repository (plus noarch), because ice-pkg does not choose packages by architecture;
 * the same name-version with other bytes is refused (a device that has it would never
 * see the change: the release must go up); only the key that signed the index may
 * sign it again (devices trust that key).
 */
import { join } from "node:path";
import type { Arch } from "../arch.ts";
import { lockFile } from "../file_lock.ts";
import { sha256File } from "../hash.ts";
import { keyIdOf, type Signature, verifySignature } from "../ice-pkg/keys.ts";
import { fullVersion, type Index, parseIndex } from "../ice-pkg/metadata.ts";
import { readPackageMeta } from "../ice-pkg/package_read.ts";
import { buildRepo, INDEX_FILE, SIG_FILE } from "../ice-pkg/repo.ts";
import type { RepoKey } from "./repo_key.ts";

/** Options of {@linkcode publishPackage}. */
export interface PublishOptions {
  /** The repository directory (created if missing). */
  repoDir: string;
  /** The `.ice` file to add. */
  pkg: string;
  /** The architecture the repository serves (the board's). */
  arch: Arch;
  key: RepoKey;
  /** Signing time (tests); default now. */
  now?: Date;
  /** Days the index stays valid; default 30. */
  validDays?: number;
}

/** What {@linkcode publishPackage} did. */
export interface Published {
  index: Index;
  /** `name-version-rN` of the package added (or kept, when it was there already). */
  added: string;
  /** Versions of the same package taken out. */
  replaced: string[];
}

/** Add `opts.pkg` to the repository and re-sign it; nothing changes if a check fails. */
export async function publishPackage(opts: PublishOptions): Promise<Published> {
  const { repoDir, key } = opts;
  await Deno.mkdir(repoDir, { recursive: true });
  // Two builds publishing at once would each drop the other's package.
  using _lock = await lockFile(join(repoDir, ".lock"), true);
  const old = await readOwnIndex(repoDir, key);
  const meta = await readPackageMeta(opts.pkg, { where: opts.pkg });
  const id = `${meta.name}-${fullVersion(meta)}`;
  const foreign = old.packages.find((e) => e.arch !== "noarch" && e.arch !== opts.arch);
  if (foreign) {
    throw new Error(
      `${repoDir}: holds ${foreign.name} for ${foreign.arch}, not ${opts.arch}: a repository ` +
        `serves one architecture (ice-pkg does not choose by architecture); give another --repo`,
    );
  }
  const same = old.packages.find((e) => `${e.name}-${e.version}` === id);
  if (same && same.sha256 !== await sha256File(opts.pkg)) {
    throw new Error(
      `${repoDir}: ${id} is already there with other content; raise "release" in the recipe ` +
        `(a device that has ${id} would never see the change)`,
    );
  }
  const kept = old.packages.filter((e) => e.name !== meta.name);
  const replaced = old.packages.filter((e) => e.name === meta.name && e !== same);
  const now = opts.now ?? new Date();
  // Never below the seconds since the epoch: a repository deleted and made again
  // still goes up for the devices that remember its serial.
  const serial = Math.max(old.serial + 1, Math.floor(now.getTime() / 1000));
  const tmp = await Deno.makeTempDir({ dir: repoDir, prefix: ".new-" });
  try {
    const index = await buildRepo({
      packages: [...kept.map((e) => join(repoDir, e.file)), opts.pkg],
      outDir: tmp,
      privateKey: key.privateFile,
      serial,
      created: now,
      expires: new Date(now.getTime() + (opts.validDays ?? 30) * 86400_000),
    });
    for (const e of kept) {
      const signed = index.packages.find((p) => p.file === e.file);
      if (signed?.sha256 !== e.sha256) throw new Error(`${repoDir}/${e.file}: damaged (sha256)`);
    }
    await moveIntoPlace(tmp, repoDir, index, replaced.map((e) => e.file));
    await Deno.mkdir(join(repoDir, "keys"), { recursive: true });
    await Deno.writeTextFile(join(repoDir, "keys", `${key.keyId}.pub`), key.publicLine);
    return { index, added: id, replaced: replaced.map((e) => `${e.name}-${e.version}`) };
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/**
 * New packages first (new names: the current index does not see them), then the
 * signature and the index, each renamed in one step; old versions go last. A reader
 * between the last two renames sees a mismatched signature and is refused, not fooled.
 */
async function moveIntoPlace(tmp: string, repoDir: string, index: Index, gone: string[]) {
  for (const p of index.packages) {
    const exists = await Deno.lstat(join(repoDir, p.file)).then(() => true, () => false);
    if (!exists) await Deno.rename(join(tmp, p.file), join(repoDir, p.file));
  }
  await Deno.rename(join(tmp, SIG_FILE), join(repoDir, SIG_FILE));
  await Deno.rename(join(tmp, INDEX_FILE), join(repoDir, INDEX_FILE));
  for (const f of gone) await Deno.remove(join(repoDir, f));
}

/** The repository's current index, checked against `key`; an empty one if there is none. */
async function readOwnIndex(repoDir: string, key: RepoKey): Promise<Index> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(join(repoDir, INDEX_FILE));
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    return { format: 1, serial: 0, created: "", expires: "", packages: [] };
  }
  const what = join(repoDir, INDEX_FILE);
  let sig: Signature;
  try {
    sig = JSON.parse(await Deno.readTextFile(join(repoDir, SIG_FILE)));
  } catch (e) {
    throw new Error(`${what}: no readable ${SIG_FILE} (${(e as Error).message})`);
  }
  if (sig.keyId !== key.keyId) {
    throw new Error(
      `${what}: signed by key ${sig.keyId}, not by ${key.keyId} (${key.path}); the devices ` +
        `trust the first: set ICENET_REPO_KEY to its file, or give another --repo`,
    );
  }
  const raw = Uint8Array.from(atob(key.publicLine.trim().split(" ")[1]), (c) => c.charCodeAt(0));
  try {
    await verifySignature(new Map([[await keyIdOf(raw), raw]]), sig, bytes, what);
  } catch {
    throw new Error(`${what}: bad signature (changed after it was signed?)`);
  }
  return parseIndex(JSON.parse(new TextDecoder().decode(bytes)), what);
}
