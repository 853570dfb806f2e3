/**
 * The source fetcher. A source is `{ url, sha256 }`; the file is looked for, in
 * order, in the download dir (ICENET_SOURCES), the configured mirrors (ICENET_MIRRORS:
 * comma-separated local directories or base URLs, then the source's own mirrors),
 * the upstream url, and finally the providers (npm, Debian). Every candidate is verified by
 * sha256 before it is moved into the download dir; a mismatch names both hashes.
 */
import { join } from "node:path";
import { lockFile } from "../file_lock.ts";
import { sha256File } from "../hash.ts";
import {
  extractDebMember,
  fetchDebianBinary,
  fetchDebianSource,
  hostSources,
  poolUrls,
} from "./debian.ts";
import { fetchNpmPackage } from "./npm.ts";
import { type Source, sourceFilename } from "./source.ts";

export type { Source } from "./source.ts";

/** A sha256 mismatch: names both hashes and what to do. */
export class HashMismatchError extends Error {
  constructor(readonly what: string, readonly expected: string, readonly actual: string) {
    super(
      `${what}: sha256 mismatch: expected ${expected}, got ${actual}; the file was removed. ` +
        `If the new content is trusted, put the new sha256 in the pin.`,
    );
  }
}

/** Where and how to fetch. */
export interface FetchOptions {
  /** The shared download dir. */
  downloadDir: string;
  /** The store dir (for the Debian provider's private apt state). */
  storeDir: string;
  /** Mirrors tried before the upstream url (directories or base URLs). */
  mirrors?: string[];
  /** The host apt configuration the Debian provider derives its sources from (tests). */
  aptEtc?: string;
  /** Skip network and providers (tests). */
  offline?: boolean;
  log?: (line: string) => void;
}

/** Default download dir: ICENET_SOURCES, else <store>/sources. */
export function defaultDownloadDir(storeDir: string): string {
  return Deno.env.get("ICENET_SOURCES") || join(storeDir, "sources");
}

