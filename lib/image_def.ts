/**
 * Image definitions, `images/<name>.yaml`: which packages an image carries, which
 * services start at boot, users and their SSH keys, the host name, partition sizes
 * and the repository the device updates from. A wrong field names file, line and
 * field (through lib/yaml_file.ts).
 *
 * ```ts
 * const def = await loadImageDef("images/default.yaml");
 * def.packages; // ["base-files", "busybox", ...]
 * ```
 */
import { z } from "zod";
import { NAME_RE } from "./ice-pkg/dep.ts";
import { loadYamlFile, parseYaml } from "./yaml_file.ts";

const PkgName = z.string().regex(NAME_RE, "a package name (lowercase letters, digits, ._+-)");

/** An OpenSSH public key line (type, base64, optional comment). */
const SshKey = z.string().regex(
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+=* ?[^\n]*$/,
  "an OpenSSH public key line (ssh-ed25519 AAAA... comment)",
);

const User = z.strictObject({
  name: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, "a user name like admin"),
  /** Default: 0 for root, else required. */
  uid: z.number().int().min(0).max(65533).optional(),
  /** Supplementary groups (must exist in /etc/group). */
  groups: z.array(z.string()).default([]),
  shell: z.string().default("/bin/sh"),
  /** Public keys allowed to log in over SSH (the only way in by default). */
  keys: z.array(SshKey).default([]),
  /**
   * A crypt(3) hash for console login (test images). Plain text is refused; absent
   * means the password is locked.
   */
  password: z.string().regex(/^\$(1|5|6|y|2[aby])\$/, "a crypt(3) hash ($6$...), never plain text")
    .optional(),
});

export const ImageDefSchema = z.strictObject({
  description: z.string().min(1),
  /** Packages to install (with their dependencies). Those a board does not build are skipped. */
  packages: z.array(PkgName).min(1),
  /** Services started at boot (names of service files the packages bring). */
  services: z.array(z.string().regex(/^[a-z0-9][a-z0-9_.-]*$/)).default([]),
  hostname: z.string().regex(
    /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/,
    "a host name (letters, digits, -)",
  ).default("icenet"),
  users: z.array(User).default([]),
  /** Partition sizes overriding the board's, by partition name (e.g. data: 256M). */
  partitions: z.record(z.string(), z.string().regex(/^\d+[KMG]$/, "size like 64M or 1G"))
    .default({}),
  /** URL of the repository ice-pkg on the device updates from (optional). */
  repository: z.url().optional(),
});

/** A validated image definition. */
export type ImageDef = z.output<typeof ImageDefSchema>;

/** Validate an image definition's text (`file` names it in errors). */
export function parseImageDef(file: string, text: string): ImageDef {
  return check(file, parseYaml(file, text, ImageDefSchema));
}

/** Load and validate an image definition file. */
export async function loadImageDef(file: string): Promise<ImageDef> {
  return check(file, await loadYamlFile(file, ImageDefSchema));
}

/** Checks across fields (zod checks each field alone). */
function check(file: string, def: ImageDef): ImageDef {
  const seen = new Set<string>();
  for (const u of def.users) {
    if (seen.has(u.name)) throw new Error(`${file}: users: "${u.name}" is listed twice`);
    seen.add(u.name);
    if (u.name !== "root" && u.uid === undefined) {
      throw new Error(`${file}: users: "${u.name}" needs a uid`);
    }
  }
  return def;
}
