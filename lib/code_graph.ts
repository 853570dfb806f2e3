/**
 * A stage's code is what its defining module *is*: every local module it reaches
 * through imports that run code (static or dynamic; type-only imports are erased),
 * and the npm packages among them at the versions deno resolved — read from
 * `deno info --json`, never from a hand-kept list (Nix's lesson: a key names what
 * the builder is, not what we remember it imports).
 *
 * The graph of each root is cached in the store with the stat of every file in it
 * (path, size, mtime, inode), like the file-hash cache: while none of them changed,
 * neither did the graph, and a no-op build runs no `deno info`.
 *
 * ```ts
 * const graphs = CodeGraphs.inStore(storeDir);
 * const { files, npm } = await graphs.closure("/src/tasks/kernel.ts");
 * ```
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "./store.ts";

/** The code closure of one root module. */
export interface CodeClosure {
  /** Absolute paths of the local modules, sorted, the root included. */
  files: string[];
  /** npm packages reached, transitively, as `name@version`, sorted. */
  npm: string[];
}

/**
 * Modules a stage never runs, though its module imports them: the CLI is how a stage
 * module is started on its own (`deno run tasks/kernel.ts`), not what run() executes.
 */
const NOT_STAGE_CODE = [fileURLToPath(new URL("./cli.ts", import.meta.url))];

type Stat = [size: number, mtimeMs: number, ino: number];
interface CachedGraph extends CodeClosure {
  stats: Record<string, Stat>;
}

/** `deno info --json` output, the parts read here. */
interface DenoInfo {
  roots: string[];
  modules: {
    specifier: string;
    kind?: string;
    error?: string;
    local?: string;
    dependencies?: {
      specifier: string;
      code?: { specifier?: string; error?: string };
      isDynamic?: boolean;
    }[];
  }[];
  redirects: Record<string, string>;
  npmPackages: Record<string, { name: string; version: string; dependencies: string[] }>;
}

/** Import-graph closures, cached by the stat of their files. */
export class CodeGraphs {
  #cache: Record<string, CachedGraph> = {};
  #pending = new Map<string, Promise<CodeClosure>>();
  #dirty = false;

  constructor(readonly file?: string) {
    if (!file) return;
    try {
      this.#cache = JSON.parse(Deno.readTextFileSync(file));
    } catch { /* first run or unreadable: start empty */ }
  }

  /** The cache kept in a store dir. */
  static inStore(storeDir: string): CodeGraphs {
    return new CodeGraphs(join(storeDir, "code-graphs.v2.json"));
  }

  /** The closure of `root` (an absolute path); one `deno info` per root and change. */
  closure(root: string): Promise<CodeClosure> {
    let p = this.#pending.get(root);
    if (!p) {
      p = this.#closure(root);
      this.#pending.set(root, p);
      p.catch(() => this.#pending.delete(root));
    }
    return p;
  }

  async #closure(root: string): Promise<CodeClosure> {
    const cached = this.#cache[root];
    if (cached && Object.entries(cached.stats).every(([f, s]) => sameStat(f, s))) {
      return { files: cached.files, npm: cached.npm };
    }
    // The config and lock decide how bare and npm specifiers resolve. Stat them before
    // `deno info`: one rewritten while it ran (a git merge, deno adding to the lock) gave
    // a graph without its npm packages, and that graph then stayed cached.
    const [denoJson, ...lock] = configFiles(root);
    const config = Object.fromEntries(
      [denoJson, ...lock].filter(Boolean).map((f) => [f, statOf(f)!]),
    );
    const graph = closureOf(root, await denoInfo(root, denoJson));
    if (Object.entries(config).some(([f, s]) => !sameStat(f, s))) return graph; // not cached
    const stats: Record<string, Stat> = { ...config };
    for (const f of graph.files) stats[f] = statOf(f)!;
    this.#cache[root] = { ...graph, stats };
    this.#dirty = true;
    return graph;
  }

