/** Small stages for the sandbox benchmark, in a module of their own (the sandbox loads it). */
import { join } from "node:path";
import { defineStage } from "../../lib/stage.ts";

export const small = Array.from({ length: 20 }, (_, i) =>
  defineStage({
    name: `small${i}`,
    tools: ["sh"],
    async run({ out, $ }) {
      await $`sh -c true`;
      await Deno.writeTextFile(join(out, "x"), String(i));
    },
  }));
