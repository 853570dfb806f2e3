/**
 * Staging a planned transaction (journal state "staging"): create the new
 * directories, hard-link a backup of every file that will be replaced or deleted,
 * and extract each package straight from its `.ice` into temporary names beside the
 * final paths — streaming, validated entry by entry, hashed as it is written — then
 * fsync the files and their directories. Nothing visible changes yet; a failure here
 * is rolled back by deleting what was made.
 *
 * ```ts
 * await stageFiles(ctx, plan, changes);
 * ```
 */
import { closeSync, fsync, lstatSync, mkdirSync, openSync, symlinkSync, writeSync } from "node:fs";
import { isAlreadyExists, removeSync } from "./_fs.ts";
import { dirname, join } from "./_path.ts";
import type { ApplyContext, Change, Plan, Put } from "./plan.ts";
import { type ReadHandlers, readPackageFile, readPackageTar } from "./package_read.ts";
import { bytesStream } from "./format/xz.ts";
import { ExitCode, IcePkgError } from "./errors.ts";
import { step } from "./fault.ts";
import { backupOf, fsyncDir, setOwnerMode } from "./_fs.ts";

function makeDirs(ctx: ApplyContext, plan: Plan): void {
  for (const d of plan.mkdirs) {
    const abs = join(ctx.root, d.path);
    try {
      mkdirSync(abs);
    } catch (e) {
      // Made meanwhile by someone else: shared, so left as it is.
      if (isAlreadyExists(e) && lstatSync(abs).isDirectory()) continue;
      throw e;
    }
    setOwnerMode(abs, d.mode, d.uid, d.gid);
  }
  step("mkdirs");
}

function makeBackups(ctx: ApplyContext, plan: Plan): void {
  const root = ctx.root;
  for (const p of plan.puts) if (p.backup) backupOf(join(root, p.path), join(root, p.backup));
  for (const d of plan.dels) if (d.backup) backupOf(join(root, d.path), join(root, d.backup));
  step("backups");
}

function fsyncAsync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fsync(fd, (e) => e ? reject(e) : resolve()));
}

/** Open files waiting for one grouped fsync (the filesystem joins their journal commits). */
class PendingSync {
  #files: { f: number; p: Put }[] = [];
  constructor(private readonly root: string) {}

  async add(f: number, p: Put): Promise<void> {
    this.#files.push({ f, p });
    if (this.#files.length >= 64) await this.flush();
  }

  async flush(): Promise<void> {
    const batch = this.#files;
    this.#files = [];
    await Promise.all(batch.map(({ f }) => fsyncAsync(f)));
    for (const { f, p } of batch) {
      closeSync(f);
      setOwnerMode(join(this.root, p.tmp), p.mode, p.uid, p.gid);
    }
  }

  /** Close everything without syncing (after a failure). */
  abandon(): void {
    for (const { f } of this.#files) {
      try {
        closeSync(f);
      } catch { /* closed */ }
    }
    this.#files = [];
  }
}

/** Extract one package's regular files into their temporary names. */
async function extract(
  ctx: ApplyContext,
  change: Change,
  puts: Map<string, Put>,
  pending: PendingSync,
): Promise<void> {
  const pkg = change.new!.pkg;
  let current: number | undefined;
  try {
    const handlers: ReadHandlers = {
      file(f) {
        const p = puts.get(f.path);
        if (!p) return undefined;
        // Temporary names carry a random token: they cannot exist yet (createNew checks).
        const file = openSync(join(ctx.root, p.tmp), "wx", 0o600);
        current = file;
        return {
          write(c) {
            let off = 0;
            while (off < c.length) off += writeSync(file, c, off, c.length - off);
          },
          async end() {
            current = undefined;
            await pending.add(file, p);
            step(`stage ${p.path}`);
          },
        };
      },
    };
    if (pkg.tar) await readPackageTar(bytesStream(...pkg.tar), { where: pkg.where }, handlers);
    else await readPackageFile(pkg.file, { where: pkg.where, expected: pkg.expected }, handlers);
  } catch (e) {
    if (current !== undefined) closeSync(current);
    if (e instanceof IcePkgError && e.code === ExitCode.Integrity && pkg.dropOnRefusal) {
      try {
        removeSync(pkg.file);
      } catch { /* gone already */ }
    }
    throw e;
  }
}

/** Steps 3 of a transaction: everything short of making it visible (see the module doc). */
export async function stageFiles(ctx: ApplyContext, plan: Plan, changes: Change[]): Promise<void> {
  const root = ctx.root;
  makeDirs(ctx, plan);
  makeBackups(ctx, plan);
  for (const p of plan.puts) {
    if (p.type !== "symlink") continue;
    symlinkSync(p.target!, join(root, p.tmp));
    step(`stage ${p.path}`);
  }
  const pending = new PendingSync(root);
  try {
    for (const c of changes) {
      if (!c.new) continue;
      const mine = new Map(
        plan.puts.filter((p) => p.pkg === c.name && p.type === "file").map((
          p,
        ) => [p.src ?? p.path, p]),
      );
      // Every package is read in full, even one without regular files: what is
      // installed is what was checked.
      await extract(ctx, c, mine, pending);
    }
    await pending.flush();
  } catch (e) {
    pending.abandon();
    throw e;
  }
  for (const d of new Set(plan.puts.map((p) => dirname(p.path)))) fsyncDir(join(root, d));
  step("fsync staged");
}
