/**
 * The content-addressed store shared by every checkout of a user (like ccache):
 *
 *   objects/<outputHash>/out/            a stage output, never modified once committed
 *   objects/<outputHash>/manifest.json   its files, modes, hashes, timings
 *   keys/<key>.json                      cache key -> output hash, with the key's inputs
 *   latest/<stage>@<board>.json          the last key record of a stage (for `explain`)
 *   logs/<key>.log                       the full log of the build that made it
 *   tmp/                                 builds in progress (never looked up)
 *   locks/                               one lock file per key being built, and per object
 *                                        being committed
 *   unsynced/<pid>-<rand>.json           a build whose commits are not yet on disk
 *
 * Commit protocol (apk-tools style): build into tmp, scan, rename the tree into
 * objects/, then write the key record by rename. The key record is written last, so
 * an interrupted build leaves at most an unreferenced tmp dir, never a half entry.
 *
 * Durability without an fsync per stage (which costs more than a small stage): before
 * its first commit a build writes an fsync'd marker naming the boot and the time;
 * commits are not synced; when the build ends it syncs the store's file system once
 * (`sync -f`, i.e. syncfs) and removes its marker. A killed process loses nothing (its
 * writes are in the page cache); a marker from an earlier boot means the machine went
 * down before that sync, so the next build re-hashes the objects of the keys recorded
 * since the marker's time and drops the damaged ones (`recover`).
 */
import { join } from "node:path";
import { type Manifest, outputHash, scanTree } from "./manifest.ts";

/** What a key record stores about the inputs that made a key. */
export interface KeyRecord {
  key: string;
  stage: string;
  board: string;
  outputHash: string;
  /** Named parts of the key (input file -> sha256, dep -> output hash, ...). */
  parts: Record<string, string>;
  created: string;
  seconds: number;
}

/** Default store location: ICENET_HOME, else $XDG_CACHE_HOME/icenet, else ~/.cache/icenet. */
export function defaultStoreDir(): string {
  const home = Deno.env.get("ICENET_HOME");
  if (home) return home;
  const xdg = Deno.env.get("XDG_CACHE_HOME") || join(Deno.env.get("HOME") ?? "/tmp", ".cache");
  return join(xdg, "icenet");
}

/** A store rooted at `dir`. */
export class Store {
  constructor(readonly dir: string) {
    for (const d of ["objects", "keys", "latest", "logs", "tmp", "locks", "unsynced"]) {
      Deno.mkdirSync(join(dir, d), { recursive: true });
    }
  }

  #marker?: Promise<string>;