  /** Persist (atomically) if anything changed. */
  async save(): Promise<void> {
    if (!this.file || !this.#dirty) return;
    await writeFileAtomic(this.file, JSON.stringify(this.#cache), { sync: false });
    this.#dirty = false;
  }
}

/** Follow code edges from the root; stop at NOT_STAGE_CODE. */
export function closureOf(root: string, info: DenoInfo): CodeClosure {
  const bySpecifier = new Map(info.modules.map((m) => [m.specifier, m]));
  const resolve = (s: string) => info.redirects[s] ?? s;
  const files = new Set<string>();
  const npmRoots = new Set<string>();
  const stack = info.roots.map(resolve);
  const seen = new Set<string>();
  while (stack.length) {
    const spec = stack.pop()!;
    if (seen.has(spec)) continue;
    seen.add(spec);
    if (spec.startsWith("npm:")) {
      // "npm:/zod@4.6.7" (deno info's resolved form) or "npm:/zod@4.6.7/sub/path".
      const m = spec.match(/^npm:\/?((?:@[^/]+\/)?[^/@]+@[^/]+)/);
      if (m) npmRoots.add(m[1]);
      continue;
    }
    if (!spec.startsWith("file:")) continue; // node: built-ins come with the runtime
    const path = fileURLToPath(spec);
    if (NOT_STAGE_CODE.includes(path) && path !== root) continue;
    const mod = bySpecifier.get(spec);
    if (!mod || mod.error) {
      throw new Error(`code graph of ${root}: cannot read ${spec}: ${mod?.error ?? "missing"}`);
    }
    files.add(path);
    for (const d of mod.dependencies ?? []) {
      // An import deno could not resolve would drop its whole subgraph from the key.
      if (d.code?.error) {
        throw new Error(`code graph of ${root}: ${path} imports "${d.specifier}": ${d.code.error}`);
      }
      if (d.code?.specifier) stack.push(resolve(d.code.specifier));
    }
  }
  const npm = new Set<string>();
  const visitNpm = (id: string) => {
    if (npm.has(id)) return;
    const pkg = info.npmPackages[id];
    if (!pkg) throw new Error(`code graph of ${root}: npm package ${id} is not resolved`);
    npm.add(`${pkg.name}@${pkg.version}`);
    for (const d of pkg.dependencies) visitNpm(d);
  };
  for (const id of npmRoots) visitNpm(id);
  return { files: [...files].sort(), npm: [...npm].sort() };
}

/**
 * Run `deno info --json` on a module, offline when the cache holds everything. Under the
 * project's config (deno resolves bare and npm specifiers from the config it finds from
 * its working directory, not from the module's), whatever the caller's directory.
 */
async function denoInfo(root: string, config?: string): Promise<DenoInfo> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "--frozen", ...(config ? ["--config", config] : []), root],
    cwd: config ? dirname(config) : undefined,
    env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(
      `deno info ${root}: ${new TextDecoder().decode(out.stderr).trim().split("\n")[0]}`,
    );
  }
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** deno.json and deno.lock of the project holding `module` (the nearest deno.json above). */
function configFiles(module: string): string[] {
  for (let dir = dirname(module); dir !== dirname(dir); dir = dirname(dir)) {
    if (statOf(join(dir, "deno.json"))) {
      return [join(dir, "deno.json"), join(dir, "deno.lock")].filter((f) => statOf(f));
    }
  }
  return [];
}

function statOf(path: string): Stat | undefined {
  try {
    const st = Deno.statSync(path);
    return [st.size, st.mtime?.getTime() ?? 0, st.ino ?? 0];
  } catch {
    return undefined;
  }
}

function sameStat(path: string, s: Stat): boolean {
  const now = statOf(path);
  // A file changed within the last 2 s may change again within the same mtime tick.
  return !!now && now[0] === s[0] && now[1] === s[1] && now[2] === s[2] &&
    Date.now() - now[1] > 2000;
}
