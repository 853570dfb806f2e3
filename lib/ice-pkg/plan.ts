/**
 * Planning a transaction: from package changes to the file operations that apply
 * them, with every check that can be made before anything is written. Whatever
 * could make a step after the commit point fail for a reason the packages control
 * is refused here: file conflicts, a path below something that is (or will be) not
 * a directory, writing through a symlink, a type change a rename cannot do, names
 * too long for the kernel under this root.
 *
 * Directories are shared: one that exists is never re-moded or re-owned; one that
 * existed before any package listed it is recorded in `keepdirs` and never removed.
 *
 * ```ts
 * const plan = await makePlan(ctx, changes); // throws before anything is written
 * ```
 */
import type { Stats } from "node:fs";
import process from "node:process";
import { lstatOrNull } from "./_fs.ts";
import { dirname, join } from "./_path.ts";
import type { Db, DbCommit, InstalledPkg } from "./db.ts";
import type { FileEntry, PackageMeta } from "./metadata.ts";
import { parseDep } from "./dep.ts";
import { parentsOf } from "./safe_path.ts";
import { checkRootedLimits } from "./limits.ts";
import { TEMP_PREFIX } from "./reserved.ts";
import { ExitCode, IcePkgError, integrityError } from "./errors.ts";
import { sha256File } from "./hash.ts";
import { fullVersion } from "./version.ts";
import type { Expected } from "./package_read.ts";

/** A validated package file: its metadata and where its bytes are. */
export interface PkgFile {
  meta: PackageMeta;
  /** The `.ice` file (in the cache, or a local file). */
  file: string;
  /** Name used in error messages. */
  where: string;
  /** sha256 (and size) the file must have; checked again while it is extracted. */
  expected?: Expected;
  /** The whole decompressed tar of a small package (chunks), checked against `expected`. */
  tar?: Uint8Array[];
  /** Delete `file` if its content is refused (a cached download is worthless then). */
  dropOnRefusal?: boolean;
}

