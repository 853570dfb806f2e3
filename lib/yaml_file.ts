/**
 * Load a YAML file and validate it against a zod schema. Every error names the
 * file, line and field, e.g. `boards/rpi.yaml:4: kernel.arch: expected one of ...`.
 *
 * ```ts
 * const board = await loadYamlFile("boards/rpi.yaml", BoardSchema);
 * ```
 */
import { isMap, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";

/** A YAML or schema error with its location. */
export class YamlError extends Error {
  constructor(readonly file: string, readonly line: number, readonly field: string, msg: string) {
    super(`${file}:${line}: ${field ? field + ": " : ""}${msg}`);
    this.name = "YamlError";
  }
}

/** Parse `text` (named `file` in errors) and validate it with `schema`. */
export function parseYaml<T extends z.ZodType>(file: string, text: string, schema: T): z.output<T> {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = lines.linePos(e.pos[0]).line;
    throw new YamlError(file, line, "", e.message.split("\n")[0]);
  }
  const data = doc.toJS();
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue.path.map(String);
  // Unknown keys are reported on the key itself, not on its parent.
  const keys = (issue as { keys?: string[] }).keys;
  const at = issue.code === "unrecognized_keys" && keys ? [...path, keys[0]] : path;
  const line = lineOf(doc, lines, at);
  const field = at.join(".");
  const msg = issue.code === "unrecognized_keys"
    ? `unknown field (allowed: ${allowedKeys(schema, path).join(", ")})`
    : issue.message.replace(/^Invalid input: /, "");
  throw new YamlError(file, line, field, msg);
}

/** Read and validate a YAML file. */
export async function loadYamlFile<T extends z.ZodType>(
  file: string,
  schema: T,
): Promise<z.output<T>> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new Error(`${file}: cannot read: ${(e as Error).message}`);
  }
  return parseYaml(file, text, schema);
}

/** Line of the deepest node of `path` that exists (the key's line for a map entry). */
function lineOf(doc: ReturnType<typeof parseDocument>, lines: LineCounter, path: string[]): number {
  for (let n = path.length; n >= 0; n--) {
    const parentPath = path.slice(0, n - 1);
    const parent = n === 0 ? doc.contents : doc.getIn(parentPath, true);
    if (n > 0 && isMap(parent)) {
      const pair = parent.items.find((p) =>
        String((p.key as { value?: unknown })?.value) === path[n - 1]
      );
      const range = (pair?.key as { range?: number[] })?.range;
      if (range) return lines.linePos(range[0]).line;
    }
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    const range = (node as { range?: number[] } | null)?.range;
    if (range) return lines.linePos(range[0]).line;
  }
  return 1;
}

/** The keys a strict object schema accepts at `path` (for "unknown field" errors). */
function allowedKeys(schema: z.ZodType, path: string[]): string[] {
  // deno-lint-ignore no-explicit-any
  let s: any = schema;
  for (const p of path) {
    s = unwrap(s);
    if (s?.shape?.[p]) s = s.shape[p];
    else if (s?.element) s = s.element;
    else if (s?.def?.valueType) s = s.def.valueType;
    else return [];
  }
  s = unwrap(s);
  return s?.shape ? Object.keys(s.shape) : [];
}

// deno-lint-ignore no-explicit-any
function unwrap(s: any): any {
  while (
    s?.def && (s.def.type === "optional" || s.def.type === "default" || s.def.type === "nullable")
  ) {
    s = s.def.innerType;
  }
  return s;
}
