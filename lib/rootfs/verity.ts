/**
 * dm-verity for a root squashfs: the hash tree is appended to the image (so a slot's
 * partition, and an update bundle's root payload, carry it), and the kernel opens the
 * verified device itself from its command line (`dm-mod.create=`, no initramfs): the
 * root is mounted from /dev/dm-0, and a block that does not match its hash is an I/O
 * error ("device-mapper: verity: 254:0: data block N is corrupted" on the console).
 *
 * The tree is made by Debian's `veritysetup format` (cryptsetup-bin) without a
 * superblock: every parameter is on the command line anyway, and the salt is derived
 * from the image, so two builds of the same tree give the same bytes and root hash.
 *
 * ```ts
 * const v = await appendHashTree(ctx.$, "out/root.squashfs"); // { rootHash, ... }
 * verityArgs(v, "PARTUUID=1a2b3c4d-02"); // ["dm-mod.create=...", "dm-mod.waitfor=..."]
 * ```
 */
import { sha256, sha256File } from "../hash.ts";
import type { Shell } from "../shell.ts";

/** Data and hash block size: the page size, what squashfs reads in. */
export const VERITY_BLOCK = 4096;

/** The file beside root.squashfs that says where its tree is. */
export const VERITY_FILE = "verity.json";

/** What the kernel needs to verify a root (all of it goes on the command line). */
export interface Verity {
  /** Blocks of the squashfs (the verified data), each VERITY_BLOCK bytes. */
  dataBlocks: number;
  /** Byte offset of the hash tree in the image (= the padded squashfs size). */
  hashOffset: number;
  /** Bytes of the hash tree. */
  hashBytes: number;
  algorithm: "sha256";
  /** Hex. */
  salt: string;
  /** Hex: what the command line pins. */
  rootHash: string;
}

/**
 * Pad `img` (a squashfs) to whole blocks, append its hash tree, and return where it is.
 * The salt is the squashfs's own hash: fixed by the content, yet not reusable across roots.
 */
export async function appendHashTree($: Shell, img: string): Promise<Verity> {
  const size = (await Deno.stat(img)).size;
  const hashOffset = Math.ceil(size / VERITY_BLOCK) * VERITY_BLOCK;
  if (hashOffset !== size) await Deno.truncate(img, hashOffset);
  const salt = sha256(`icenet:verity-salt:v1:${await sha256File(img)}`);
  const dataBlocks = hashOffset / VERITY_BLOCK;
  const r = await $`veritysetup format ${[
    "--no-superblock",
    "--hash=sha256",
    `--data-block-size=${VERITY_BLOCK}`,
    `--hash-block-size=${VERITY_BLOCK}`,
    `--data-blocks=${dataBlocks}`,
    `--hash-offset=${hashOffset}`,
    `--salt=${salt}`,
    img,
    img,
  ]}`.stdout("piped").text();
  const m = /^Root hash:\s*([0-9a-f]{64})$/m.exec(r);
  if (!m) throw new Error(`veritysetup format ${img}: no root hash in its output:\n${r}`);
  const hashBytes = (await Deno.stat(img)).size - hashOffset;
  return { dataBlocks, hashOffset, hashBytes, algorithm: "sha256", salt, rootHash: m[1] };
}

/** Append the tree to `<dir>/root.squashfs` and describe it in `<dir>/verity.json`. */
export async function addVerity($: Shell, dir: string): Promise<Verity> {
  const v = await appendHashTree($, `${dir}/root.squashfs`);
  await Deno.writeTextFile(`${dir}/${VERITY_FILE}`, JSON.stringify(v, null, 1) + "\n");
  return v;
}

/** The dm-verity table of a root on `device` (data and tree on the same partition). */
export function verityTable(v: Verity, device: string): string {
  const sectors = v.dataBlocks * (VERITY_BLOCK / 512);
  return [
    0,
    sectors,
    "verity",
    1,
    device,
    device,
    VERITY_BLOCK,
    VERITY_BLOCK,
    v.dataBlocks,
    v.hashOffset / VERITY_BLOCK,
    v.algorithm,
    v.rootHash,
    v.salt,
    // One optional argument: verify a block whose hashes are cached right where its read
    // completes, not after a hop to a workqueue (Linux 6.0+; ChromeOS's boot-time fix).
    1,
    "try_verify_in_tasklet",
  ].join(" ");
}

/** The verified root device the kernel mounts. */
export const VERITY_ROOT = "/dev/dm-0";

/**
 * Kernel arguments that open `device` verified as VERITY_ROOT (minor 0, read-only) once
 * it appears (an SD card is probed asynchronously); `root=` names VERITY_ROOT.
 */
export function verityArgs(v: Verity, device: string): string[] {
  return [
    `dm-mod.create="icenet-root,,0,ro,${verityTable(v, device)}"`,
    `dm-mod.waitfor=${device}`,
  ];
}

/** Parse `verity.json` of a rootfs output; errors name the file. */
export function parseVerity(file: string, text: string): Verity {
  const v = JSON.parse(text) as Partial<Verity>;
  const hex = (s: unknown, n: number) =>
    typeof s === "string" && new RegExp(`^[0-9a-f]{${n}}$`).test(s);
  if (
    !Number.isInteger(v.dataBlocks) || !Number.isInteger(v.hashOffset) ||
    !Number.isInteger(v.hashBytes) || v.algorithm !== "sha256" || !hex(v.salt, 64) ||
    !hex(v.rootHash, 64)
  ) {
    throw new Error(`${file}: not a verity description (dataBlocks, hashOffset, salt, rootHash)`);
  }
  return v as Verity;
}

/** The verity description beside a rootfs output's root.squashfs, if it has one. */
export async function readVerity(rootfsOut: string): Promise<Verity | undefined> {
  const file = `${rootfsOut}/${VERITY_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  return parseVerity(file, text);
}
