/**
 * Dependency expressions: `name`, `name>=1.2`, `name<2`, `name=1.0-r1`, ...
 * Used for depends, provides, conflicts and command-line requests.
 *
 * ```ts
 * const d = parseDep("musl>=1.2.3");
 * satisfies(d, "1.2.4-r0"); // true
 * ```
 */
import { compareVersions, isValidVersion } from "./version.ts";
import { ExitCode, IcePkgError } from "./errors.ts";

/** A comparison operator of a constraint. */
export type Op = ">=" | "<=" | "<" | ">" | "=";

/** A parsed dependency: a name and an optional version constraint. */
export interface Dep {
  name: string;
  op?: Op;
  version?: string;
}

const DEP_RE = /^([a-z0-9][a-z0-9._+-]*?)(?:(>=|<=|<|>|=)(\S+))?$/;

/** Package name syntax. */
export const NAME_RE = /^[a-z0-9][a-z0-9._+-]*$/;

/**
 * Parse `name[op version]`; throws (exit code 2) naming the expression if it is
 * malformed. The version is `upstream` or `upstream-rN`: any other "-" is refused
 * rather than read as part of a version (`foo>=1.0-2` means nothing here).
 */
export function parseDep(expr: string): Dep {
  const m = expr.trim().match(DEP_RE);
  const bad = (why: string) =>
    new IcePkgError(`bad dependency ${JSON.stringify(expr)}: ${why}`, ExitCode.Usage);
  if (!m) throw bad("expected name[>=|<=|<|>|=version]");
  if (!m[2]) return { name: m[1] };
  if (!isValidVersion(m[3])) {
    throw bad(
      `${JSON.stringify(m[3])} is not a version (upstream or upstream-rN, like 1.2.3 or 1.2.3-r1)`,
    );
  }
  return { name: m[1], op: m[2] as Op, version: m[3] };
}

/** Render a dependency back to its text form. */
export function formatDep(d: Dep): string {
  return d.op ? `${d.name}${d.op}${d.version}` : d.name;
}

/**
 * Does `version` satisfy the constraint of `d`? A constraint without `-rN` matches
 * any release of that upstream version for `=` (like apk's `=1.2` matching `1.2-r3`).
 */
export function satisfies(d: Dep, version: string): boolean {
  if (!d.op || d.version === undefined) return true;
  const hasRelease = /-r\d+$/.test(d.version);
  const v = hasRelease ? version : version.replace(/-r\d+$/, "");
  const c = compareVersions(v, d.version);
  switch (d.op) {
    case ">=":
      return c >= 0;
    case "<=":
      return c <= 0;
    case "<":
      return c < 0;
    case ">":
      return c > 0;
    case "=":
      return c === 0;
  }
}
