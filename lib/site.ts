/**
 * Site settings: what a user changes about an image without editing the repository —
 * SSH keys, host name, users, network, Wi-Fi, time zone — from a file outside the tree
 * (`--config my-site.yaml`, the image definition's schema with every field optional)
 * and command-line flags, laid over `images/<name>.yaml`. The result is the image
 * definition the rootfs and image stages use, so it enters their keys like any input.
 *
 * ```ts
 * const site = mergeSites(await loadSite("my-site.yaml"), siteFromFlags({ hostname: "pi" }));
 * const def = applySite(await loadImageDef("images/default.yaml"), site, "my-site.yaml");
 * ```
 */
import { pbkdf2Sync } from "node:crypto";
import { z } from "zod";
import { check, type ImageDef, ImageDefSchema } from "./image_def.ts";
import { loadYamlFile } from "./yaml_file.ts";

const Def = ImageDefSchema.shape;

/** A user in site settings: the name, and what to set or add. */
const SiteUser = z.strictObject({
  name: Def.users.unwrap().element.shape.name,
  uid: Def.users.unwrap().element.shape.uid,
  groups: z.array(z.string()).optional(),
  shell: z.string().optional(),
  keys: Def.users.unwrap().element.shape.keys.unwrap().optional(),
  password: Def.users.unwrap().element.shape.password,
});

/** Site settings: every field of an image definition, optional, with no defaults. */
export const SiteSchema = z.strictObject({
  description: Def.description.optional(),
  packages: Def.packages.optional(),
  services: Def.services.unwrap().optional(),
  hostname: Def.hostname.unwrap().optional(),
  users: z.array(SiteUser).optional(),
  partitions: Def.partitions.unwrap().optional(),
  repository: Def.repository,
  network: z.strictObject({
    ipv4: Def.network.unwrap().shape.ipv4.unwrap().optional(),
    gateway: Def.network.unwrap().shape.gateway,
    dns: Def.network.unwrap().shape.dns.unwrap().optional(),
  }).optional(),
  wifi: Def.wifi,
  timezone: Def.timezone.unwrap().optional(),
  cmdline: Def.cmdline.unwrap().optional(),
});

/** Validated site settings. */
export type Site = z.output<typeof SiteSchema>;

/** The environment variable that carries the site settings to the stages (JSON). */
export const SITE_ENV = "ICENET_SITE";

/** Load a site file; errors name the file, line and field. */
export async function loadSite(file: string): Promise<Site> {
  return derivePsk(await loadYamlFile(file, SiteSchema));
}

/** Flags of `deno task image:<board>` (and build/stage) that set site settings. */
export interface SiteFlags {
  hostname?: string;
  "ssh-key"?: string[];
  timezone?: string;
  ipv4?: string;
  gateway?: string;
  dns?: string;
  "wifi-country"?: string;
  "wifi-ssid"?: string;
  "wifi-psk"?: string;
}

/**
 * Site settings from flags: `--ssh-key` (a key line, or a file of key lines) adds to
 * root's keys; the Wi-Fi passphrase may come from ICENET_WIFI_PSK instead of the command
 * line (which shells keep in their history).
 */
export async function siteFromFlags(flags: SiteFlags): Promise<Site> {
  const raw: Record<string, unknown> = {};
  if (flags.hostname) raw.hostname = flags.hostname;
  if (flags.timezone) raw.timezone = flags.timezone;
  const keys: string[] = [];
  for (const k of flags["ssh-key"] ?? []) keys.push(...await keyLines(k));
  if (keys.length) raw.users = [{ name: "root", keys }];
  if (flags.ipv4 || flags.gateway || flags.dns) {
    raw.network = {
      ipv4: flags.ipv4,
      gateway: flags.gateway,
      dns: flags.dns?.split(",").map((s) => s.trim()).filter(Boolean),
    };
  }
  const psk = flags["wifi-psk"] ?? Deno.env.get("ICENET_WIFI_PSK");
  if (flags["wifi-ssid"] || flags["wifi-country"] || psk) {
    raw.wifi = { country: flags["wifi-country"], ssid: flags["wifi-ssid"], psk };
  }
  const r = SiteSchema.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`--${flagOf(i.path.map(String))}: ${i.message}`);
  }
  return derivePsk(r.data);
}