/** Mirrors from ICENET_MIRRORS. */
export function envMirrors(): string[] {
  return (Deno.env.get("ICENET_MIRRORS") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

/**
 * Fetch one source; returns its path in the download dir. One fetch per file at a
 * time, in this process and across processes sharing the download dir: a second
 * caller waits for the first and then finds the file in place.
 */
export async function fetchSource(src: Source, opts: FetchOptions): Promise<string> {
  const log = opts.log ?? (() => {});
  const name = sourceFilename(src);
  const waiting = setTimeout(() => log(`waiting for another fetch of ${name}`), 1000);
  try {
    using _lock = await lockFile(join(opts.downloadDir, ".locks", `${name}.lock`), true);
    clearTimeout(waiting);
    return await fetchLocked(src, name, opts, log);
  } finally {
    clearTimeout(waiting);
  }
}

async function fetchLocked(
  src: Source,
  name: string,
  opts: FetchOptions,
  log: (line: string) => void,
): Promise<string> {
  const dest = join(opts.downloadDir, name);
  if (await isFile(dest)) {
    const have = await sha256File(dest);
    if (have === src.sha256) return dest;
    await Deno.remove(dest);
    throw new HashMismatchError(dest, src.sha256, have);
  }
  const tmp = `${dest}.part-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  const errors: string[] = [];
  const tryCandidate = async (what: string, get: () => Promise<void>): Promise<boolean> => {
    try {
      await get();
    } catch (e) {
      errors.push(`${what}: ${(e as Error).message}`);
      await Deno.remove(tmp).catch(() => {});
      return false;
    }
    const have = await sha256File(tmp);
    if (have !== src.sha256) {
      await Deno.remove(tmp).catch(() => {});
      throw new HashMismatchError(`${name} from ${what}`, src.sha256, have);
    }
    await Deno.rename(tmp, dest);
    log(`fetched ${name} from ${what}`);
    return true;
  };
  for (const m of [...(opts.mirrors ?? []), ...(src.mirrors ?? [])]) {
    if (/^https?:\/\//.test(m)) {
      const url = `${m.replace(/\/$/, "")}/${name}`;
      if (!opts.offline && await tryCandidate(url, () => download(url, tmp, log))) return dest;
    } else if (await isFile(join(m, name))) {
      if (await tryCandidate(join(m, name), () => Deno.copyFile(join(m, name), tmp))) return dest;
    }
  }
  if (!opts.offline) {
    const http = /^https?:\/\//.test(src.url);
    if (http && await tryCandidate(src.url, () => download(src.url, tmp, log))) return dest;
    if (src.npm) {
      const n = src.npm;
      if (
        await tryCandidate("npm provider", () => fetchNpmPackage(n.package, n.version, tmp, log))
      ) return dest;
    }
    if (src.debian) {
      const d = src.debian;
      const ok = await tryCandidate(
        "debian provider",
        () =>
          "source" in d
            ? fetchDebianSource(opts.storeDir, d, tmp, log, opts.aptEtc)
            : fetchDebianBinary(opts.storeDir, d, tmp, log, opts.aptEtc),
      );
      if (ok) return dest;
      // apt does not offer the pinned version: the file straight from the pools.
      if (src.url.startsWith("debian:")) {
        const member = "member" in d ? d.member : undefined;
        for (const url of poolUrls(src.url.slice("debian:".length), hostSources(opts.aptEtc))) {
          const get = async () => {
            if (!member) return await download(url, tmp, log);
            const deb = `${tmp}.deb`;
            try {
              await download(url, deb, log);
              await extractDebMember(deb, member, tmp);
            } finally {
              await Deno.remove(deb).catch(() => {});
            }
          };
          if (await tryCandidate(`debian pool ${url}`, get)) return dest;
        }
      }
    }
  }
  throw new Error(
    `cannot fetch ${name} (sha256 ${src.sha256}):\n  ${errors.join("\n  ") || "no mirror has it"}`,
  );
}

/** A download that receives nothing for this long is given up (a kernel tarball takes longer in all). */
const STALL_MS = 30_000;

/** HTTP download with a progress line on a TTY. */
async function download(url: string, dest: string, log: (l: string) => void): Promise<void> {
  const abort = new AbortController();
  let stall: ReturnType<typeof setTimeout> | undefined;
  const alive = () => {
    clearTimeout(stall);
    stall = setTimeout(
      () => abort.abort(new Error(`nothing received for ${STALL_MS / 1000} s`)),
      STALL_MS,
    );
  };
  alive();
  try {
    await downloadBody(url, dest, log, abort.signal, alive);
  } finally {
    clearTimeout(stall);
  }
}

async function downloadBody(
  url: string,
  dest: string,
  log: (l: string) => void,
  signal: AbortSignal,
  alive: () => void,
): Promise<void> {
  const res = await fetch(url, { signal }).catch((e) => {
    throw new Error(`unreachable (${(e as Error).message})`);
  });
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status}`);
  }
  const total = Number(res.headers.get("content-length") ?? 0);
  const tty = Deno.stderr.isTerminal();
  let got = 0, shown = 0;
  using f = await Deno.open(dest, { write: true, create: true, truncate: true });
  for await (const chunk of res.body) {
    await f.write(chunk);
    alive();
    got += chunk.length;
    if (tty && total && got - shown > total / 50) {
      shown = got;
      Deno.stderr.writeSync(
        new TextEncoder().encode(`\r  ${url}: ${Math.floor((got * 100) / total)}%`),
      );
    }
  }
  if (tty && total) Deno.stderr.writeSync(new TextEncoder().encode("\r\x1b[K"));
  log(`downloaded ${url} (${got} bytes)`);
}

async function isFile(p: string): Promise<boolean> {
  try {
    return (await Deno.stat(p)).isFile;
  } catch {
    return false;
  }
}
