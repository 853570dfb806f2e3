/**
 * The files the rootfs stage writes itself (everything else comes from packages):
 * the repository key, enabled services, host name, accounts and SSH keys, network,
 * Wi-Fi and time zone settings, the repository list. Each one is recorded, so a test can check that every file of the
 * image is owned by a package or listed here.
 *
 * ```ts
 * const gen = new Generated(tree);
 * await gen.write("etc/hostname", "icenet\n");
 * gen.list(); // [{ path: "etc/hostname", why: "modified conffile of base-files" }, ...]
 * ```
 */
import { dirname, join } from "node:path";
import type { ImageDef } from "../image_def.ts";
import { tzifFromRule } from "../tzif.ts";

/** One generated path and why it exists. */
export interface GeneratedEntry {
  path: string;
  why: string;
}

/** Writes files into a tree and remembers them. */
export class Generated {
  #entries = new Map<string, string>();
  constructor(readonly tree: string) {}

  /** Write a file (parents created 0755) with `mode`. */
  async write(path: string, text: string, why: string, mode = 0o644): Promise<void> {
    const abs = join(this.tree, path);
    await Deno.mkdir(dirname(abs), { recursive: true });
    await Deno.writeTextFile(abs, text);
    await Deno.chmod(abs, mode);
    this.#entries.set(path, why);
  }

  /** Write a binary file (parents created 0755) with `mode`. */
  async writeBytes(path: string, data: Uint8Array, why: string, mode = 0o644): Promise<void> {
    const abs = join(this.tree, path);
    await Deno.mkdir(dirname(abs), { recursive: true });
    await Deno.writeFile(abs, data);
    await Deno.chmod(abs, mode);
    this.#entries.set(path, why);
  }

  /** Make a directory with `mode`. */
  async dir(path: string, why: string, mode = 0o755): Promise<void> {
    const abs = join(this.tree, path);
    await Deno.mkdir(abs, { recursive: true });
    await Deno.chmod(abs, mode);
    this.#entries.set(path, why);
  }

  /** Make a symlink. */
  async symlink(path: string, target: string, why: string): Promise<void> {
    await Deno.mkdir(dirname(join(this.tree, path)), { recursive: true });
    await Deno.symlink(target, join(this.tree, path));
    this.#entries.set(path, why);
  }

  /** Record a path written by someone else (the package database). */
  note(path: string, why: string): void {
    this.#entries.set(path, why);
  }

  /** Read a file of the tree. */
  read(path: string): Promise<string> {
    return Deno.readTextFile(join(this.tree, path));
  }

