/**
 * The `debian` source provider: gets a file of a Debian source package or a file
 * inside a binary package through apt, with a private configuration kept under the
 * store (its own sources list, lists and cache; deb-src, extra architectures,
 * components and the backports suite added there). The host's apt configuration is
 * read, never edited, and no mirror host is named here: the URIs come from the host's
 * own sources. Backports is only ever a place to download an exact pinned version
 * from: nothing is installed, so the host's package choices stay as they are.
 */
import { join } from "node:path";
import { lockFile } from "../file_lock.ts";
import { $ } from "../shell.ts";
import type { DebianBinary, DebianSource } from "./source.ts";
import type { z } from "zod";

type Binary = z.output<typeof DebianBinary>;
type SourcePkg = z.output<typeof DebianSource>;

// armhf: rpi32's U-Boot (u-boot-rpi's 32-bit builds are only in the armhf package).
const ARCHES = ["amd64", "arm64", "armhf"];
const COMPONENTS = ["main", "non-free-firmware"];
/** Refresh the private package lists when older than this. */
const LISTS_MAX_AGE_MS = 24 * 3600 * 1000;
const UPDATE_ATTEMPTS = 3;

/** Parse the host's apt sources (one-line and deb822 formats) into deb822 stanzas. */
export function hostSources(etc = "/etc/apt"): AptSource[] {
  const out: AptSource[] = [];
  const files: string[] = [];
  try {
    Deno.statSync(join(etc, "sources.list"));
    files.push(join(etc, "sources.list"));
  } catch { /* none */ }
  try {
    for (const e of Deno.readDirSync(join(etc, "sources.list.d"))) {
      if (e.name.endsWith(".list") || e.name.endsWith(".sources")) {
        files.push(join(etc, "sources.list.d", e.name));
      }
    }
  } catch { /* none */ }
  for (const file of files.sort()) {
    const text = Deno.readTextFileSync(file);
    if (file.endsWith(".sources")) {
      for (const stanza of text.split(/\n\s*\n/)) {
        const field = (k: string) => stanza.match(new RegExp(`^${k}:\\s*(.+)$`, "mi"))?.[1].trim();
        if (field("Enabled") === "no" || !field("URIs")) continue;
        if (!(field("Types") ?? "").split(/\s+/).includes("deb")) continue;
        out.push({
          uris: field("URIs")!,
          suites: field("Suites") ?? "",
          signedBy: field("Signed-By"),
          ...(field("Trusted") === "yes" ? { trusted: true } : {}),
        });
      }
    } else {
      for (const line of text.split("\n")) {
        const m = line.match(/^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/);
        if (!m) continue;
        const signedBy = m[1]?.match(/signed-by=(\S+)/)?.[1];
        const trusted = /(^|\s)trusted=yes(\s|$)/.test(m[1] ?? "");
        out.push({ uris: m[2], suites: m[3], signedBy, ...(trusted ? { trusted } : {}) });
      }
    }
  }
  return out;
}

/**
 * Run `fn` with the private apt setup under `<store>/apt` (its APT_CONFIG environment).
 * Concurrent fetches share it: writing the configuration and `apt-get update` happen
 * under an exclusive lock, once per day, and the queries run under a shared one, so no
 * query ever sees lists that another process is rewriting.
 */
export async function withPrivateApt<T>(
  storeDir: string,
  log: (l: string) => void,
  fn: (env: Record<string, string>) => Promise<T>,
  /** The host's apt configuration directory the sources are derived from. */
  hostEtc: string = "/etc/apt",
): Promise<T> {
  const lock = join(storeDir, "apt", "lock");
  let env: Record<string, string>;
  {
    using _exclusive = await lockFile(lock, true);
    env = await preparePrivateApt(storeDir, log, hostEtc);
  }
  using _shared = await lockFile(lock, false);
  return await fn(env);
}

