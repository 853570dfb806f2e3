/**
 * The two namespaces of Bazel's HTTP cache protocol, `<base>/ac/<sha256>` (action
 * results) and `<base>/cas/<sha256>` (content), behind one small interface with two
 * implementations: HTTP(S) (lib/cache/http.ts) and a directory (`file://`,
 * lib/cache/dir.ts, the same layout nginx serves).
 *
 * A transport never throws for an absent entry (that is `undefined` / `false`); every
 * other failure — refused connection, timeout, an HTTP status other than 200/404, a
 * body cut short — is a `CacheUnavailable` naming the URL, never its credentials.
 *
 * ```ts
 * const t = openTransport("http://cache:8080/icenet", { timeoutMs: 5000 });
 * await t.put("cas", sha, bytes);
 * const body = await t.get("cas", sha); // { stream, size } or undefined
 * ```
 */
import { DirTransport } from "./dir.ts";
import { HttpTransport } from "./http.ts";

/** `ac` (action results, keyed by stage key) or `cas` (blobs, keyed by their sha256). */
export type Kind = "ac" | "cas";

/** A blob being read: its bytes as a stream and the size the server announced. */
export interface Body {
  stream: ReadableStream<Uint8Array>;
  size?: number;
}

/** What to upload: bytes, or a file of a known size. */
export type PutData = Uint8Array | { path: string; size: number };

/** Blobs up to this size are sent whole (with a Content-Length); bigger ones streamed. */
export const WHOLE_BODY_MAX = 64 * 1024 * 1024;

/** One cache endpoint. */
export interface Transport {
  /** The base URL as shown in messages: without user, password or query. */
  readonly url: string;
  get(kind: Kind, hash: string): Promise<Body | undefined>;
  has(kind: Kind, hash: string): Promise<boolean>;
  put(kind: Kind, hash: string, data: PutData): Promise<void>;
}

/** How to reach HTTP caches. */
export interface TransportOptions {
  /** No answer and no data for this long is a failure (default 5 s). */
  timeoutMs?: number;
  /** The Authorization header value (from the environment; never printed). */
  authorization?: string;
}

/** The cache could not be used: the build goes on without it. */
export class CacheUnavailable extends Error {
  /** `status`: the HTTP status, when the server answered. */
  constructor(readonly url: string, reason: string, readonly status?: number) {
    super(`${url}: ${reason}`);
    this.name = "CacheUnavailable";
  }
}

/** A transport for a base URL (`http://`, `https://` or `file://`). */
export function openTransport(url: string, opts: TransportOptions = {}): Transport {
  const u = parseCacheUrl(url);
  if (u.protocol === "file:") return new DirTransport(decodeURIComponent(u.pathname));
  const creds = u.username || u.password
    ? `${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`
    : undefined;
  const authorization = opts.authorization ??
    (creds ? `Basic ${btoa(creds)}` : undefined);
  u.username = "";
  u.password = "";
  return new HttpTransport(u.href.replace(/\/+$/, ""), {
    timeoutMs: opts.timeoutMs ?? 5000,
    authorization,
  });
}

/** Parse and check a cache URL; errors show it without credentials. */
export function parseCacheUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`cache URL ${redactUrl(url)}: not a URL (http://, https:// or file://)`);
  }
  if (!["http:", "https:", "file:"].includes(u.protocol)) {
    throw new Error(`cache URL ${redactUrl(url)}: use http://, https:// or file://`);
  }
  if (u.search || u.hash) {
    throw new Error(`cache URL ${redactUrl(url)}: a base URL takes no query or fragment`);
  }
  return u;
}

/** A URL as it may be shown: no user, password, query or fragment. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    u.search = "";
    u.hash = "";
    return u.href.replace(/\/+$/, "");
  } catch {
    // Not a URL: show the scheme and host part only, never what could be a secret.
    return url.replace(/\/\/[^/@]*@/, "//").replace(/[?#].*$/, "");
  }
}

/**
 * Fires `onIdle` when `touch()` was not called for `ms`: a transfer that makes
 * progress may take as long as it needs, one that stalls is cut off.
 */
export class IdleTimer {
  #timer?: ReturnType<typeof setTimeout>;
  constructor(readonly ms: number, readonly onIdle: () => void) {
    this.touch();
  }
  touch(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.onIdle, this.ms);
  }
  stop(): void {
    clearTimeout(this.#timer);
  }
}
