/**
 * Update bundles: one streamable file a device installs with `icenet-update install`.
 *
 *   icenet-bundle 1                      the text manifest, signed as it is
 *   board rpi
 *   version 2.0
 *   serial 42                            increases with every build; the not-older check
 *   kernel kernel8.img                   the slot's kernel file (systemd-boot entries)
 *   payload root <size> <sha256>         the slot's root squashfs, written raw to p2/p3
 *   payload slot/<file> <size> <sha256>  a boot file of the slot, into p1's slot-<x>/
 *   payload slot-a/<file> ...            a file only slot a gets (its cmdline.txt, its UKI), ...
 *   end
 *   signature ed25519 <key id> <base64>  Ed25519 over the manifest bytes above
 *   <payload bytes, in manifest order, back to back>
 *
 * The device reads the manifest (at most 8 KiB), checks the signature before it writes
 * anything, then streams each payload through a fixed buffer, checking its sha256.
 * Same inputs and key give the same bytes (Ed25519 signatures are deterministic).
 *
 * ```ts
 * const b = await writeBundle("out/rpi.icenet-bundle", spec, (await updateKey()).privateFile);
 * ```
 */
import { sha256File } from "../hash.ts";
import { signBytes } from "../ice-pkg/keys.ts";
import { SLOTS } from "../image/layout.ts";

/** One payload: its name in the bundle and the file its bytes come from. */
export interface Payload {
  name: string;
  path: string;
}

/** What a bundle holds. */
export interface BundleSpec {
  board: string;
  version: string;
  serial: number;
  /** The kernel's file name among the `slot/` payloads. */
  kernel: string;
  payloads: Payload[];
}

/** A written bundle. */
export interface Bundle {
  path: string;
  bytes: number;
  sha256: string;
  manifest: string;
}

/** Longest manifest icenet-update reads (update/src/manifest.h). */
export const MANIFEST_MAX = 8192;

const PATH = /^[A-Za-z0-9._+-]+(\/[A-Za-z0-9._+-]+)*$/;

/** Is `name` a payload name of format 1: root, slot/<path>, slot-a/<path> or slot-b/<path>? */
export function payloadNameOk(name: string): boolean {
  if (name === "root") return true;
  const m = name.match(/^slot(?:-[ab])?\/(.+)$/);
  if (!m || m[1].length >= 150 || !PATH.test(m[1])) return false;
  return m[1].split("/").every((c) => c !== "." && c !== "..");
}

const WORD = /^[A-Za-z0-9._+~:-]{1,63}$/;

/** The manifest text of `spec` whose payloads have these sizes and hashes. */
export function manifestText(
  spec: Omit<BundleSpec, "payloads">,
  payloads: { name: string; size: number; sha256: string }[],
): string {
  if (!WORD.test(spec.board)) throw new Error(`bundle: board "${spec.board}": not a plain name`);
  if (!WORD.test(spec.version)) {
    throw new Error(`bundle: version "${spec.version}": 1-63 of A-Z a-z 0-9 . _ + ~ : -`);
  }
  if (!Number.isSafeInteger(spec.serial) || spec.serial < 0) {
    throw new Error(`bundle: serial ${spec.serial}: not a whole number >= 0`);
  }
  const lines = [
    "icenet-bundle 1",
    `board ${spec.board}`,
    `version ${spec.version}`,
    `serial ${spec.serial}`,
    `kernel ${spec.kernel}`,
  ];
  if (payloads[0]?.name !== "root") throw new Error("bundle: the first payload must be root");
  const seen = new Set<string>();
  for (const p of payloads) {
    if (!payloadNameOk(p.name)) throw new Error(`bundle: payload name "${p.name}" not allowed`);
    if (seen.has(p.name)) throw new Error(`bundle: payload ${p.name} twice`);
    seen.add(p.name);
    lines.push(`payload ${p.name} ${p.size} ${p.sha256}`);
  }
  // One kernel for both slots, or one per slot (a UKI holds its slot's command line).
  if (
    !seen.has(`slot/${spec.kernel}`) && !SLOTS.every((s) => seen.has(`slot-${s}/${spec.kernel}`))
  ) {
    throw new Error(
      `bundle: kernel ${spec.kernel} is not among the slot/ (or every slot-<x>/) payloads`,
    );
  }
  const text = lines.join("\n") + "\nend\n";
  if (text.length >= MANIFEST_MAX) {
    throw new Error(`bundle: manifest is ${text.length} bytes, at most ${MANIFEST_MAX - 1}`);
  }
  return text;
}

/** Payloads in bundle order: root, then the boot files by name. */
export function orderPayloads(payloads: Payload[]): Payload[] {
  return [...payloads].sort((a, b) =>
    a.name === "root" ? -1 : b.name === "root" ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0
  );
}

/**
 * The manifest of `spec` (its payloads hashed), unsigned: what the image writes as
 * `slot-a/manifest` on p1 so that `icenet-update status` knows the factory slot's
 * version and serial (the device reads a record up to its `end` line).
 */
export async function manifestFor(spec: BundleSpec): Promise<string> {
  const payloads = orderPayloads(spec.payloads);
  const hashed = await Promise.all(payloads.map(async (p) => ({
    name: p.name,
    size: (await Deno.stat(p.path)).size,
    sha256: await sha256File(p.path),
  })));
  return manifestText(spec, hashed);
}

/** Write the bundle of `spec` to `out`, signed with an ice-pkg private key file's content. */
export async function writeBundle(
  out: string,
  spec: BundleSpec,
  privateFile: string,
): Promise<Bundle> {
  const payloads = orderPayloads(spec.payloads);
  const manifest = await manifestFor(spec);
  const sig = await signBytes(privateFile, new TextEncoder().encode(manifest));
  const head = `${manifest}signature ed25519 ${sig.keyId} ${sig.signature}\n`;
  const tmp = `${out}.tmp-${Deno.pid}`;
  {
    using f = await Deno.open(tmp, { write: true, create: true, truncate: true });
    let bytes = new TextEncoder().encode(head);
    while (bytes.length) bytes = bytes.subarray(await f.write(bytes));
    for (const p of payloads) {
      using src = await Deno.open(p.path);
      await src.readable.pipeTo(f.writable, { preventClose: true });
    }
  }
  await Deno.rename(tmp, out);
  return {
    path: out,
    bytes: (await Deno.stat(out)).size,
    sha256: await sha256File(out),
    manifest: head,
  };
}

/** The text of a root squashfs's /etc/os-release, if it has one. */
export async function rootOsRelease(squashfs: string): Promise<string | undefined> {
  const r = await new Deno.Command("unsquashfs", {
    args: ["-cat", squashfs, "etc/os-release"],
    stdout: "piped",
    stderr: "null",
  }).output();
  return r.success ? new TextDecoder().decode(r.stdout) : undefined;
}

/** VERSION_ID of a root squashfs's /etc/os-release (what the slot's version is). */
export async function rootVersion(squashfs: string): Promise<string | undefined> {
  return (await rootOsRelease(squashfs))?.match(/^VERSION_ID="?([^"\n]+)"?$/m)?.[1];
}
