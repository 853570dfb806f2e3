/**
 * A board's release: the files a download page publishes for one image.
 *
 *   <name>.img.xz         the image, xz (lib/release/xz.ts)
 *   <name>.img.bmap       its block map for `bmaptool copy <name>.img.xz /dev/sdX`,
 *                         which finds it beside the .xz (lib/image/bmap.ts)
 *   <name>.os_list.json   Raspberry Pi Imager's entry, Pi boards only (os_list.ts)
 *   SHA256SUMS            `sha256sum -c SHA256SUMS` checks all of the above
 *
 * Every file is a function of the image and the options: the dates come from the
 * build's SOURCE_DATE_EPOCH, not the clock.
 *
 * ```ts
 * await makeRelease({ board, image, name: "icenet-rpi", out: "out/release", ... });
 * ```
 */
import { join } from "node:path";
import type { Board } from "../board.ts";
import { bootKind } from "../boot/registry.ts";
import { sha256File } from "../hash.ts";
import { blockMap, bmapXml } from "../image/bmap.ts";
import { osListEntry, osListJson } from "./os_list.ts";
import { compressXz } from "./xz.ts";

/** What to release. */
export interface ReleaseOptions {
  board: Board;
  image: string;
  /** Base name of the files (`icenet-rpi`). */
  name: string;
  out: string;
  /** Prefix of the download URL in the os_list entry (empty: the bare file name). */
  urlBase: string;
  icon: string;
  /** The image definition's description. */
  description: string;
  epoch: number;
}

/** A released file. */
export interface Released {
  name: string;
  bytes: number;
  sha256: string;
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await Deno.writeTextFile(`${path}.tmp`, text);
  await Deno.rename(`${path}.tmp`, path);
}

async function sized(path: string): Promise<{ bytes: number; sha256: string }> {
  return { bytes: (await Deno.stat(path)).size, sha256: await sha256File(path) };
}

/** Write the release of `o.image` into `o.out`; returns its files, SHA256SUMS last. */
export async function makeRelease(o: ReleaseOptions): Promise<Released[]> {
  await Deno.mkdir(o.out, { recursive: true });
  const files: string[] = [];
  const xz = `${o.name}.img.xz`;
  await compressXz(o.image, join(o.out, xz));
  files.push(xz);
  const bmap = `${o.name}.img.bmap`;
  await writeAtomic(join(o.out, bmap), bmapXml(await blockMap(o.image)));
  files.push(bmap);
  if (bootKind(o.board).imager) {
    const list = `${o.name}.os_list.json`;
    const entry = osListEntry({
      board: o.board,
      description: o.description,
      url: `${o.urlBase}${xz}`,
      icon: o.icon,
      image: await sized(o.image),
      download: await sized(join(o.out, xz)),
      epoch: o.epoch,
    });
    await writeAtomic(join(o.out, list), osListJson(entry));
    files.push(list);
  }
  const out: Released[] = [];
  for (const f of files.sort()) out.push({ name: f, ...(await sized(join(o.out, f))) });
  await writeAtomic(
    join(o.out, "SHA256SUMS"),
    out.map((f) => `${f.sha256}  ${f.name}\n`).join(""),
  );
  out.push({ name: "SHA256SUMS", ...(await sized(join(o.out, "SHA256SUMS"))) });
  return out;
}
