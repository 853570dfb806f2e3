/**
 * `explain`: why a stage will or won't rebuild. Computes the keys of the stage and
 * its dependencies without building anything and compares the stage's key parts
 * with those of its last build on this store.
 */
import type { Board } from "./board.ts";
import { KeyCaches, stageKey } from "./key.ts";
import { planStages } from "./runner.ts";
import type { Stage } from "./stage.ts";
import type { Store } from "./store.ts";

/** The verdict for one stage. */
export interface Explanation {
  stage: string;
  rebuild: boolean;
  reasons: string[];
}

/** Explain `target` on `board`. */
export async function explain(
  stages: Stage[],
  target: string,
  board: Board,
  root: string,
  store: Store,
): Promise<Explanation> {
  const caches = KeyCaches.inStore(store.dir);
  const outputs = new Map<string, string | undefined>();
  let result: Explanation | undefined;
  for (const s of planStages(stages, [target], board.name)) {
    const missing = s.needs.filter((d) => outputs.get(d) === undefined);
    if (missing.length) {
      outputs.set(s.name, undefined);
      if (s.name === target) {
        result = {
          stage: target,
          rebuild: true,
          reasons: missing.map((d) =>
            `dependency ${d} is not in the store and will be built first`
          ),
        };
      }
      continue;
    }
    const deps = Object.fromEntries(s.needs.map((d) => [d, outputs.get(d)!]));
    const key = await stageKey(s, board, root, deps, caches);
    const rec = await store.lookup(key.key);
    outputs.set(s.name, rec?.outputHash);
    if (s.name !== target) continue;
    if (rec) {
      result = {
        stage: target,
        rebuild: false,
        reasons: [`up to date: key ${key.key.slice(0, 16)} is in the store`],
      };
      break;
    }
    const last = await store.latest(s.name, board.name);
    if (!last) {
      result = {
        stage: target,
        rebuild: true,
        reasons: [`never built for board ${board.name} on this store`],
      };
      break;
    }
    const reasons: string[] = [];
    const names = new Set([...Object.keys(last.parts), ...Object.keys(key.parts)]);
    for (const n of [...names].sort()) {
      const a = last.parts[n], b = key.parts[n];
      if (a === b) continue;
      if (a === undefined) reasons.push(`${n} added (${short(b)})`);
      else if (b === undefined) reasons.push(`${n} removed (was ${short(a)})`);
      else reasons.push(`${n} changed: ${short(a)} -> ${short(b)}`);
    }
    if (reasons.length === 0) {
      reasons.push("same inputs as the last build, but its output was collected");
    }
    result = { stage: target, rebuild: true, reasons };
  }
  await caches.save();
  return result!;
}

function short(v: string): string {
  return v.length > 24 && /^[0-9a-f]+$/.test(v) ? v.slice(0, 12) : JSON.stringify(v);
}
