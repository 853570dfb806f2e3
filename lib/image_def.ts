/**
 * Image definitions, `images/<name>.yaml`: which packages an image carries, which
 * services start at boot, users and their SSH keys, the host name, the network (DHCP or
 * a static IPv4 address, Wi-Fi), the time zone, partition sizes and the repository the
 * device updates from. A wrong field names file, line and field (lib/yaml_file.ts).
 *
 * ```ts
 * const def = await loadImageDef("images/default.yaml");
 * def.packages; // ["base-files", "busybox", ...]
 * ```
 */
import { z } from "zod";
import { NAME_RE } from "./ice-pkg/dep.ts";
import { loadYamlFile, parseYaml } from "./yaml_file.ts";
import { kernelArgProblem } from "./rootfs/kernel_args.ts";

const PkgName = z.string().regex(NAME_RE, "a package name (lowercase letters, digits, ._+-)");

/** An OpenSSH public key line (type, base64, optional comment). */
const SshKey = z.string().regex(
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/]+=* ?[^\n]*$/,
  "an OpenSSH public key line (ssh-ed25519 AAAA... comment)",
);

/** A dotted IPv4 address. */
export const Ipv4 = z.string().regex(
  /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/,
  "an IPv4 address like 192.168.1.20",
);

/** An IPv4 address with its prefix length, like 192.168.1.20/24. */
export const Ipv4Cidr = z.string().refine((s) => {
  const [addr, len, extra] = s.split("/");
  return extra === undefined && Ipv4.safeParse(addr).success &&
    /^([0-9]|[12]\d|3[0-2])$/.test(len ?? "");
}, "an IPv4 address with its prefix length, like 192.168.1.20/24");

/** How the wired interface gets its address. */
export const NetworkSchema = z.strictObject({
  /** "dhcp", or a static address with its prefix length. */
  ipv4: z.union([z.literal("dhcp"), Ipv4Cidr]).default("dhcp"),
  /** Default route (static addresses only). */
  gateway: Ipv4.optional(),
  /** Name servers (static addresses only; DHCP brings its own). */
  dns: z.array(Ipv4).default([]),
});

/**
 * Wi-Fi for boards that have it: the regulatory country, the network and its WPA2
 * passphrase. The image keeps only the PSK derived from the passphrase (as
 * wpa_passphrase does), never the passphrase itself.
 */
export const WifiSchema = z.strictObject({
  country: z.string().regex(/^[A-Z]{2}$/, "a two-letter country code like DE"),
  ssid: z.string().min(1).max(32),
  /** 8-63 printable characters, or the 64 hex digits of a derived PSK. */
  psk: z.string().regex(/^([ -~]{8,63}|[0-9a-f]{64})$/, "8 to 63 printable characters"),
});

/**
 * A POSIX TZ rule (musl reads these; no zone database on the device): "UTC", or like
 * "CET-1CEST,M3.5.0,M10.5.0/3" for Europe/Berlin.
 */
export const TimeZone = z.string().regex(
  /^(UTC|[A-Za-z]{3,}[-+]?\d{1,2}(:\d\d)?([A-Za-z]{3,}([-+]?\d{1,2}(:\d\d)?)?(,M\d{1,2}\.\d\.\d(\/\d{1,2}(:\d\d)?)?,M\d{1,2}\.\d\.\d(\/\d{1,2}(:\d\d)?)?)?)?)$/,
  'a POSIX TZ rule like "CET-1CEST,M3.5.0,M10.5.0/3", or "UTC"',
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
  partitions: z.record(
    z.string(),
    z.string().regex(/^(\d+[KMG]|auto)$/, "size like 64M or 1G, or auto"),
  )
    .default({}),
  /** URL of the repository ice-pkg on the device updates from (optional). */
  repository: z.url().optional(),
  network: NetworkSchema.default({ ipv4: "dhcp", dns: [] }),
  wifi: WifiSchema.optional(),
  timezone: TimeZone.default("UTC"),
  /**
   * dm-verity on the root (lib/rootfs/verity.ts): on unless an image turns it off, for
   * development only (a root changed in place then still boots).
   */
  verity: z.boolean().default(true),
  /**
   * Kernel arguments added to every slot's command line (e.g. `quiet`, `initcall_debug`);
   * the ones IceNet sets itself (root, init, the slot) are refused (lib/rootfs/kernel_args.ts).
   */
  cmdline: z.array(
    z.string().superRefine((arg, ctx) => {
      const problem = kernelArgProblem(arg);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }),
  ).default([]),
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
export function check(file: string, def: ImageDef): ImageDef {
  if (def.network.ipv4 === "dhcp" && (def.network.gateway || def.network.dns.length)) {
    throw new Error(`${file}: network: gateway and dns go with a static ipv4 address, not dhcp`);
  }
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
