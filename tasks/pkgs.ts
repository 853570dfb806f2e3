/**
 * Package stages: one stage `pkg:<name>` per recipe under pkgs/ (for each board the
 * recipe applies to), producing `<out>/<name>-<version>-r<release>.<arch>.ice`, and
 * one stage `repo` that signs them into a repository
 * (`<out>/repo/{INDEX.json,INDEX.json.sig,*.ice}` and `<out>/keys/<keyId>.pub`).
 * The machinery is in lib/recipe/ (stages.ts, build.ts).
 *
 *   deno task stage pkg:dropbear --board rpi
 */
import { packageStages } from "../lib/recipe/stages.ts";

/** The registry calls this with the project root and the board being built. */
export default packageStages;
