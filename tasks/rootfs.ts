/**
 * The root file system of an image: ice-pkg's library installs the image's packages
 * into an empty tree (`--root`) from the board's signed repository, then the stage
 * enables services, writes the generated files (listed in `<out>/generated.json`)
 * and packs `<out>/root.squashfs` reproducibly. The machinery is lib/rootfs/stage.ts.
 *
 * The image is images/default.yaml, or ICENET_IMAGE (a name under images/ or a path),
 * with the site settings of `--config` and the setting flags laid over it (lib/site.ts).
 *
 *   deno task stage rootfs --board zima
 */
import { rootfsStages } from "../lib/rootfs/stage.ts";

/** The registry calls this with the project root and the board being built. */
export default rootfsStages;
