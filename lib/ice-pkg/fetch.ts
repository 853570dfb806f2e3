/**
 * Read a file from a repository: `http(s)://...` through fetch (with a progress line
 * on a TTY), anything else as a local directory (`file://` allowed).
 *
 * ```ts
 * const bytes = await repoRead("http://127.0.0.1:8080/repo", "INDEX.json");
 * ```
 */
import { IcePkgError } from "./errors.ts";

/** Largest file read from a repository (indexes and packages). */
const MAX_DOWNLOAD = 1 << 30;

function mib(n: number): string {
  return (n / 1048576).toFixed(1);
}

/** Read `name` from the repository at `url`; missing files throw NotFound-style errors. */
export async function repoRead(url: string, name: string, progress = false): Promise<Uint8Array> {
  if (!/^https?:\/\//.test(url)) {
    const dir = url.replace(/^file:\/\//, "");
    try {
      return await Deno.readFile(`${dir}/${name}`);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) throw new RepoFileMissing(`${dir}/${name}`);
      throw new IcePkgError(`${dir}/${name}: ${(e as Error).message}`);
    }
  }
  const full = `${url.replace(/\/$/, "")}/${name}`;
  let res: Response;
  try {
    res = await fetch(full);
  } catch (e) {
    throw new IcePkgError(`${full}: ${(e as Error).message}`);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    throw new RepoFileMissing(full);
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel();
    throw new IcePkgError(`${full}: HTTP ${res.status}`);
  }
  const total = Number(res.headers.get("content-length") ?? 0);
  const show = progress && Deno.stderr.isTerminal();
  const chunks: Uint8Array[] = [];
  let got = 0;
  let shown = 0;
  const enc = new TextEncoder();
  for await (const c of res.body) {
    got += c.length;
    if (got > MAX_DOWNLOAD) throw new IcePkgError(`${full}: larger than ${MAX_DOWNLOAD} bytes`);
    chunks.push(c);
    if (show && performance.now() - shown > 100) {
      shown = performance.now();
      const pct = total ? ` ${Math.floor((got / total) * 100)}%` : "";
      Deno.stderr.writeSync(enc.encode(`\r${name}:${pct} ${mib(got)} MiB `));
    }
  }
  if (show) Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
  const out = new Uint8Array(got);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** A repository file that does not exist (e.g. an unsigned index has no `.sig`). */
export class RepoFileMissing extends IcePkgError {
  constructor(where: string) {
    super(`${where}: not found`);
  }
}
