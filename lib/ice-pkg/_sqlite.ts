/**
 * SQLite for both runtimes ice-pkg runs on: `node:sqlite` where it exists (Deno, and
 * Node 22.5 or later), else node-sqlite3-wasm (SQLite compiled to WebAssembly with
 * real file I/O and fsync) for Node 20, the runtime of 32-bit ARM boards. The wasm
 * build is shipped beside the bundle (`sqlite3/node-sqlite3-wasm.js`, see
 * tasks/ice-pkg.ts) and is not bundled: it loads its .wasm from its own directory.
 *
 * Only what db.ts and owner.ts use is exposed: exec, prepare and run/get/all with
 * positional parameters.
 *
 * ```ts
 * const db = openSqlite("/r/var/lib/ice-pkg/db.sqlite");
 * db.prepare("SELECT * FROM packages WHERE name = ?").get("busybox");
 * ```
 */

type Param = string | number | bigint | null | Uint8Array;

export interface SqliteStatement {
  run(...params: Param[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  /** The first row, or undefined. */
  get(...params: Param[]): Record<string, unknown> | undefined;
  all(...params: Param[]): Record<string, unknown>[];
}

export interface SqliteDb {
  exec(sql: string): void;
  prepare(sql: string): SqliteStatement;
  close(): void;
}

type Native = new (path: string) => SqliteDb;

/**
 * node:sqlite's class, or null on a runtime without it (Node 20). Loaded once, by a
 * dynamic import: a static `node:module` or `node:process` import costs Deno 20 to 40 ms
 * at start, which `ice-pkg owner` would pay on every call.
 */
const native: Native | null = await import("node:sqlite").then(
  (m) => m.DatabaseSync as unknown as Native,
  () => null,
);
/** CommonJS loading for the wasm build, on Node only. */
const createRequire = native ? undefined : (await import("node:module")).createRequire;

/** node-sqlite3-wasm's API, the part used here. */
interface WasmStatement {
  run(values: Param[]): { changes: number; lastInsertRowid: number | bigint };
  get(values: Param[]): Record<string, unknown> | null;
  all(values: Param[]): Record<string, unknown>[];
  finalize(): void;
}
interface WasmDb {
  exec(sql: string): void;
  prepare(sql: string): WasmStatement;
  close(): void;
}

/**
 * The wasm build behind the node:sqlite interface. Its statements hold wasm memory
 * until finalized, so the connection finalizes them all when it closes. Its file
 * layer has no shared memory, which WAL needs unless the connection locks the file
 * exclusively: so it does (ice-pkg runs one at a time anyway, see lock.ts), and
 * databases written by Deno (WAL, e.g. at image build time) open unchanged.
 */
class WasmSqlite implements SqliteDb {
  readonly #db: WasmDb;
  readonly #statements: WasmStatement[] = [];

  constructor(path: string) {
    const dir = new URL("./sqlite3/node-sqlite3-wasm.js", import.meta.url);
    const load = createRequire!(import.meta.url);
    const { Database } = load(dir.pathname) as { Database: new (p: string) => WasmDb };
    this.#db = new Database(path);
    this.#db.exec("PRAGMA locking_mode=EXCLUSIVE");
  }

  exec(sql: string): void {
    this.#db.exec(sql);
  }

  prepare(sql: string): SqliteStatement {
    const s = this.#db.prepare(sql);
    this.#statements.push(s);
    return {
      run: (...p) => s.run(p),
      get: (...p) => s.get(p) ?? undefined,
      all: (...p) => s.all(p),
    };
  }

  close(): void {
    for (const s of this.#statements.splice(0)) s.finalize();
    this.#db.close();
  }
}

/** Open (creating if needed) the database file at `path`. */
export function openSqlite(path: string): SqliteDb {
  return native ? new native(path) : new WasmSqlite(path);
}
