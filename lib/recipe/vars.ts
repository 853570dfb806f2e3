/**
 * Board variables in recipe strings: `${ARCH}`, `${TRIPLE}`, `${LDARCH}`. They are
 * the only substitution recipes get (no logic in YAML); an unknown one is an error
 * naming the recipe and field.
 *
 * ```ts
 * expandRecipeVars(recipe, boardVars(board)); // "--host-machine=${ARCH}" -> "--host-machine=x86_64"
 * ```
 */
import type { Board } from "../board.ts";

/** musl's name for the architecture in its loader file (ld-musl-<name>.so.1). */
const MUSL_LDARCH: Record<Board["arch"], string> = {
  x86_64: "x86_64",
  aarch64: "aarch64",
  armv7: "armhf",
};

/** The variables of a board. */
export function boardVars(board: Board): Record<string, string> {
  return { ARCH: board.arch, TRIPLE: board.triple, LDARCH: MUSL_LDARCH[board.arch] };
}

/** Replace `${NAME}` in every string (keys included) of `value`; `where` names the file. */
export function expandRecipeVars<T>(value: T, vars: Record<string, string>, where: string): T {
  const sub = (s: string, path: string) =>
    s.replace(/\$\{([A-Za-z0-9_]*)\}/g, (_, name: string) => {
      if (!(name in vars)) {
        throw new Error(
          `${where}: ${path}: unknown variable \${${name}} (have: ${Object.keys(vars).join(", ")})`,
        );
      }
      return vars[name];
    });
  const walk = (v: unknown, path: string): unknown => {
    if (typeof v === "string") return sub(v, path);
    if (Array.isArray(v)) return v.map((x, i) => walk(x, `${path}.${i}`));
    if (v && typeof v === "object") {
      return Object.fromEntries(
        Object.entries(v).map(([k, x]) => [sub(k, `${path}.${k}`), walk(x, `${path}.${k}`)]),
      );
    }
    return v;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    // Paths of the recipe itself are not recipe content.
    out[k] = k === "dir" || k === "file" ? v : walk(v, k);
  }
  return out as T;
}