  /** Everything written, sorted by path. */
  list(): GeneratedEntry[] {
    return [...this.#entries].map(([path, why]) => ({ path, why }))
      .sort((a, b) => (a.path < b.path ? -1 : 1));
  }
}

/** Enable services: `etc/icenet/services/<name>` -> the package's service file. */
export async function enableServices(gen: Generated, services: string[]): Promise<void> {
  for (const s of services) {
    const file = `usr/lib/icenet/services/${s}`;
    try {
      await Deno.stat(join(gen.tree, file));
    } catch {
      throw new Error(
        `image: services: "${s}": no installed package brings /${file} (is its package listed?)`,
      );
    }
    await gen.symlink(`etc/icenet/services/${s}`, `/${file}`, "enabled service");
  }
}

/** Add the image's users: passwd/group/shadow entries, home, authorized_keys. */
export async function writeUsers(gen: Generated, users: ImageDef["users"]): Promise<void> {
  if (users.length === 0) return;
  const why = "modified conffile of base-files (image users)";
  let passwd = await gen.read("etc/passwd");
  let shadow = await gen.read("etc/shadow");
  let group = await gen.read("etc/group");
  for (const u of users) {
    const home = u.name === "root" ? "root" : `home/${u.name}`;
    const uid = u.name === "root" ? 0 : u.uid!;
    const hash = u.password ?? "!";
    if (u.name === "root") {
      shadow = shadow.replace(/^root:[^:]*:/m, `root:${hash}:`);
    } else {
      if (new RegExp(`^${u.name}:`, "m").test(passwd)) {
        throw new Error(`image: users: "${u.name}" already exists in /etc/passwd`);
      }
      passwd += `${u.name}:x:${uid}:${uid}:${u.name}:/${home}:${u.shell}\n`;
      group += `${u.name}:x:${uid}:\n`;
      shadow += `${u.name}:${hash}:0::::::\n`;
      await gen.dir(home, "home of an image user", 0o700);
    }
    for (const g of u.groups) {
      const re = new RegExp(`^(${g}:[^:]*:[^:]*:)(.*)$`, "m");
      if (!re.test(group)) throw new Error(`image: users: "${u.name}": unknown group "${g}"`);
      group = group.replace(
        re,
        (_, head: string, members: string) =>
          head + [...members.split(",").filter(Boolean), u.name].join(","),
      );
    }
    if (u.keys.length > 0) {
      await gen.dir(`${home}/.ssh`, "SSH keys of an image user", 0o700);
      await gen.write(
        `${home}/.ssh/authorized_keys`,
        u.keys.join("\n") + "\n",
        "SSH keys of an image user",
        0o600,
      );
      if (uid !== 0) {
        // Owned by the user: dropbear refuses keys in a directory others control.
        await Deno.chown(join(gen.tree, home), uid, uid);
        await Deno.chown(join(gen.tree, home, ".ssh"), uid, uid);
        await Deno.chown(join(gen.tree, home, ".ssh/authorized_keys"), uid, uid);
      }
    }
  }
  await gen.write("etc/passwd", passwd, why);
  await gen.write("etc/group", group, why);
  await gen.write("etc/shadow", shadow, why, 0o600);
}

/** The wired network: `etc/icenet/network`, read by base-files' network service. */
export async function writeNetwork(gen: Generated, net: ImageDef["network"]): Promise<void> {
  const lines = [
    "# The network service's settings (written by the image build or first-boot setup).",
    `ipv4=${net.ipv4}`,
    ...(net.gateway ? [`gateway=${net.gateway}`] : []),
    ...(net.dns.length ? [`dns="${net.dns.join(" ")}"`] : []),
  ];
  await gen.write("etc/icenet/network", lines.join("\n") + "\n", "modified conffile of base-files");
}

/** Wi-Fi: wpa_supplicant's configuration with the derived PSK only (mode 0600). */
export async function writeWifi(gen: Generated, wifi: ImageDef["wifi"]): Promise<void> {
  if (!wifi) return;
  const text = [
    "# Written by the image build or first-boot setup; psk is the derived key, not the",
    "# passphrase (wpa_passphrase). wpa_cli talks to the daemon through ctrl_interface.",
    "ctrl_interface=/run/wpa_supplicant",
    `country=${wifi.country}`,
    "network={",
    `\tssid=${JSON.stringify(wifi.ssid)}`,
    `\tpsk=${wifi.psk}`,
    "}",
  ].join("\n") + "\n";
  await gen.write("etc/wpa_supplicant.conf", text, "Wi-Fi settings of the image", 0o600);
}

/**
 * Wi-Fi settings enable the wifi service, which a package brings (wpa-supplicant: the Pi
 * boards' packages). Settings with no such package are an error naming `where`.
 */
export async function enableWifi(
  gen: Generated,
  wifi: ImageDef["wifi"],
  where: string,
): Promise<void> {
  if (!wifi) return;
  await enableServices(gen, ["wifi"]).catch(() => {
    throw new Error(
      `${where}: wifi: set, but no package of the image brings the wifi service ` +
        `(wpa-supplicant; boards with a radio list it under packages in boards/*.yaml)`,
    );
  });
}

/** The time zone: `etc/localtime` holding the POSIX rule (UTC needs no file). */
export async function writeTimezone(gen: Generated, rule: string): Promise<void> {
  if (rule === "UTC") return;
  await gen.writeBytes("etc/localtime", tzifFromRule(rule), "time zone of the image");
}
