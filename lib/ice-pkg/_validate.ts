/**
 * A small validator for untrusted JSON (package metadata, repository indexes): each
 * check records `<field path>: <problem>` and returns a clean value, so one pass
 * reports every bad field. Hand-written instead of zod on ice-pkg's own path: zod
 * costs ~12 MB of RSS and ~15 ms at every start, which the device cannot spare.
 *
 * ```ts
 * const v = new Validator();
 * const o = v.object(json, "", ["name"]);
 * const name = v.string(o?.name, "name", { re: /^[a-z]+$/ });
 * if (v.issues.length) throw new Error(v.issues.join("; "));
 * ```
 */

/** How a string is checked. */
export interface StringRule {
  /** Pattern it must match, and what to say if it does not. */
  re?: RegExp;
  reMessage?: string;
  /** A further check: returns the problem, or undefined. */
  check?: (s: string) => string | undefined;
  /** At least one character. */
  nonEmpty?: boolean;
}

/** Collects the problems of one value. */
export class Validator {
  readonly issues: string[] = [];

  /** Record a problem at `path`. */
  fail(path: string, problem: string): void {
    this.issues.push(`${path || "(top)"}: ${problem}`);
  }

  /** A plain object with only the `fields` given (unknown fields are problems). */
  object(v: unknown, path: string, fields: string[]): Record<string, unknown> | undefined {
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
      this.fail(path, `expected an object, got ${kind(v)}`);
      return undefined;
    }
    for (const k of Object.keys(v)) {
      if (!fields.includes(k)) this.fail(join(path, k), "unknown field");
    }
    return v as Record<string, unknown>;
  }

  /** A string following `rule`. */
  string(v: unknown, path: string, rule: StringRule = {}): string {
    if (typeof v !== "string") {
      this.fail(path, `expected a string, got ${kind(v)}`);
      return "";
    }
    if (rule.nonEmpty && v === "") this.fail(path, "empty");
    else if (rule.re && !rule.re.test(v)) {
      this.fail(path, rule.reMessage ?? `does not match ${rule.re}`);
    } else {
      const problem = rule.check?.(v);
      if (problem) this.fail(path, problem);
    }
    return v;
  }

  /** An integer in [min, max]. */
  int(v: unknown, path: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    if (typeof v !== "number" || !Number.isSafeInteger(v)) {
      this.fail(path, `expected an integer, got ${kind(v)}`);
      return 0;
    }
    if (v < min || v > max) this.fail(path, `expected ${min}..${max}, got ${v}`);
    return v;
  }

  /** One of `values`. */
  oneOf<T extends string | number>(v: unknown, path: string, values: readonly T[]): T {
    if (!values.includes(v as T)) {
      this.fail(path, `expected one of ${values.map((x) => JSON.stringify(x)).join(", ")}`);
    }
    return v as T;
  }

  /** An array whose items each pass `item`. */
  array<T>(v: unknown, path: string, item: (x: unknown, path: string) => T): T[] {
    if (!Array.isArray(v)) {
      this.fail(path, `expected an array, got ${kind(v)}`);
      return [];
    }
    return v.map((x, i) => item(x, join(path, String(i))));
  }
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

function kind(v: unknown): string {
  return v === null ? "null" : Array.isArray(v) ? "an array" : typeof v;
}
