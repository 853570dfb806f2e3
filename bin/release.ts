/**
 * `deno task release <board> [--out DIR] [--image FILE] [--url-base URL] [--icon URL]`
 *
 * Writes the files to publish a board's image (built through the store, or --image)
 * into DIR (default out/release/<board>): `icenet-<board>.img.xz`, its block map
 * `icenet-<board>.img.bmap` (`bmaptool copy icenet-<board>.img.xz /dev/sdX` finds it
 * beside the .xz), for the Pi boards Raspberry Pi Imager's entry
 * `icenet-<board>.os_list.json` (its url is --url-base + the .xz's name), and
 * `SHA256SUMS`. The same image gives the same bytes in every file.
 */
import { join } from "node:path";
import { loadBoard } from "../lib/board.ts";
import { EXIT } from "../lib/cli.ts";
import { parseBoardArgs } from "./_args.ts";
import { bootKind } from "../lib/boot/registry.ts";
import { loadImageDef } from "../lib/image_def.ts";
import { buildImage } from "../lib/qemu/build_image.ts";
import { makeRelease } from "../lib/release/release.ts";
import { imageFile } from "../lib/rootfs/stage.ts";
import { SOURCE_DATE_EPOCH } from "../lib/stage_env.ts";
import { ROOT } from "../lib/registry.ts";

const USAGE =
  "usage: deno task release <board> [--out DIR] [--image FILE] [--url-base URL] [--icon URL]";

/** Run `release`; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function main(args: string[]): Promise<number> {
  const parsed = parseBoardArgs("release", USAGE, args, ["out", "image", "url-base", "icon"]);
  if (!parsed) return EXIT.usage;
  const { values: v, board: boardName } = parsed;
  const board = await loadBoard(ROOT, boardName);
  const image = v.image ?? await buildImage(ROOT, board);
  const out = v.out ?? join(ROOT, "out", "release", board.name);
  const base = v["url-base"] ?? "";
  const files = await makeRelease({
    board,
    image,
    name: `icenet-${board.name}`,
    out,
    urlBase: base && !base.endsWith("/") ? `${base}/` : base,
    icon: v.icon ?? "",
    description: (await loadImageDef(imageFile(ROOT))).description,
    epoch: Number(SOURCE_DATE_EPOCH),
  });
  for (const f of files) console.log(`${join(out, f.name)}  ${f.bytes} B  sha256 ${f.sha256}`);
  if (bootKind(board).imager && !base) {
    console.error(
      "release: the os_list entry's url is the bare file name; pass --url-base " +
        "https://your.host/path/ for one Raspberry Pi Imager can download",
    );
  }
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`release: ${(e as Error).message}`);
    Deno.exit(1);
  }
}
