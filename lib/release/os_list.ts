/**
 * Raspberry Pi Imager's `os_list` entry of a Pi image (the schema in rpi-imager's
 * doc/json-schema/os-list-schema.json, devices as in its os_list_imagingutility_v4):
 * what Imager shows (name, description, icon, release date), what it downloads and
 * checks (url, image_download_size/sha256 of the .xz, extract_size/sha256 of the
 * image), and the device tags it offers the image for. The entry has no
 * `init_format`: IceNet does not read Imager's customisation (firstrun.sh or
 * cloud-init), so Imager does not offer it.
 *
 * ```ts
 * osListEntry({ board, description, url, image: {...}, download: {...}, epoch });
 * ```
 */
import type { Board } from "../board.ts";
import { piFilters } from "../boot/rpi_firmware.ts";

/** The Pi families of config.txt's model filters, as Imager names them. */
const FAMILY: Record<string, string> = {
  pi2: "pi2",
  pi3: "pi3",
  "pi3+": "pi3",
  pi4: "pi4",
  cm4: "pi4",
};

/**
 * Imager's device tags for a board (`pi4-64bit`, `pi2-32bit`, ...), newest family
 * first, from the device trees the board ships.
 */
export function imagerDevices(board: Board): string[] {
  const bits = board.arch === "aarch64" ? "64bit" : "32bit";
  const families = new Set<string>();
  const filters = piFilters(board);
  for (const dtb of board.kernel.dtbs) {
    const name = dtb.split("/").pop()!;
    const filter = filters.find((f) => f.dtb === name)?.filter;
    if (!filter || !FAMILY[filter]) {
      throw new Error(`board ${board.name}: device tree ${name} names no Raspberry Pi model`);
    }
    families.add(FAMILY[filter]);
  }
  return [...families].sort().reverse().map((f) => `${f}-${bits}`);
}

/** A file's size and sha256. */
export interface Sized {
  bytes: number;
  sha256: string;
}

/** What the entry describes. */
export interface OsListInput {
  board: Board;
  /** The image definition's description. */
  description: string;
  /** Where Imager downloads the .img.xz from. */
  url: string;
  icon: string;
  image: Sized;
  download: Sized;
  /** Release date, seconds since the epoch (the build's SOURCE_DATE_EPOCH). */
  epoch: number;
}

/** The entry, keys in the schema's order. */
export function osListEntry(i: OsListInput): Record<string, unknown> {
  return {
    name: `IceNet-OS (${i.board.name})`,
    description: `${i.description}. ${i.board.description}`,
    icon: i.icon,
    url: i.url,
    extract_size: i.image.bytes,
    extract_sha256: i.image.sha256,
    image_download_size: i.download.bytes,
    image_download_sha256: i.download.sha256,
    release_date: new Date(i.epoch * 1000).toISOString().slice(0, 10),
    devices: imagerDevices(i.board),
  };
}

/** An os_list file Imager loads as a custom repository: `{ "os_list": [entry] }`. */
export function osListJson(entry: Record<string, unknown>): string {
  return JSON.stringify({ os_list: [entry] }, null, 2) + "\n";
}
