/**
 * The commands that change a root: update, install, remove (and autoremove),
 * upgrade, rollback, clean. Each computes a changeset and hands it to
 * {@linkcode applyChanges}.
 *
 * ```ts
 * await install(env, ["foo>=1.2"]);
 * ```
 */
import { readdirSync, renameSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { isNotFound, removeSync } from "./_fs.ts";
import { join } from "./_path.ts";
import type { Env } from "./env.ts";
import { cacheDir, paths, repoUrls } from "./env.ts";
import { fetchIndex } from "./repo.ts";
import { loadTrustedKeys } from "./keys.ts";
import { fullVersion, type IndexEntry, parseIndex } from "./metadata.ts";
import { repoDownload } from "./fetch.ts";
import { sha256File } from "./hash.ts";
import { type Expected, readPackageHead } from "./package_read.ts";
import { type Candidate, candidateSatisfies, resolve } from "./solver.ts";
import { type Dep, parseDep } from "./dep.ts";
import { applyChanges, type Change, type NewPkg } from "./transaction.ts";
import { ExitCode, IcePkgError, integrityError } from "./errors.ts";
import { checkIndexTimes, indexLocation } from "./freshness.ts";
import type { InstalledPkg } from "./db.ts";

/** Fetch, verify and store the index of every repository. */
export async function update(
  env: Env,
  only?: string[],
): Promise<{ url: string; serial: number; packages: number }[]> {
  const keys = await loadTrustedKeys(paths.keys(env.opts.root));
  const known = env.db.repos();
  const out = [];
  for (const url of only ?? repoUrls(env)) {
    const prev = known.get(url);
    const { index, bytes, sha256 } = await fetchIndex(url, {
      keys,
      previous: prev,
      allowInsecure: env.opts.allowInsecure,
      allowExpired: env.opts.allowExpired,
      warn: (m) => env.io.err(m),
      progress: true,
    });
    env.db.setRepo(url, index.serial, sha256, new TextDecoder().decode(bytes));
    out.push({ url, serial: index.serial, packages: index.packages.length });
  }
  return out;
}

interface Available {
  url: string;
  entry: IndexEntry;
}

/**
 * A stored index, checked again for freshness: the index accepted by an earlier
 * `update` may have expired since (freeze protection holds for every command).
 */
export function storedIndex(env: Env, url: string, json: string) {
  const what = indexLocation(url);
  const index = parseIndex(JSON.parse(json), what);
  checkIndexTimes(index, what, {
    allowExpired: env.opts.allowExpired || env.opts.allowInsecure,
    warn: (m) => env.io.err(m),
  });
  return index;
}

/** Candidates from stored indexes (fetched first if a repository has none) and the installed set. */
async function universe(env: Env): Promise<{ cands: Candidate[]; avail: Map<string, Available> }> {
  const urls = repoUrls(env);
  const missing = urls.filter((u) => !env.db.repos().has(u));
  if (missing.length) await update(env, missing);
  const stored = env.db.repos();
  const avail = new Map<string, Available>();
  for (const url of urls) {
    const index = storedIndex(env, url, stored.get(url)!.indexJson);
    for (const entry of index.packages) {
      const key = `${entry.name}-${entry.version}`;
      if (!avail.has(key)) avail.set(key, { url, entry });
    }
  }
  const installed = env.db.installed();
  const cands: Candidate[] = [...installed.values()].map((p) => ({ ...p, installed: true }));
  for (const [key, { entry }] of avail) {
    const inst = installed.get(entry.name);
    if (inst && `${inst.name}-${inst.version}` === key) continue;
    cands.push({ ...entry, installed: false });
  }
  return { cands, avail };
}

/**
 * A package from the cache, or downloaded into it (streamed, stopped at the index's
 * size, hashed). Its metadata is read and checked; a package refused for its content
 * is deleted from the cache, here or when it is extracted.
 */
async function obtain(
  env: Env,
  a: Available,
  explicit: boolean,
  budget: TarBudget,
): Promise<NewPkg> {
  const { entry } = a;
  const id = `${entry.name}-${entry.version}`;
  const cached = join(cacheDir(env.opts.root), `${id}.ice`);
  const expected = { sha256: entry.sha256, size: entry.size };
  let have = false;
  try {
    have = statSync(cached).size === entry.size && (await sha256File(cached)) === entry.sha256;
    if (!have) removeSync(cached);
  } catch { /* not cached */ }
  if (!have) {
    await repoDownload(a.url, entry.file, `${cached}.part`, expected, id, !env.opts.json);
    renameSync(`${cached}.part`, cached);
  }
  return await fromFile(cached, `${id}.ice`, entry.name, entry.version, explicit, expected, budget);
}

/**
 * Bytes of small packages' decompressed tars a transaction may hold in memory (each
 * at most {@linkcode SMALL_TAR}): they are then decompressed once, not twice.
 */
interface TarBudget {
  left: number;
}

const SMALL_TAR = 2 << 20;
const TAR_BUDGET = 8 << 20;

/** A package file whose metadata names `name`-`version`; dropped from the cache if refused. */
async function fromFile(
  file: string,
  where: string,
  name: string,
  version: string,
  explicit: boolean,
  expected: Expected,
  budget: TarBudget = { left: 0 },
): Promise<NewPkg> {
  try {
    const keep = Math.min(SMALL_TAR, budget.left);
    const { meta, tar } = await readPackageHead(file, { where, expected }, keep);
    budget.left -= tar?.reduce((n, c) => n + c.length, 0) ?? 0;
    if (meta.name !== name || fullVersion(meta) !== version) {
      throw integrityError(
        `${where}: contains ${meta.name}-${fullVersion(meta)}, expected ${name}-${version}`,
      );
    }
    return {
      pkg: { meta, file, where, expected, dropOnRefusal: true, tar },
      sha256: expected.sha256,
      size: expected.size ?? statSync(file).size,
      explicit,
    };
  } catch (e) {
    if (e instanceof IcePkgError && e.code === ExitCode.Integrity) {
      await rm(file, { force: true });
    }
    throw e;
  }
}

/** Total size and count of installed packages, as apk's last line. */
export function summary(env: Env): string {
  const all = [...env.db.installed().values()];
  const bytes = all.reduce((n, p) => n + p.installedSize, 0);
  return `OK: ${(bytes / 1048576).toFixed(1)} MiB in ${all.length} packages`;
}

/** Turn a resolution into changes, fetching what is new. */
async function changesFrom(
  env: Env,
  chosen: Map<string, Candidate>,
  avail: Map<string, Available>,
  isExplicit: (c: Candidate) => boolean,
): Promise<Change[]> {
  const installed = env.db.installed();
  const changes: Change[] = [];
  const budget = { left: TAR_BUDGET };
  for (const c of [...chosen.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const old = installed.get(c.name);
    if (old && old.version === c.version) continue;
    const a = avail.get(`${c.name}-${c.version}`)!;
    const nw = await obtain(env, a, (old?.explicit ?? false) || isExplicit(c), budget);
    changes.push({ name: c.name, old, new: nw });
  }
  return changes;
}

function world(env: Env): Dep[] {
  return [...env.db.installed().values()].filter((p) => p.explicit).map((p) => ({ name: p.name }));
}

/** Result of a changing command. */
export interface TxResult {
  tx?: number;
  changes: { name: string; old?: string; new?: string }[];
  summary: string;
}

async function run(env: Env, changes: Change[]): Promise<TxResult> {
  const tx = changes.length
    ? await applyChanges(
      {
        root: env.opts.root,
        db: env.db,
        log: env.log,
        command: env.opts.command,
        time: env.opts.time,
      },
      changes,
    )
    : undefined;
  return {
    tx,
    changes: changes.map((c) => ({
      name: c.name,
      old: c.old?.version,
      new: c.new ? fullVersion(c.new.pkg.meta) : undefined,
    })),
    summary: summary(env),
  };
}

/** Install packages (and their dependencies); requested ones become explicit. */
export async function install(env: Env, exprs: string[]): Promise<TxResult> {
  if (!exprs.length) throw new IcePkgError("install: name at least one package", ExitCode.Usage);
  const reqs = exprs.map(parseDep);
  const { cands, avail } = await universe(env);
  const chosen = resolve([...world(env), ...reqs], cands, { prefer: "installed" });
  const isExplicit = (c: Candidate) => reqs.some((r) => candidateSatisfies(c, r));
  const changes = await changesFrom(env, chosen, avail, isExplicit);
  for (const c of chosen.values()) {
    if (c.installed && isExplicit(c)) env.db.setExplicit(c.name, true);
  }
  return run(env, changes);
}

/** Upgrade every installed package to the newest version the constraints allow. */
export async function upgrade(env: Env): Promise<TxResult> {
  const { cands, avail } = await universe(env);
  const chosen = resolve(world(env), cands, { prefer: "newest" });
  const installed = env.db.installed();
  // Keep installed dependency packages that the world no longer pulls in.
  for (const p of installed.values()) {
    if (!chosen.has(p.name)) chosen.set(p.name, { ...p, installed: true });
  }
  return run(env, await changesFrom(env, chosen, avail, () => false));
}

/** Names of installed packages that the explicit ones need (transitively). */
function needed(installed: Map<string, InstalledPkg>, removing: Set<string>): Set<string> {
  const keep = new Set<string>();
  const pool = [...installed.values()].filter((p) => !removing.has(p.name));
  const queue = pool.filter((p) => p.explicit);
  while (queue.length) {
    const p = queue.pop()!;
    if (keep.has(p.name)) continue;
    keep.add(p.name);
    for (const d of p.depends.map(parseDep)) {
      const by = pool.find((q) => candidateSatisfies({ ...q, installed: true }, d));
      if (by) queue.push(by);
    }
  }
  return keep;
}

/**
 * Remove packages. Refuses to break an installed dependent unless --force; with
 * --purge-deps (or `autoremove`, names empty) also removes dependencies no longer needed.
 */
export function remove(env: Env, names: string[], autoremove = false): Promise<TxResult> {
  const installed = env.db.installed();
  const removing = new Set<string>();
  for (const n of names) {
    if (!installed.has(n)) throw new IcePkgError(`${n}: not installed`, ExitCode.Unsatisfiable);
    removing.add(n);
  }
  const remaining = () => [...installed.values()].filter((p) => !removing.has(p.name));
  if (!env.opts.force) {
    for (const p of remaining()) {
      for (const expr of p.depends) {
        const d = parseDep(expr);
        const ok = remaining().some((q) => candidateSatisfies({ ...q, installed: true }, d));
        if (!ok) {
          const gone = [...removing].find((n) =>
            candidateSatisfies({ ...installed.get(n)!, installed: true }, d)
          );
          if (gone) {
            throw new IcePkgError(
              `${gone}: needed by ${p.name}-${p.version} (depends on ${expr}); pass --force to remove it anyway`,
              ExitCode.Unsatisfiable,
            );
          }
        }
      }
    }
  }
  if (env.opts.purgeDeps || autoremove) {
    const keep = needed(installed, removing);
    for (const p of installed.values()) if (!p.explicit && !keep.has(p.name)) removing.add(p.name);
  }
  const changes: Change[] = [...removing].sort().map((n) => ({ name: n, old: installed.get(n)! }));
  return run(env, changes);
}

/** Undo transaction `id` using the packages kept in the cache. */
export async function rollback(env: Env, id: number): Promise<TxResult> {
  const tx = env.db.history().find((t) => t.id === id);
  if (!tx) throw new IcePkgError(`rollback: no transaction ${id} in the history`, ExitCode.Usage);
  const installed = env.db.installed();
  const changes: Change[] = [];
  for (const ch of tx.changes) {
    const old = installed.get(ch.name);
    if (ch.oldVersion === null) {
      if (old) changes.push({ name: ch.name, old });
      continue;
    }
    if (old?.version === ch.oldVersion) continue;
    const file = join(paths.cache(env.opts.root), `${ch.name}-${ch.oldVersion}.ice`);
    try {
      statSync(file);
    } catch {
      throw new IcePkgError(`rollback: ${ch.name}-${ch.oldVersion}: ${file} is not in the cache`);
    }
    if ((await sha256File(file)) !== ch.oldSha256) {
      throw integrityError(`rollback: ${file}: sha256 differs from the one installed before`);
    }
    changes.push({
      name: ch.name,
      old,
      new: await fromFile(file, file, ch.name, ch.oldVersion, ch.oldExplicit, {
        sha256: ch.oldSha256!,
      }),
    });
  }
  return run(env, changes);
}

/** Delete cached packages that are not installed. Returns the removed file names. */
export function clean(env: Env): string[] {
  const keep = new Set([...env.db.installed().values()].map((p) => `${p.name}-${p.version}.ice`));
  const dir = paths.cache(env.opts.root);
  const removed: string[] = [];
  try {
    for (const name of readdirSync(dir)) {
      if (!keep.has(name)) {
        removeSync(join(dir, name));
        removed.push(name);
      }
    }
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  return removed.sort();
}
