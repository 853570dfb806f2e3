/**
 * Dependency expressions: `name`, `name>=1.2`, `name<2`, `name=1.0-r1`, ...
 * Used for depends, provides, conflicts and command-line requests.
 *
 * ```ts
 * const d = parseDep("musl>=1.2.3");
 * satisfies(d, "1.2.4-r0"); // true
 * ```
 */
import { compareVersions } from "./version.ts";

/** A comparison operator of a constraint. */
export type Op = ">=" | "<=" | "<" | ">" | "=";

/** A parsed dependency: a name and an optional version constraint. */
export interface Dep {
  name: string;
  op?: Op;
  version?: string;
}

const DEP_RE = /^([a-z0-9][a-z0-9._+-]*?)(?:(>=|<=|<|>|=)([0-9][0-9A-Za-z.+_~-]*))?$/;

/** Package name syntax. */
export const NAME_RE = /^[a-z0-9][a-z0-9._+-]*$/;

/** Parse `name[op version]`; throws naming the expression if it is malformed. */
export function parseDep(expr: string): Dep {
  const m = expr.trim().match(DEP_RE);
  if (!m) {
    throw new Error(`bad dependency ${JSON.stringify(expr)}: expected name[>=|<=|<|>|=version]`);
  }
  return m[2] ? { name: m[1], op: m[2] as Op, version: m[3] } : { name: m[1] };
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
