/**
 * Cache keys (Nix style): sha256 over a canonical serialisation of everything a
 * stage declared — its code, input files' contents, parameters, the board fields it
 * uses, its dependencies' *output* hashes, its sources' sha256 and its host tools'
 * identity. Nothing undeclared enters. The parts are kept by name so `explain` can
 * say which one changed.
 */
import { join, relative } from "node:path";
import type { Board } from "./board.ts";
import { expandInputs } from "./glob.ts";
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

/** Compute a stage's key given its dependencies' output hashes. */
export async function stageKey(
  stage: Stage,
  board: Board,
  root: string,
  depHashes: Record<string, string>,
  files: FileHashCache,
  /** Build image id when stages run in a container: it pins every tool. */
  containerImage?: string,
): Promise<StageKey> {
  const parts: Record<string, string> = {};
  const inputs: Record<string, string> = {};
  if (stage.code.length === 0) parts["code:run"] = sha256(stage.codeText);
  // Files are hashed concurrently; the key serialisation sorts the parts.
  const toHash: [part: string, path: string][] = [];
  for (const file of stage.code) {
    const rel = relative(root, file);
    toHash.push([`code:${rel.startsWith("..") ? file : rel}`, file]);
  }
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
