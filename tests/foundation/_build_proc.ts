/** Child process for the concurrency test: builds one slow stage on a shared store. */
import { join } from "node:path";
import { loadBoard } from "../../lib/board.ts";
import { SilentProgress } from "../../lib/progress.ts";
import { build } from "../../lib/runner.ts";
import { defineStage } from "../../lib/stage.ts";
import { Store } from "../../lib/store.ts";

const [root, storeDir] = Deno.args;
const st = defineStage({
  name: "shared",
  async run({ out }) {
    await Deno.writeTextFile(join(root, "runs"), `${Deno.pid}\n`, { append: true });
    await new Promise((r) => setTimeout(r, 500));
    await Deno.writeTextFile(join(out, "data"), "same");
  },
});
const r = await build({
  root,
  board: await loadBoard(root, "test"),
  stages: [st],
  targets: ["shared"],
  store: new Store(storeDir),
  progress: new SilentProgress(),
});
console.log(
  JSON.stringify({
    ok: r.ok,
    outcome: r.results.get("shared")!.outcome,
    hash: r.results.get("shared")!.outputHash,
  }),
);
