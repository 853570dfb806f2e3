/** A stage for the sandbox test, in a module of its own (the sandbox loads it). */
import { join } from "node:path";
import { defineStage } from "../../lib/stage.ts";

/** Reads its declared input, and (when params.sneak names one) a file it did not declare. */
export const reader = defineStage({
  name: "reader",
  inputs: ["declared.txt"],
  params: { sneak: "" },
  tools: ["cat"],
  async run({ out, inputs, params, $ }) {
    const text = await Deno.readTextFile(inputs["declared.txt"]);
    await $`cat ${inputs["declared.txt"]}`;
    if (params.sneak) await Deno.readTextFile(String(params.sneak));
    await Deno.writeTextFile(join(out, "copy"), text);
  },
});