/** The flag that sets a site field (for error messages). */
function flagOf(path: string[]): string {
  const [a, b] = path;
  if (a === "users") return "ssh-key";
  if (a === "wifi") return `wifi-${b}`;
  if (a === "network") return b === "ipv4" ? "ipv4" : b;
  return a;
}

/** `--ssh-key` takes a key line or a file holding key lines (like authorized_keys). */
async function keyLines(arg: string): Promise<string[]> {
  if (/^(ssh-|ecdsa-)/.test(arg)) return [arg.trim()];
  let text: string;
  try {
    text = await Deno.readTextFile(arg);
  } catch (e) {
    throw new Error(`--ssh-key ${arg}: neither a key line nor a readable file (${e})`);
  }
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  if (!lines.length) throw new Error(`--ssh-key ${arg}: the file holds no key`);
  return lines;
}

/** Replace a Wi-Fi passphrase by its WPA PSK (PBKDF2-SHA1, 4096 rounds, as wpa_passphrase). */
function derivePsk(site: Site): Site {
  const w = site.wifi;
  if (!w || /^[0-9a-f]{64}$/.test(w.psk)) return site;
  const psk = pbkdf2Sync(w.psk, w.ssid, 4096, 32, "sha1").toString("hex");
  return { ...site, wifi: { ...w, psk } };
}

/** Lay `b` over `a`: later settings win; lists of packages, services, keys and kernel arguments add up. */
export function mergeSites(a: Site, b: Site): Site {
  const out: Site = { ...a, ...dropUndefined(b) };
  if (a.packages && b.packages) out.packages = union(a.packages, b.packages);
  if (a.services && b.services) out.services = union(a.services, b.services);
  if (a.cmdline && b.cmdline) out.cmdline = union(a.cmdline, b.cmdline);
  if (a.users && b.users) out.users = mergeUsers(a.users, b.users);
  if (a.partitions && b.partitions) out.partitions = { ...a.partitions, ...b.partitions };
  if (a.network && b.network) out.network = { ...a.network, ...dropUndefined(b.network) };
  return out;
}

/** The image definition with the site settings laid over it, checked as a whole. */
export function applySite(def: ImageDef, site: Site, where: string): ImageDef {
  const out: ImageDef = {
    ...def,
    ...dropUndefined({
      description: site.description,
      hostname: site.hostname,
      repository: site.repository,
      wifi: site.wifi,
      timezone: site.timezone,
    }),
    packages: union(def.packages, site.packages ?? []),
    services: union(def.services, site.services ?? []),
    cmdline: union(def.cmdline, site.cmdline ?? []),
    partitions: { ...def.partitions, ...site.partitions },
    network: { ...def.network, ...dropUndefined(site.network ?? {}) },
    users: mergeUsers(def.users, site.users ?? []) as ImageDef["users"],
  };
  // A static address replaces DHCP; switching back to DHCP drops static leftovers.
  if (site.network?.ipv4 === "dhcp") out.network = { ipv4: "dhcp", dns: [] };
  const parsed = ImageDefSchema.safeParse(out);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    throw new Error(`${where}: ${i.path.join(".")}: ${i.message}`);
  }
  return check(where, parsed.data);
}

/** Site settings from the environment (set by the CLI), or none. */
export function siteFromEnv(): Site | undefined {
  const json = Deno.env.get(SITE_ENV);
  if (!json) return undefined;
  const r = SiteSchema.safeParse(JSON.parse(json));
  if (!r.success) throw new Error(`${SITE_ENV}: ${r.error.issues[0].message}`);
  return r.data;
}

type UserLike = { name: string; keys?: string[]; groups?: string[] } & Record<string, unknown>;

/** Users by name: fields of later entries win, keys and groups add up. */
function mergeUsers(a: UserLike[], b: UserLike[]): UserLike[] {
  const out = a.map((u) => ({ ...u }));
  for (const u of b) {
    const i = out.findIndex((x) => x.name === u.name);
    if (i < 0) {
      out.push({ groups: [], keys: [], shell: "/bin/sh", ...dropUndefined(u), name: u.name });
      continue;
    }
    const old = out[i];
    out[i] = {
      ...old,
      ...dropUndefined(u),
      keys: union(old.keys ?? [], u.keys ?? []),
      groups: union(old.groups ?? [], u.groups ?? []),
    };
  }
  return out;
}

function union<T>(a: T[], b: T[]): T[] {
  return [...new Set([...a, ...b])];
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
