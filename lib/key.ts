/**
 * Cache keys (Nix style): sha256 over a canonical serialisation of everything a
 * stage declared — its code (every module its defining module imports, and the npm
 * packages among them: lib/code_graph.ts), the runtime that runs it, input files'
 * contents, parameters, the board fields it uses, its dependencies' *output* hashes,
 * its sources' sha256 and its host tools' identity. Nothing undeclared enters. The
 * parts are kept by name so `explain` can say which one changed.
 */
import { join, relative } from "node:path";
import type { Board } from "./board.ts";
import { expandInputs } from "./glob.ts";
import { CodeGraphs } from "./code_graph.ts";
import { canonicalJson, hashKey, sha256 } from "./hash.ts";
import { FileHashCache } from "./hash_cache.ts";
import type { Stage } from "./stage.ts";
import { toolIdentity } from "./tools.ts";

/** The named parts of a key and the key itself. */
export interface StageKey {
  key: string;
  parts: Record<string, string>;
  /** Absolute paths of the expanded inputs, by relative path. */
  inputs: Record<string, string>;
}

/** The caches a key computation reads (both kept in the store). */
export class KeyCaches {
  constructor(
    readonly files = new FileHashCache(),
    readonly graphs = new CodeGraphs(),
  ) {}

  /** The caches of a store. */
  static inStore(storeDir: string): KeyCaches {
    return new KeyCaches(FileHashCache.inStore(storeDir), CodeGraphs.inStore(storeDir));
  }

  async save(): Promise<void> {
    await Promise.all([this.files.save(), this.graphs.save()]);
  }
}

/** Compute a stage's key given its dependencies' output hashes. */
export async function stageKey(
  stage: Stage,
  board: Board,
  root: string,
  depHashes: Record<string, string>,
  caches: KeyCaches,
  /** Build image id when stages run in a container: it pins every tool. */
  containerImage?: string,
): Promise<StageKey> {
  const { files } = caches;
  const parts: Record<string, string> = {};
  const inputs: Record<string, string> = {};
  // Files are hashed concurrently; the key serialisation sorts the parts.
  const toHash: [part: string, path: string][] = [];
  if (stage.module) {
    const code = await caches.graphs.closure(stage.module);
    for (const file of code.files) {
      const rel = relative(root, file);
      toHash.push([`code:${rel.startsWith("..") ? file : rel}`, file]);
    }
    for (const pkg of code.npm) {
      const at = pkg.lastIndexOf("@");
      parts[`npm:${pkg.slice(0, at)}`] = pkg.slice(at + 1);
    }
  } else parts["code:run"] = sha256(stage.codeText);
  // The runtime that runs the stage's code (node:zlib, Web APIs, ...).
  parts["runtime"] = `deno ${Deno.version.deno}`;
  for (const rel of expandInputs(root, stage.inputs, `stage ${stage.name}`)) {
    inputs[rel] = rel.startsWith("/") ? rel : join(root, rel);
    toHash.push([`input:${rel}`, inputs[rel]]);
  }
  const hashes = await Promise.all(toHash.map(([, path]) => files.hash(path)));
  toHash.forEach(([part], i) => parts[part] = hashes[i]);
  for (const [k, v] of Object.entries(stage.params)) parts[`param:${k}`] = canonicalJson(v);
  const fields = stage.boardFields ?? (Object.keys(board) as (keyof Board)[]);
  for (const f of fields) parts[`board:${f}`] = canonicalJson(board[f]);
  for (const [name, hash] of Object.entries(depHashes)) parts[`dep:${name}`] = hash;
  for (const [name, src] of Object.entries(stage.sources)) parts[`source:${name}`] = src.sha256;
  if (containerImage) parts["container"] = containerImage;
  else for (const tool of stage.tools) parts[`tool:${tool}`] = await toolIdentity(tool);
  return { key: hashKey("stage", { stage: stage.name, parts }), parts, inputs };
}

export { join };