/** The new side of a change: a validated package and where it came from. */
export interface NewPkg {
  pkg: PkgFile;
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

/** A file or symlink put in place: staged at `tmp`, renamed to `path` at commit. */
export interface Put {
  path: string;
  /** Package path of the content when it differs from `path` (`<conffile>.ice-new`). */
  src?: string;
  /** Name of the change whose package provides it. */
  pkg: string;
  tmp: string;
  type: "file" | "symlink";
  mode: number;
  uid: number;
  gid: number;
  target?: string;
  /** A hard link to what `path` held before, so the commit can be undone. */
  backup?: string;
}

/** A directory the transaction creates. */
export interface Mkdir {
  path: string;
  mode: number;
  uid: number;
  gid: number;
}

/** A file or symlink the transaction deletes (kept as `backup` until the cleanup). */
export interface Del {
  path: string;
  backup?: string;
}

/** The journaled plan: enough to roll back, complete or undo the transaction. */
export interface Plan {
  /** 2 since plans carry backups; a plan without it comes from an older ice-pkg. */
  format?: 2;
  mkdirs: Mkdir[];
  puts: Put[];
  dels: Del[];
  /** Directories no package owns any more: removed after the commit if empty. */
  rmdirs: string[];
  db: DbCommit;
}

/** Time recorded in the history: the caller's (image builds), SOURCE_DATE_EPOCH, or now. */
function historyTime(time?: number): string {
  const sde = process.env.SOURCE_DATE_EPOCH;
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

/** sha256 of a file in the root, or undefined if it is not a regular file. */
async function diskSha(root: string, path: string): Promise<string | undefined> {
  const st = lstatOrNull(join(root, path));
  return st?.isFile() ? await sha256File(join(root, path)) : undefined;
}

type NewPaths = Map<string, { pkg: string; f: FileEntry }>;

/** Every path the new packages bring, by the package that gets it; file conflicts refused. */
function collectNewPaths(
  db: Db,
  changes: Change[],
  changing: Set<string>,
): { newPaths: NewPaths; takeover: { path: string; from: string }[] } {
  const newPaths: NewPaths = new Map();
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
      if (prev?.f.type === "dir" && f.type === "dir") continue;
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
  return { newPaths, takeover };
}

/** Files and directories of old packages that nothing new or remaining owns any more. */
async function leftovers(
  ctx: ApplyContext,
  changes: Change[],
  changing: Set<string>,
  newPaths: NewPaths,
): Promise<{ dels: string[]; rmdirs: string[] }> {
  const { db, root } = ctx;
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
  return { dels, rmdirs };
}

/**
 * Where the new paths go on disk: one lstat per path (cached), the directories to
 * create, the files to put, the existing directories to remember. Each method checks
 * one kind of entry and throws before anything is written.
 */
class DiskPlanner {
  readonly mkdirs: Mkdir[] = [];
  readonly puts: Put[] = [];
  readonly keepdirs: string[] = [];
  readonly #creating = new Set<string>();
  readonly #stat = new Map<string, Stats | null>();
  readonly #token = crypto.randomUUID().slice(0, 8);
  #n = 0;

  constructor(
    private readonly ctx: ApplyContext,
    private readonly newPaths: NewPaths,
    private readonly deleting: Set<string>,
  ) {}

  /** A temporary name beside `path` (its backup adds `.old`). */
  temp(path: string): string {
    return join(dirname(path), `${TEMP_PREFIX}${this.#token}.${this.#n++}`);
  }

  /** What is at `p` in the root now (null: nothing, or made by this plan). */
  lstat(p: string): Stats | null {
    if (this.#creating.has(p)) return null;
    if (!this.#stat.has(p)) this.#stat.set(p, lstatOrNull(join(this.ctx.root, p)));
    return this.#stat.get(p)!;
  }

  /** Every parent of `path` is, or becomes, a directory of its own (no symlink on the way). */
  parents(path: string, pkg: string): void {
    for (const p of parentsOf(path)) {
      const np = this.newPaths.get(p);
      if (np && np.f.type !== "dir") {
        throw new IcePkgError(
          `conflict: ${path} of ${pkg} needs ${p} to be a directory, but ${np.pkg} installs a ${np.f.type} there`,
          ExitCode.Unsatisfiable,
        );
      }
      if (this.#creating.has(p)) continue;
      const st = this.lstat(p);
      if (!st) {
        this.#creating.add(p);
        this.mkdirs.push({ path: p, mode: 0o755, uid: 0, gid: 0 });
      } else if (st.isSymbolicLink()) {
        throw integrityError(
          `${pkg}: ${path}: refusing to write through the symlink ${p} in the root`,
        );
      } else if (!st.isDirectory()) {
        throw new IcePkgError(`${pkg}: ${path}: ${p} exists and is not a directory`);
      }
    }
  }

  /** A directory entry: created if missing; shared (never re-moded) if it exists. */
  dir(path: string, pkg: string, f: FileEntry): void {
    const st = this.lstat(path);
    if (st?.isSymbolicLink()) {
      throw integrityError(
        `${pkg}: ${path}: refusing to write through the symlink ${path} in the root (package has a directory there)`,
      );
    }
    if (st && !st.isDirectory()) {
      throw new IcePkgError(
        this.deleting.has(path)
          ? `${pkg}: ${path}: a file in the installed version, a directory in the new one: remove ${pkg}, then install it again`
          : `${pkg}: ${path}: exists and is not a directory`,
      );
    }
    if (st) {
      // Remembered if it was there before any package: never removed by ice-pkg.
      const db = this.ctx.db;
      if (!db.ownersOf(path).length && !db.isKeptDir(path)) this.keepdirs.push(path);
    } else if (!this.#creating.has(path)) {
      this.mkdirs.push({ path, mode: f.mode, uid: f.uid, gid: f.gid });
      this.#creating.add(path);
    }
  }

  /** A file or symlink put at `dest` (its path, or `<conffile>.ice-new`), backed up if replacing. */
  put(path: string, dest: string, pkg: string, f: FileEntry): void {
    const old = this.lstat(dest);
    const tmp = this.temp(path);
    this.puts.push({
      path: dest,
      src: dest === path ? undefined : path,
      pkg,
      tmp,
      type: f.type as Put["type"],
      mode: f.mode,
      uid: f.uid,
      gid: f.gid,
      target: f.target,
      backup: old && !old.isDirectory() ? `${tmp}.old` : undefined,
    });
  }
}

/** The database part of the transaction. */
function dbCommitOf(
  ctx: ApplyContext,
  changes: Change[],
  newPaths: NewPaths,
  takeover: { path: string; from: string }[],
  keepdirs: string[],
): DbCommit {
  return {
    command: ctx.command,
    time: historyTime(ctx.time),
    remove: changes.filter((c) => c.old).map((c) => c.name),
    add: changes.filter((c) => c.new).map((c) => ({
      pkg: installedRow(c.new!),
      // Every package listing a shared directory owns it; other paths have one owner.
      files: c.new!.pkg.meta.files.filter((f) => {
        const got = newPaths.get(f.path);
        return got?.pkg === c.name || (f.type === "dir" && got?.f.type === "dir");
      }),
      conffiles: c.new!.pkg.meta.conffiles,
    })),
    takeover,
    keepdirs,
    changes: changes.map((c) => ({
      name: c.name,
      oldVersion: c.old?.version ?? null,
      newVersion: c.new ? fullVersion(c.new.pkg.meta) : null,
      oldSha256: c.old?.sha256 ?? null,
      newSha256: c.new?.sha256 ?? null,
      oldExplicit: c.old?.explicit ?? false,
    })),
  };
}

/** Compute the plan; throws before anything is written on any conflict. */
export async function makePlan(ctx: ApplyContext, changes: Change[]): Promise<Plan> {
  const changing = new Set(changes.filter((c) => c.old).map((c) => c.name));
  const { newPaths, takeover } = collectNewPaths(ctx.db, changes, changing);
  const { dels, rmdirs } = await leftovers(ctx, changes, changing, newPaths);
  const disk = new DiskPlanner(ctx, newPaths, new Set(dels));
  for (const [path, { pkg, f }] of [...newPaths].sort(([a], [b]) => (a < b ? -1 : 1))) {
    try {
      checkRootedLimits(ctx.root, path);
    } catch (e) {
      throw integrityError(`${pkg}: ${(e as Error).message}`);
    }
    disk.parents(path, pkg);
    if (f.type === "dir") {
      disk.dir(path, pkg, f);
      continue;
    }
    const st = disk.lstat(path);
    if (st?.isDirectory()) {
      throw new IcePkgError(`${pkg}: ${path}: is a directory in the root, package has a ${f.type}`);
    }
    disk.put(path, await conffileDest(ctx, changes, pkg, path, f, st), pkg, f);
  }
  return {
    format: 2,
    mkdirs: disk.mkdirs,
    puts: disk.puts,
    dels: dels.map((path) => ({ path, backup: `${disk.temp(path)}.old` })),
    rmdirs,
    db: dbCommitOf(ctx, changes, newPaths, takeover, disk.keepdirs),
  };
}

/** A configuration file changed by the user stays; the new one goes to `<path>.ice-new`. */
async function conffileDest(
  ctx: ApplyContext,
  changes: Change[],
  pkg: string,
  path: string,
  f: FileEntry,
  st: Stats | null,
): Promise<string> {
  const change = changes.find((x) => x.name === pkg)!;
  const old = change.old;
  if (
    f.type !== "file" || !old || !change.new!.pkg.meta.conffiles.includes(path) ||
    !ctx.db.isConffile(path, old.name) || !st?.isFile()
  ) {
    return path;
  }
  const recorded = ctx.db.ownersOf(path).find((o) => o.package === old.name)?.sha256;
  const onDisk = await diskSha(ctx.root, path);
  if (recorded && onDisk !== recorded && onDisk !== f.sha256) {
    ctx.log(`keeping modified configuration file /${path}; the new one is /${path}.ice-new`);
    return `${path}.ice-new`;
  }
  return path;
}