/** One deb822 stanza of the private sources list. */
export interface AptSource {
  uris: string;
  suites: string;
  signedBy?: string;
  /** Unsigned, trusted as the host trusts it (`[trusted=yes]`: a local archive). */
  trusted?: boolean;
}

/** Suites that name no release and so have no backports. */
const NO_BACKPORTS = new Set(["sid", "unstable", "experimental", "rc-buggy", "testing"]);

/**
 * The private sources: each host source with deb-src, our components and, beside a
 * release's own suite (`bookworm`), that release's `<suite>-backports` from the same
 * archive (QEMU with the Pi 4 machine is there). Suites that are already pockets
 * (`bookworm-security`, `bookworm-updates`) and sid get none.
 *
 * ```ts
 * privateSources([{ uris: "http://example.invalid/debian", suites: "bookworm" }]);
 * // Suites: bookworm bookworm-backports
 * ```
 */
export function privateSources(sources: AptSource[]): string {
  return sources.map((s) => {
    const suites = s.suites.split(/\s+/).filter(Boolean);
    for (const suite of [...suites]) {
      const backports = `${suite}-backports`;
      const release = /^[a-z]+$/.test(suite) && !NO_BACKPORTS.has(suite);
      if (release && !suites.includes(backports)) suites.push(backports);
    }
    return [
      "Types: deb deb-src",
      `URIs: ${s.uris}`,
      `Suites: ${suites.join(" ")}`,
      `Components: ${COMPONENTS.join(" ")}`,
      s.signedBy ? `Signed-By: ${s.signedBy}` : "",
      s.trusted ? "Trusted: yes" : "",
    ].filter(Boolean).join("\n");
  }).join("\n\n") + "\n";
}

/** Write the private configuration and refresh its lists when stale (caller holds the lock). */
async function preparePrivateApt(
  storeDir: string,
  log: (l: string) => void,
  hostEtc: string,
): Promise<Record<string, string>> {
  const dir = join(storeDir, "apt");
  const etc = join(dir, "etc");
  await Deno.mkdir(join(etc, "sources.list.d"), { recursive: true });
  await Deno.mkdir(join(etc, "preferences.d"), { recursive: true });
  await Deno.mkdir(join(dir, "state", "lists", "partial"), { recursive: true });
  await Deno.mkdir(join(dir, "cache", "archives", "partial"), { recursive: true });
  const sources = hostSources(hostEtc);
  if (sources.length === 0) {
    throw new Error(
      `debian provider: the host has no apt sources (${hostEtc}/sources.list*) to derive from`,
    );
  }
  const stanzas = privateSources(sources);
  const conf = [
    `Dir::Etc::SourceList "${join(etc, "sources.list")}";`,
    `Dir::Etc::SourceParts "${join(etc, "sources.list.d")}";`,
    `Dir::Etc::Preferences "${join(etc, "preferences")}";`,
    `Dir::Etc::PreferencesParts "${join(etc, "preferences.d")}";`,
    `Dir::State "${join(dir, "state")}";`,
    `Dir::State::status "${join(dir, "state", "status")}";`,
    `Dir::Cache "${join(dir, "cache")}";`,
    `APT::Architectures { ${ARCHES.map((a) => `"${a}";`).join(" ")} };`,
    `APT::Sandbox::User "root";`,
    `Acquire::Languages "none";`,
  ].join("\n") + "\n";
  const stamp = join(dir, "state", "updated");
  // New sources (the host's changed) or architectures make the lists stale.
  const sourcesChanged = await writeIfChanged(
    join(etc, "sources.list.d", "icenet.sources"),
    stanzas,
  );
  const changed = await writeIfChanged(join(etc, "apt.conf"), conf) || sourcesChanged;
  await writeIfChanged(join(etc, "sources.list"), "");
  await writeIfChanged(join(dir, "state", "status"), "");
  const env = { APT_CONFIG: join(etc, "apt.conf") };
  const age = await Deno.stat(stamp).then((s) => Date.now() - s.mtime!.getTime()).catch(() =>
    Infinity
  );
  if (changed || age > LISTS_MAX_AGE_MS) {
    log("debian: apt-get update (private configuration)");
    await Deno.remove(stamp).catch(() => {});
    // A mirror mid-sync fails an index now and then: try again before giving up.
    let r;
    for (let attempt = 1; attempt <= UPDATE_ATTEMPTS; attempt++) {
      r = await $`apt-get -q update --error-on=any`.env(env).stdout("piped").stderr("piped")
        .noThrow();
      if (r.code === 0) break;
      if (attempt < UPDATE_ATTEMPTS) await new Promise((ok) => setTimeout(ok, 2000 * attempt));
    }
    if (r!.code !== 0) {
      const lines = r!.stderr.trim().split("\n");
      // Errors first: they are why it failed (warnings may be many and beside the point).
      const why = [...lines.filter((l) => /^E:/.test(l)), ...lines.filter((l) => /^W:/.test(l))]
        .slice(0, 4);
      // Some indexes arrived (one archive or architecture mid-sync): go on with them.
      // Every download is still checked against its pinned sha256, and with no stamp
      // the next fetch tries the update again.
      if (await hasPackageLists(join(dir, "state", "lists"))) {
        log(
          `debian: apt-get update failed in part; going on with the indexes that arrived: ${
            why.join("; ")
          }`,
        );
        return env;
      }
      throw new Error(
        `debian provider: apt-get update of the private apt configuration (${dir}) failed ` +
          `(exit ${r!.code}, ${UPDATE_ATTEMPTS} attempts): ${why.join("; ") || lines.pop()}`,
      );
    }
    await Deno.writeTextFile(stamp, new Date().toISOString());
  }
  return env;
}

