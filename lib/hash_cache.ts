/**
 * File hashes cached by (path, size, mtime, inode), like git's index and ccache's
 * direct mode: a no-op rebuild stats input files instead of re-reading them.
 */
import { join } from "node:path";
import { sha256File } from "./hash.ts";
import { writeFileAtomic } from "./store.ts";

type Entry = [size: number, mtimeMs: number, ino: number, sha256: string];

/** A persistent map path -> sha256, trusted while size, mtime and inode match. */
export class FileHashCache {
  #entries = new Map<string, Entry>();
  #dirty = false;
  constructor(readonly file?: string) {
    if (!file) return;
    try {
      this.#entries = new Map(Object.entries(JSON.parse(Deno.readTextFileSync(file))));
    } catch { /* first run or unreadable: start empty */ }
  }

  /** Open the cache kept in a store dir. */
  static inStore(storeDir: string): FileHashCache {
    return new FileHashCache(join(storeDir, "file-hashes.json"));
  }

  /** sha256 of a file, from the cache when its stat matches. */
  async hash(path: string): Promise<string> {
    const st = Deno.statSync(path);
    const mtime = st.mtime?.getTime() ?? 0;
    const e = this.#entries.get(path);
    // A file modified within the last 2 s may change again within the same mtime tick.
    if (
      e && e[0] === st.size && e[1] === mtime && e[2] === (st.ino ?? 0) && Date.now() - mtime > 2000
    ) {
      return e[3];
    }
    const h = await sha256File(path);
    this.#entries.set(path, [st.size, mtime, st.ino ?? 0, h]);
    this.#dirty = true;
    return h;
  }

  /** Persist (atomically) if anything changed. */
  async save(): Promise<void> {
    if (!this.file || !this.#dirty) return;
    // Unsynced: a cache; an entry is only trusted while the file's stat matches it.
    await writeFileAtomic(this.file, JSON.stringify(Object.fromEntries(this.#entries)), {
      sync: false,
    });
    this.#dirty = false;
  }
}
