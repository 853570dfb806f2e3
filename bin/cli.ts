/** `deno task build|stage|explain|gc|verify|doctor`: see lib/cli.ts. */
import { main } from "../lib/cli.ts";
import { loadStages, ROOT } from "../lib/registry.ts";

Deno.exit(await main(Deno.args, ROOT, (board) => loadStages(board, ROOT)));
