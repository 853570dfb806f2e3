/**
 * Dependency resolution: from the requested names (the "world") to one candidate per
 * package name, honouring version constraints, provides and conflicts. An
 * unsatisfiable request fails with the chain of dependencies that leads to it.
 *
 * The strategy is greedy with restarts: walk dependencies breadth-first, pick the
 * preferred candidate for each name; when a later constraint rules out an earlier
 * pick, remember the constraint and start over. Small repositories (hundreds of
 * packages) resolve in a few passes.
 *
 * ```ts
 * const picked = resolve([parseDep("app")], universe, { prefer: "installed" });
 * ```
 */
import { type Dep, formatDep, parseDep, satisfies } from "./dep.ts";
import { compareVersions } from "./version.ts";
import { ExitCode, IcePkgError } from "./errors.ts";

/** A package that could be installed (from a repository, the cache, or already installed). */
export interface Candidate {
  name: string;
  version: string;
  depends: string[];
  provides: string[];
  conflicts: string[];
  /** True for the currently installed version. */
  installed: boolean;
}

/** Options of {@linkcode resolve}. */
export interface ResolveOptions {
  /** "installed": keep installed versions when they satisfy; "newest": always the newest. */
  prefer: "installed" | "newest";
}

/** Does candidate `c` satisfy `d` (by its name or a versioned provides)? */
export function candidateSatisfies(c: Candidate, d: Dep): boolean {
  if (c.name === d.name) return satisfies(d, c.version);
  for (const p of c.provides) {
    const pd = parseDep(p);
    if (pd.name !== d.name) continue;
    if (!d.op) return true;
    if (pd.op === "=" && pd.version && satisfies(d, pd.version)) return true;
  }
  return false;
}

function id(c: Candidate): string {
  return `${c.name}-${c.version}`;
}

interface Need {
  dep: Dep;
  chain: string[];
}

function describe(n: Need): string {
  return [...n.chain, formatDep(n.dep)].join(" -> ");
}

/**
 * Pick one candidate per needed package. `universe` lists every available
 * candidate. Throws (exit code 3) naming the failing chain, or a conflict.
 */
export function resolve(
  requests: Dep[],
  universe: Candidate[],
  opts: ResolveOptions,
): Map<string, Candidate> {
  const byProvided = new Map<string, Candidate[]>();
  for (const c of universe) {
    const names = new Set([c.name, ...c.provides.map((p) => parseDep(p).name)]);
    for (const n of names) {
      const list = byProvided.get(n) ?? [];
      list.push(c);
      byProvided.set(n, list);
    }
  }
  const pins = new Map<string, Need[]>();
  for (let pass = 0; pass < 200; pass++) {
    const chosen = new Map<string, Candidate>();
    const seen = new Map<string, Need[]>();
    const queue: Need[] = requests.map((dep) => ({ dep, chain: ["world"] }));
    let restart = false;
    while (queue.length) {
      const need = queue.shift()!;
      const name = need.dep.name;
      const needs = [...(seen.get(name) ?? []), need];
      seen.set(name, [...(seen.get(name) ?? []), need]);
      if ([...chosen.values()].some((c) => candidateSatisfies(c, need.dep))) continue;
      const pool = byProvided.get(name) ?? [];
      // Pins are keyed by real package name: constraints learned in earlier passes.
      const ok = pool.filter((c) =>
        needs.every((n) => candidateSatisfies(c, n.dep)) &&
        (pins.get(c.name) ?? []).every((n) => candidateSatisfies(c, n.dep))
      );
      if (!ok.length) {
        const avail = pool.map(id).join(", ") || "none";
        const other = [...needs, ...pool.flatMap((c) => pins.get(c.name) ?? [])]
          .find((n) => n !== need && n.dep.op);
        throw new IcePkgError(
          `unsatisfiable: ${describe(need)} (available: ${avail})` +
            (other ? `; also required: ${describe(other)}` : ""),
          ExitCode.Unsatisfiable,
        );
      }
      ok.sort((a, b) =>
        Number(b.name === name) - Number(a.name === name) ||
        (opts.prefer === "installed" ? Number(b.installed) - Number(a.installed) : 0) ||
        compareVersions(b.version, a.version)
      );
      const pick = ok[0];
      const prev = chosen.get(pick.name);
      if (prev) {
        // An earlier pick of this package does not satisfy this need: pin and retry.
        pins.set(prev.name, [...(pins.get(prev.name) ?? []), need]);
        restart = true;
        break;
      }
      chosen.set(pick.name, pick);
      for (const d of pick.depends) {
        queue.push({ dep: parseDep(d), chain: [...need.chain, id(pick)] });
      }
    }
    if (restart) continue;
    checkConflicts(chosen);
    return chosen;
  }
  throw new IcePkgError(
    "unsatisfiable: resolution did not settle after 200 passes",
    ExitCode.Unsatisfiable,
  );
}

function checkConflicts(chosen: Map<string, Candidate>): void {
  for (const c of chosen.values()) {
    for (const expr of c.conflicts) {
      const d = parseDep(expr);
      for (const other of chosen.values()) {
        if (other !== c && candidateSatisfies(other, d)) {
          throw new IcePkgError(
            `conflict: ${id(c)} conflicts with ${id(other)} (${expr})`,
            ExitCode.Unsatisfiable,
          );
        }
      }
    }
  }
}
