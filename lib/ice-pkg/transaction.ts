/**
 * Applying a changeset to a root, following apk-tools' commit protocol:
 *
 * 1. plan: compute file operations; check conflicts and the disk (nothing written yet)
 * 2. journal the plan in the database (state "staging")
 * 3. stage: create directories, write every new file under a temporary name in its
 *    final directory, fsync each, then fsync the directories
 * 4. journal state "commit" — the point of no return
 * 5. rename each temporary file into place, delete files no longer owned
 * 6. record packages, files and history in the database and drop the journal, in one
 *    SQLite transaction
 *
 * A crash before 4 is rolled back by {@linkcode recover} (temporary files deleted); a
 * crash after 4 is completed by it (renames and deletes are idempotent). The database
 * never records a file that is not in place.
 *
 * ```ts
 * applyChanges({ root, db, log: console.log, command: "install foo" }, changes);
 * ```
 */
import { dirname, join } from "./_path.ts";
import type { Db, DbCommit, InstalledPkg } from "./db.ts";
import type { FileEntry } from "./metadata.ts";
import type { Package } from "./package.ts";
import { parseDep } from "./dep.ts";
import { parentsOf } from "./safe_path.ts";
import { ExitCode, IcePkgError, integrityError } from "./errors.ts";
import { step } from "./fault.ts";
import { sha256File } from "./hash.ts";
import { compareVersions, fullVersion } from "./version.ts";

/** The new side of a change: a validated package and where it came from. */
export interface NewPkg {
  pkg: Package;
  sha256: string;
  size: number;
  explicit: boolean;
}

/** One package change: install (new only), remove (old only) or replace (both). */
export interface Change {
  name: string;
  old?: InstalledPkg;
  new?: NewPkg;
}

/** Where and how to apply. */
export interface ApplyContext {
  root: string;
  db: Db;
  /** Receives the plan and progress lines. */
  log: (line: string) => void;
  /** The command line, for the history. */
  command: string;
  /** The time recorded in the history (seconds since the epoch); default: now. */
  time?: number;
}

interface Put {
  path: string;
  /** Package path of the content when it differs from `path` (`<conffile>.ice-new`). */
  src?: string;
  tmp: string;
  type: "file" | "symlink";
  mode: number;
  uid: number;
  gid: number;
  target?: string;
}

interface Mkdir {
  path: string;
  mode: number;
  uid: number;
  gid: number;
}

/** The journaled plan: enough to roll back staging or finish a commit. */
interface Plan {
  mkdirs: Mkdir[];
  puts: Put[];
  dels: string[];
  rmdirs: string[];
  db: DbCommit;
}

/** Time recorded in the history: the caller's (image builds), SOURCE_DATE_EPOCH, or now. */
function historyTime(time?: number): string {
  const sde = Deno.env.get("SOURCE_DATE_EPOCH");
  if (time === undefined && sde) time = Number(sde);
  return (time === undefined ? new Date() : new Date(time * 1000)).toISOString();
}

function installedRow(n: NewPkg): InstalledPkg {
  const m = n.pkg.meta;
  return {
    name: m.name,
    version: fullVersion(m),
    arch: m.arch,
    explicit: n.explicit,
    sha256: n.sha256,
    size: n.size,
    installedSize: m.installedSize,
    description: m.description,
    license: m.license,
    depends: m.depends,
    provides: m.provides,
    conflicts: m.conflicts,
    replaces: m.replaces,
  };
}