/** Whether apt's lists directory holds any package index. */
async function hasPackageLists(lists: string): Promise<boolean> {
  for await (const e of Deno.readDir(lists)) {
    if (e.isFile && /_Packages(\.\w+)?$/.test(e.name)) return true;
  }
  return false;
}

/** Write `text` to `path` unless it already holds it; true when written. */
async function writeIfChanged(path: string, text: string): Promise<boolean> {
  const old = await Deno.readTextFile(path).catch(() => undefined);
  if (old === text) return false;
  await Deno.writeTextFile(path, text);
  return true;
}

/**
 * Where an archive's pool may hold `poolPath` (`pool/main/l/linux/x.deb`, the part of a
 * `debian:` url after the colon): the same path under each archive the host uses, and
 * the security archive's layout (`pool/updates/main/...`). A version the indexes no
 * longer list (a superseded security upload leaves the index before the pool) or do not
 * list yet (a mirror mid-sync) is still found; the pinned sha256 is the trust.
 */
export function poolUrls(poolPath: string, sources = hostSources()): string[] {
  const urls: string[] = [];
  for (const s of sources) {
    for (const base of s.uris.split(/\s+/).filter((u) => /^https?:\/\//.test(u))) {
      const b = base.replace(/\/$/, "");
      urls.push(`${b}/${poolPath}`);
      if (poolPath.startsWith("pool/")) urls.push(`${b}/pool/updates/${poolPath.slice(5)}`);
    }
  }
  return [...new Set(urls)];
}

/** Extract `member` of the .deb at `deb` to `dest` (dpkg-deb, no apt). */
export async function extractDebMember(deb: string, member: string, dest: string): Promise<void> {
  const x = await Deno.makeTempDir({ prefix: "icenet-deb-" });
  try {
    await $`dpkg-deb -x ${deb} ${x}`.quiet();
    await Deno.rename(join(x, member), dest).catch(() => {
      throw new Error(`${deb} has no file ${member}`);
    });
  } finally {
    await Deno.remove(x, { recursive: true });
  }
}

/** Download a Debian binary package and extract `member` (or keep the .deb) to `dest`. */
export async function fetchDebianBinary(
  storeDir: string,
  spec: Binary,
  dest: string,
  log: (l: string) => void,
  hostEtc?: string,
): Promise<void> {
  await withPrivateApt(storeDir, log, (env) => downloadBinary(spec, dest, env, log), hostEtc);
}

async function downloadBinary(
  spec: Binary,
  dest: string,
  env: Record<string, string>,
  log: (l: string) => void,
): Promise<void> {
  const work = await Deno.makeTempDir({ prefix: "icenet-deb-" });
  try {
    const arch = spec.arch ?? "all";
    const name = arch === "all" ? spec.package : `${spec.package}:${arch}`;
    log(`debian: apt-get download ${name}=${spec.version}`);
    const r = await $`apt-get -q download ${name}=${spec.version}`.cwd(work).env(env).stderr(
      "piped",
    )
      .stdout("piped").noThrow();
    if (r.code !== 0) throw new Error(notOffered(spec.package, spec.version, r.stderr, env));
    const deb = [...Deno.readDirSync(work)].find((e) => e.name.endsWith(".deb"));
    if (!deb) throw new Error(`debian: apt-get download ${name} produced no .deb`);
    if (!spec.member) {
      await Deno.rename(join(work, deb.name), dest);
      return;
    }
    await extractDebMember(join(work, deb.name), spec.member, dest).catch(() => {
      throw new Error(`debian: ${spec.package}=${spec.version} has no file ${spec.member}`);
    });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** Download a file of a Debian source package (e.g. the orig tarball) to `dest`. */
export async function fetchDebianSource(
  storeDir: string,
  spec: SourcePkg,
  dest: string,
  log: (l: string) => void,
  hostEtc?: string,
): Promise<void> {
  await withPrivateApt(storeDir, log, (env) => downloadSourceFile(spec, dest, env, log), hostEtc);
}

async function downloadSourceFile(
  spec: SourcePkg,
  dest: string,
  env: Record<string, string>,
  log: (l: string) => void,
): Promise<void> {
  const work = await Deno.makeTempDir({ prefix: "icenet-debsrc-" });
  try {
    log(`debian: apt-get source --download-only ${spec.source}=${spec.version}`);
    // --print-uris lists the files with their URIs; fetch only the one we want.
    const r = await $`apt-get -q --print-uris source ${spec.source}=${spec.version}`.cwd(work).env(
      env,
    )
      .stdout("piped").stderr("piped").noThrow();
    if (r.code !== 0) throw new Error(notOffered(spec.source, spec.version, r.stderr, env));
    const line = r.stdout.split("\n").find((l) => l.includes(` ${spec.file} `));
    if (!line) {
      throw new Error(`debian: source ${spec.source}=${spec.version} has no file ${spec.file}`);
    }
    const uri = line.match(/^'([^']+)'/)?.[1];
    if (!uri) throw new Error(`debian: cannot parse apt-get output: ${line}`);
    const res = await fetch(uri);
    if (!res.ok || !res.body) throw new Error(`debian: ${spec.file}: HTTP ${res.status}`);
    using f = await Deno.open(dest, { write: true, create: true, truncate: true });
    await res.body.pipeTo(f.writable, { preventClose: true });
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

function notOffered(
  pkg: string,
  version: string,
  stderr: string,
  env: Record<string, string>,
): string {
  const policy = new Deno.Command("apt-cache", {
    args: ["madison", pkg],
    env,
    stdout: "piped",
    stderr: "null",
  })
    .outputSync();
  const versions = new TextDecoder().decode(policy.stdout).split("\n")
    .map((l) => l.split("|")[1]?.trim()).filter(Boolean);
  return `debian: ${pkg}=${version} is not offered by the configured Debian archive ` +
    `(${stderr.trim().split("\n").pop()}). Offered: ${
      [...new Set(versions)].join(", ") || "none"
    }. ` +
    `To bump: set the new version in the pin, run the build once, and put the printed sha256 in the pin.`;
}
