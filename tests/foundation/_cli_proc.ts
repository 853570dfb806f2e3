/** Child process for CLI tests: `main()` over synthetic stages in a test project. */
import { join } from "node:path";
import { main } from "../../lib/cli.ts";
import { defineStage } from "../../lib/stage.ts";

const [root, ...args] = Deno.args;
const stages = [
  defineStage({
    name: "slow",
    async run({ $ }) {
      await $`sh -c ${`echo $$ > ${join(root, "pid")}; exec sleep 60`}`;
    },
  }),
  defineStage({
    name: "fast",
    async run({ out }) {
      await Deno.writeTextFile(join(out, "x"), "x");
    },
  }),
  defineStage({
    name: "top",
    needs: ["fast"],
    async run({ out }) {
      await Deno.writeTextFile(join(out, "y"), "y");
    },
  }),
];
Deno.exit(await main(args, root, () => Promise.resolve(stages)));