function lstatOrNull(p: string): Deno.FileInfo | null {
  try {
    return Deno.lstatSync(p);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

/** Compute the plan; throws before anything is written on any conflict. */
/** sha256 of a file in the root, or undefined if it is not a regular file. */
async function diskSha(root: string, path: string): Promise<string | undefined> {
  const st = lstatOrNull(join(root, path));
  return st?.isFile ? await sha256File(join(root, path)) : undefined;
}

async function makePlan(ctx: ApplyContext, changes: Change[]): Promise<Plan> {
  const { db, root } = ctx;
  const changing = new Set(changes.filter((c) => c.old).map((c) => c.name));
  const token = crypto.randomUUID().slice(0, 8);
  const newPaths = new Map<string, { pkg: string; f: FileEntry }>();
  const takeover: { path: string; from: string }[] = [];
  const replaces = (pkg: NewPkg, other: string) =>
    pkg.pkg.meta.replaces.some((r) => parseDep(r).name === other);
  for (const c of changes) {
    if (!c.new) continue;
    for (const f of c.new.pkg.meta.files) {
      const prev = newPaths.get(f.path);
      if (prev && (f.type !== "dir" || prev.f.type !== "dir")) {
        const other = changes.find((x) => x.name === prev.pkg)!.new!;
        if (!replaces(c.new, prev.pkg) && !replaces(other, c.name)) {
          throw new IcePkgError(
            `conflict: ${f.path} is in both ${c.name} and ${prev.pkg} (neither replaces the other)`,
            ExitCode.Unsatisfiable,
          );
        }
        if (replaces(other, c.name)) continue;
      }
      newPaths.set(f.path, { pkg: c.name, f });
      for (const owner of db.ownersOf(f.path)) {
        if (changing.has(owner.package)) continue;
        if (f.type === "dir" && owner.type === "dir") continue;
        if (!replaces(c.new, owner.package)) {
          throw new IcePkgError(
            `conflict: ${f.path} of ${c.name} is owned by ${owner.package} (add replaces: ${owner.package} to ${c.name}, or remove ${owner.package})`,
            ExitCode.Unsatisfiable,
          );
        }
        takeover.push({ path: f.path, from: owner.package });
      }
    }
  }
  // Files of old packages that nothing new or remaining owns any more.
  const dels: string[] = [];
  const rmdirs: string[] = [];
  for (const c of changes) {
    if (!c.old) continue;
    for (const f of db.filesOf(c.old.name)) {
      if (newPaths.has(f.path)) continue;
      if (db.ownersOf(f.path).some((o) => !changing.has(o.package))) continue;
      if (db.isConffile(f.path, c.old.name) && (await diskSha(root, f.path)) !== f.sha256) {
        ctx.log(`keeping modified configuration file /${f.path}`);
        continue;
      }
      (f.type === "dir" ? rmdirs : dels).push(f.path);
    }
  }
  rmdirs.sort((a, b) => b.length - a.length || (a < b ? 1 : -1));
  const deleting = new Set(dels);
  // Disk checks: never write through a symlink, never replace a directory by a file.
  const creating = new Set<string>();
  const mkdirs: Mkdir[] = [];
  const puts: Put[] = [];
  const stat = new Map<string, Deno.FileInfo | null>();
  const lstat = (p: string) => {
    if (!stat.has(p)) stat.set(p, lstatOrNull(join(root, p)));
    return stat.get(p)!;
  };
  const checkParents = (path: string, pkg: string) => {
    for (const p of parentsOf(path)) {
      if (creating.has(p)) continue;
      const st = lstat(p);
      if (!st) {
        creating.add(p);
        mkdirs.push({ path: p, mode: 0o755, uid: 0, gid: 0 });
      } else if (st.isSymlink) {
        throw integrityError(
          `${pkg}: ${path}: refusing to write through the symlink ${p} in the root`,
        );
      } else if (!st.isDirectory) {
        throw new IcePkgError(`${pkg}: ${path}: ${p} exists and is not a directory`);
      }
    }
  };
  let n = 0;
  for (const [path, { pkg, f }] of [...newPaths].sort(([a], [b]) => (a < b ? -1 : 1))) {
    checkParents(path, pkg);
    const st = creating.has(path) ? null : lstat(path);
    if (f.type === "dir") {
      if (st && st.isSymlink) {
        throw integrityError(
          `${pkg}: ${path}: refusing to write through the symlink ${path} in the root (package has a directory there)`,
        );
      }
      if (st && !st.isDirectory && !deleting.has(path)) {
        throw new IcePkgError(`${pkg}: ${path}: exists and is not a directory`);
      }
      mkdirs.push({ path, mode: f.mode, uid: f.uid, gid: f.gid });
      creating.add(path);
    } else {
      if (st && st.isDirectory) {
        throw new IcePkgError(
          `${pkg}: ${path}: is a directory in the root, package has a ${f.type}`,
        );
      }
      // A configuration file changed by the user stays; the new one goes beside it.
      const old = changes.find((x) => x.name === pkg)?.old;
      let dest = path;
      if (
        f.type === "file" && old && changes.find((x) =>
          x.name === pkg
        )!.new!.pkg.meta.conffiles.includes(path) &&
        db.isConffile(path, old.name) && st?.isFile
      ) {
        const recorded = db.ownersOf(path).find((o) => o.package === old.name)?.sha256;
        const onDisk = await diskSha(root, path);
        if (recorded && onDisk !== recorded && onDisk !== f.sha256) {
          dest = `${path}.ice-new`;
          ctx.log(`keeping modified configuration file /${path}; the new one is /${dest}`);
        }
      }
      puts.push({
        path: dest,
        src: dest === path ? undefined : path,
        tmp: join(dirname(path), `.ice-pkg.${token}.${n++}`),
        type: f.type,
        mode: f.mode,
        uid: f.uid,
        gid: f.gid,
        target: f.target,
      });
    }
  }
  const db1: DbCommit = {
    command: ctx.command,
    time: historyTime(ctx.time),
    remove: [...changing],
    add: changes.filter((c) => c.new).map((c) => ({
      pkg: installedRow(c.new!),
      files: c.new!.pkg.meta.files.filter((f) => newPaths.get(f.path)?.pkg === c.name),
      conffiles: c.new!.pkg.meta.conffiles,
    })),
    takeover,
    changes: changes.map((c) => ({
      name: c.name,
      oldVersion: c.old?.version ?? null,
      newVersion: c.new ? fullVersion(c.new.pkg.meta) : null,
      oldSha256: c.old?.sha256 ?? null,
      newSha256: c.new?.sha256 ?? null,
      oldExplicit: c.old?.explicit ?? false,
    })),
  };
  return { mkdirs, puts, dels, rmdirs, db: db1 };
}

/** Print the plan in apk's style. */
function showPlan(ctx: ApplyContext, changes: Change[]): void {
  changes.forEach((c, i) => {
    const n = `(${i + 1}/${changes.length})`;
    const nv = c.new ? fullVersion(c.new.pkg.meta) : "";
    if (!c.old) ctx.log(`${n} Installing ${c.name} (${nv})`);
    else if (!c.new) ctx.log(`${n} Removing ${c.name} (${c.old.version})`);
    else {
      const verb = compareVersions(nv, c.old.version) >= 0 ? "Upgrading" : "Downgrading";
      ctx.log(`${n} ${verb} ${c.name} (${c.old.version} -> ${nv})`);
    }
  });
}

const isRoot = Deno.uid() === 0;

function setOwnerMode(abs: string, mode: number, uid: number, gid: number): void {
  // chown first: it clears setuid bits, which chmod then sets as declared.
  if (isRoot) Deno.chownSync(abs, uid, gid);
  Deno.chmodSync(abs, mode);
}

function fsyncDir(abs: string): void {
  const f = Deno.openSync(abs, { read: true });
  try {
    f.syncSync();
  } finally {
    f.close();
  }
}

function removeIfExists(abs: string): void {
  try {
    Deno.removeSync(abs);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** Steps 5-6: rename into place, delete, record. Idempotent (used by recovery too). */
function finish(ctx: ApplyContext, plan: Plan): number {
  const { root } = ctx;
  const dirs = new Set<string>();
  for (const p of plan.puts) {
    try {
      Deno.renameSync(join(root, p.tmp), join(root, p.path));
    } catch (e) {
      // Already renamed by the run that crashed.
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
    dirs.add(dirname(p.path));
    step(`rename ${p.path}`);
  }
  for (const d of plan.dels) {
    removeIfExists(join(root, d));
    dirs.add(dirname(d));
    step(`delete ${d}`);
  }
  for (const d of plan.rmdirs) {
    try {
      Deno.removeSync(join(root, d));
    } catch {
      // Not empty (files not owned by any package) or already gone: keep it.
    }
  }
  for (const d of dirs) {
    try {
      fsyncDir(join(root, d));
    } catch { /* directory removed meanwhile */ }
  }
  step("fsync directories");
  const id = ctx.db.commit(plan.db);
  step("database commit");
  return id;
}

/**
 * Apply `changes` to the root. Files come from the already validated packages.
 * Returns the new transaction id.
 */
export async function applyChanges(ctx: ApplyContext, changes: Change[]): Promise<number> {
  const plan = await makePlan(ctx, changes);
  showPlan(ctx, changes);
  const { root, db } = ctx;
  db.setJournal("staging", JSON.stringify(plan));
  step("journal staging");
  for (const d of plan.mkdirs) {
    const abs = join(root, d.path);
    try {
      Deno.mkdirSync(abs);
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    setOwnerMode(abs, d.mode, d.uid, d.gid);
  }
  step("mkdirs");
  const data = new Map<string, Uint8Array>();
  for (const c of changes) {
    if (!c.new) continue;
    for (const [p, bytes] of c.new.pkg.data) data.set(p, bytes);
  }
  const dirs = new Set<string>();
  // Files are written first and fsynced together: concurrent fsyncs let the
  // filesystem group them into fewer journal commits (about 2x faster here).
  let pending: { f: Deno.FsFile; p: Put }[] = [];
  const flush = async () => {
    await Promise.all(pending.map(({ f }) => f.sync()));
    for (const { f, p } of pending) {
      f.close();
      setOwnerMode(join(root, p.tmp), p.mode, p.uid, p.gid);
    }
    pending = [];
  };
  for (const p of plan.puts) {
    // Temporary names carry a random token: they cannot exist yet (createNew checks).
    const abs = join(root, p.tmp);
    if (p.type === "symlink") {
      Deno.symlinkSync(p.target!, abs);
    } else {
      const f = Deno.openSync(abs, { write: true, createNew: true, mode: 0o600 });
      pending.push({ f, p });
      const bytes = data.get(p.src ?? p.path)!;
      let off = 0;
      while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
      if (pending.length >= 64) await flush();
    }
    dirs.add(dirname(p.path));
    step(`stage ${p.path}`);
  }
  await flush();
  for (const d of dirs) fsyncDir(join(root, d));
  step("fsync staged");
  db.setJournal("commit");
  step("journal commit");
  return finish(ctx, plan);
}

/**
 * Complete or roll back a transaction interrupted by a crash. Returns what was done,
 * or undefined when there was nothing to recover.
 */
export function recover(ctx: ApplyContext): "rolled back" | "completed" | undefined {
  const j = ctx.db.journal();
  if (!j) return undefined;
  const plan = JSON.parse(j.plan) as Plan;
  if (j.state === "staging") {
    for (const p of plan.puts) removeIfExists(join(ctx.root, p.tmp));
    ctx.db.clearJournal();
    ctx.log("ice-pkg: rolled back an interrupted transaction");
    return "rolled back";
  }
  finish(ctx, plan);
  ctx.log("ice-pkg: completed an interrupted transaction");
  return "completed";
}