  /** Before the first unsynced commit of this process: write the marker, durably. */
  #beginWrites(): Promise<string> {
    this.#marker ??= (async () => {
      const path = join(
        this.dir,
        "unsynced",
        `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}.json`,
      );
      const marker: UnsyncedMarker = { boot: bootId(), since: new Date().toISOString() };
      await writeFileAtomic(path, JSON.stringify(marker));
      return path;
    })();
    return this.#marker;
  }

  /** Make every commit of this process durable (one syncfs) and drop the marker. */
  async sync(): Promise<void> {
    if (!this.#marker) return;
    const marker = await this.#marker;
    this.#marker = undefined;
    const r = await new Deno.Command("sync", { args: ["-f", this.dir], stderr: "piped" })
      .output();
    if (!r.success) {
      throw new Error(`sync -f ${this.dir}: ${new TextDecoder().decode(r.stderr).trim()}`);
    }
    await Deno.remove(marker);
  }

  /**
   * Markers left by builds of an earlier boot: re-hash the objects of the keys recorded
   * since then and drop the damaged keys and objects. Returns the keys dropped.
   */
  async recover(): Promise<string[]> {
    const dropped: string[] = [];
    const boot = bootId();
    for await (const e of Deno.readDir(join(this.dir, "unsynced"))) {
      const path = join(this.dir, "unsynced", e.name);
      const m = await readJson<UnsyncedMarker>(path);
      if (m?.boot === boot) continue; // a running build, or a killed one (nothing lost)
      for await (const k of Deno.readDir(join(this.dir, "keys"))) {
        const keyPath = join(this.dir, "keys", k.name);
        const rec = await readJson<KeyRecord>(keyPath);
        if (rec && m && rec.created < m.since) continue;
        const files = rec && await scanTree(this.objectOut(rec.outputHash)).catch(() => undefined);
        if (rec && files && outputHash(files) === rec.outputHash) continue;
        await Deno.remove(keyPath).catch(() => {});
        if (rec) {
          await Deno.remove(join(this.dir, "objects", rec.outputHash), { recursive: true })
            .catch(() => {});
        }
        dropped.push(k.name.replace(/\.json$/, ""));
      }
      await Deno.remove(path).catch(() => {});
    }
    return dropped;
  }

  /** Output directory of an object. */
  objectOut(hash: string): string {
    return join(this.dir, "objects", hash, "out");
  }

  logPath(key: string): string {
    return join(this.dir, "logs", `${key}.log`);
  }

  /** The key record, if the key is built and its object is present. */
  lookup(key: string): KeyRecord | undefined {
    const rec = readJson<KeyRecord>(join(this.dir, "keys", `${key}.json`));
    if (!rec) return undefined;
    try {
      Deno.statSync(join(this.dir, "objects", rec.outputHash, "manifest.json"));
    } catch {
      return undefined; // object collected or damaged: rebuild
    }
    return rec;
  }

  /** The last key record of a stage on a board. */
  latest(stage: string, board: string): Promise<KeyRecord | undefined> {
    return Promise.resolve(readJson<KeyRecord>(join(this.dir, "latest", latestName(stage, board))));
  }

  /** The manifest of an object. */
  manifest(hash: string): Promise<Manifest | undefined> {
    return Promise.resolve(readJson<Manifest>(join(this.dir, "objects", hash, "manifest.json")));
  }

  /** A fresh tmp dir for a build. */
  makeTmp(label: string): string {
    return Deno.makeTempDirSync({
      dir: join(this.dir, "tmp"),
      prefix: `${label.replace(/[^\w.-]/g, "_")}-`,
    });
  }

  /**
   * Take the build lock of a key (waits while another process builds it).
   * Returns the lock; close it to release.
   */
  async lockKey(key: string): Promise<Deno.FsFile> {
    const f = Deno.openSync(join(this.dir, "locks", `${key}.lock`), {
      create: true,
      write: true,
    });
    await f.lock(true);
    return f;
  }

  /** Shared lock on the whole store (builds); `gc` takes it exclusively. */
  async lockStore(exclusive: boolean): Promise<Deno.FsFile> {
    const f = await Deno.open(join(this.dir, "store.lock"), { create: true, write: true });
    await f.lock(exclusive);
    return f;
  }

  /**
   * Commit a finished output directory: scan it, move it into objects/ (or drop it
   * if an identical object exists), then record the key. Returns the manifest.
   * With `expect` (an output downloaded from a remote cache), a tree that does not
   * hash to it is refused before anything is moved or recorded.
   */
  async commit(
    outDir: string,
    rec: Omit<KeyRecord, "outputHash" | "created">,
    info: Record<string, unknown>,
    started: Date,
    expect?: string,
  ): Promise<Manifest> {
    const files = await scanTree(outDir);
    const hash = outputHash(files);
    if (expect !== undefined && hash !== expect) {
      throw new Error(`${rec.stage}@${rec.board}: output hashes to ${hash}, expected ${expect}`);
    }
    const manifest: Manifest = {
      stage: rec.stage,
      board: rec.board,
      outputHash: hash,
      files,
      timings: { started: started.toISOString(), seconds: rec.seconds },
      info,
    };
    const objDir = join(this.dir, "objects", hash);
    // Different keys can make the same output (two builds, or two stages of one): their
    // commits meet here, so one at a time moves it in and the others drop their copy.
    using _object = await this.lockKey(`object-${hash}`);
    if (!exists(join(objDir, "manifest.json"))) {
      const staging = `${outDir}.obj`;
      Deno.mkdirSync(staging);
      Deno.renameSync(outDir, join(staging, "out"));
      await writeFileAtomic(join(staging, "manifest.json"), JSON.stringify(manifest, null, 1), {
        sync: false,
      });
      if (exists(objDir)) await Deno.remove(objDir, { recursive: true }); // a damaged leftover
      Deno.renameSync(staging, objDir);
    } else {
      await Deno.remove(outDir, { recursive: true });
    }
    await this.#beginWrites();
    const record: KeyRecord = { ...rec, outputHash: hash, created: new Date().toISOString() };
    // Not synced here: the build's final sync() makes it durable (see the top).
    await writeFileAtomic(
      join(this.dir, "keys", `${rec.key}.json`),
      JSON.stringify(record, null, 1),
      { sync: false },
    );
    await writeFileAtomic(
      join(this.dir, "latest", latestName(rec.stage, rec.board)),
      JSON.stringify(record, null, 1),
      { sync: false },
    );
    return manifest;
  }

  /** Record a cache hit as the latest build of a stage (so `explain` compares with it). */
  async touchLatest(rec: KeyRecord): Promise<void> {
    const path = join(this.dir, "latest", latestName(rec.stage, rec.board));
    const cur = await readJson<KeyRecord>(path);
    if (cur?.key !== rec.key) {
      await writeFileAtomic(path, JSON.stringify(rec, null, 1), { sync: false });
    }
  }

  /** All key records. */
  async keys(): Promise<KeyRecord[]> {
    const out: KeyRecord[] = [];
    for await (const e of Deno.readDir(join(this.dir, "keys"))) {
      if (!e.name.endsWith(".json")) continue;
      const rec = await readJson<KeyRecord>(join(this.dir, "keys", e.name));
      if (rec) out.push(rec);
    }
    return out;
  }

  /**
   * Keep the newest `keep` keys per stage and board; delete the rest, then every
   * object no key refers to, stale tmp dirs and their logs. Takes the store lock
   * exclusively, so it never races a build.
   */
  async gc(keep: number): Promise<{ keys: number; objects: number; bytes: number }> {
    using _lock = await this.lockStore(true);
    const groups = new Map<string, KeyRecord[]>();
    for (const r of await this.keys()) {
      const g = `${r.stage}@${r.board}`;
      groups.set(g, [...(groups.get(g) ?? []), r]);
    }
    let keys = 0;
    const live = new Set<string>();
    for (const recs of groups.values()) {
      recs.sort((a, b) => b.created.localeCompare(a.created));
      for (const [i, r] of recs.entries()) {
        if (i < keep) {
          live.add(r.outputHash);
          continue;
        }
        await Deno.remove(join(this.dir, "keys", `${r.key}.json`));
        await Deno.remove(this.logPath(r.key)).catch(() => {});
        keys++;
      }
    }
    let objects = 0, bytes = 0;
    for await (const e of Deno.readDir(join(this.dir, "objects"))) {
      if (live.has(e.name)) continue;
      const m = await this.manifest(e.name);
      bytes += m?.files.reduce((n, f) => n + (f.type === "file" ? f.size : 0), 0) ?? 0;
      await Deno.remove(join(this.dir, "objects", e.name), { recursive: true });
      objects++;
    }
    for await (const e of Deno.readDir(join(this.dir, "tmp"))) {
      await Deno.remove(join(this.dir, "tmp", e.name), { recursive: true });
    }
    return { keys, objects, bytes };
  }

  /** Re-hash every object and compare with its manifest; returns the damaged ones. */
  async verify(): Promise<{ hash: string; problem: string }[]> {
    const damaged: { hash: string; problem: string }[] = [];
    for await (const e of Deno.readDir(join(this.dir, "objects"))) {
      const m = await this.manifest(e.name);
      if (!m) {
        damaged.push({ hash: e.name, problem: "manifest.json missing or unreadable" });
        continue;
      }
      const files = await scanTree(this.objectOut(e.name)).catch(() => undefined);
      if (!files) {
        damaged.push({ hash: e.name, problem: "output directory unreadable" });
        continue;
      }
      if (outputHash(files) !== e.name) {
        const want = new Map(m.files.map((f) => [f.path, JSON.stringify(f)]));
        const have = new Map(files.map((f) => [f.path, JSON.stringify(f)]));
        const diff = [...new Set([...want.keys(), ...have.keys()])]
          .filter((p) => want.get(p) !== have.get(p)).slice(0, 5);
        damaged.push({
          hash: e.name,
          problem: `${m.stage}@${m.board}: changed: ${diff.join(", ")}`,
        });
      }
    }
    return damaged;
  }
}

interface UnsyncedMarker {
  boot: string;
  since: string;
}

/** This boot of the machine (a marker from another boot survived a crash). */
function bootId(): string {
  try {
    return Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
  } catch {
    return "unknown";
  }
}

function latestName(stage: string, board: string): string {
  return `${stage.replace(/[^\w.-]/g, "_")}@${board}.json`;
}

// The store's metadata operations are synchronous: each takes microseconds, while an
// async op costs a thread-pool round trip — more than a small stage's whole run.
function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(path)) as T;
  } catch {
    return undefined;
  }
}

/** Write a file by write-to-temp, fsync, rename: readers see the old or the new file. */
export function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  { sync = true } = {},
): Promise<void> {
  const tmp = `${path}.tmp-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  {
    using f = Deno.openSync(tmp, { write: true, create: true, truncate: true });
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
    let off = 0;
    while (off < bytes.length) off += f.writeSync(bytes.subarray(off));
    if (sync) f.syncSync();
  }
  Deno.renameSync(tmp, path);
  return Promise.resolve();
}
