/**
 * Bazel's HTTP cache protocol over `fetch`: `GET`, `HEAD` and `PUT` on
 * `<base>/ac/<hash>` and `<base>/cas/<hash>`. Works with bazel-remote, nginx with
 * WebDAV `PUT`, Apache mod_dav, or any server that stores what is PUT and serves it
 * back. 200 is a hit, 404 a miss; anything else, a refused connection, a stall longer
 * than the timeout or a body cut short throws `CacheUnavailable`.
 *
 * Bodies up to 64 MiB are sent whole with a Content-Length; bigger files are streamed
 * (chunked) with `X-Digest-SizeBytes`, the header bazel-remote reads for the size of a
 * streamed PUT.
 */
import {
  type Body,
  CacheUnavailable,
  IdleTimer,
  type Kind,
  type PutData,
  type Transport,
  WHOLE_BODY_MAX,
} from "./transport.ts";

/** The slowest upload rate a whole-body PUT is given time for. */
const MIN_UPLOAD_RATE = 512 * 1024;

/** An HTTP(S) cache at a base URL (given without credentials). */
export class HttpTransport implements Transport {
  constructor(
    readonly url: string,
    readonly opts: { timeoutMs: number; authorization?: string },
  ) {}

  async get(kind: Kind, hash: string): Promise<Body | undefined> {
    const { res, idle, where } = await this.#request("GET", kind, hash);
    if (res.status === 404) {
      idle.stop();
      await res.body?.cancel();
      return undefined;
    }
    if (res.status !== 200 || !res.body) {
      idle.stop();
      await res.body?.cancel();
      throw new CacheUnavailable(where, statusText(res.status), res.status);
    }
    const len = res.headers.get("content-length");
    const reader = res.body.getReader();
    const stream = new ReadableStream<Uint8Array>({
      async pull(c) {
        try {
          const { done, value } = await reader.read();
          idle.touch();
          if (done) {
            idle.stop();
            c.close();
          } else c.enqueue(value);
        } catch (e) {
          idle.stop();
          c.error(new CacheUnavailable(where, `body cut short: ${reason(e, idle)}`));
        }
      },
      cancel(r) {
        idle.stop();
        return reader.cancel(r);
      },
    });
    return { stream, size: len === null ? undefined : Number(len) };
  }

  async has(kind: Kind, hash: string): Promise<boolean> {
    const { res, idle, where } = await this.#request("HEAD", kind, hash);
    idle.stop();
    await res.body?.cancel();
    if (res.status === 200) return true;
    if (res.status === 404) return false;
    throw new CacheUnavailable(where, statusText(res.status), res.status);
  }

  async put(kind: Kind, hash: string, data: PutData): Promise<void> {
    let body: BodyInit | ((touch: () => void) => BodyInit), size: number;
    const headers: Record<string, string> = { "content-type": "application/octet-stream" };
    let deadline = 0;
    let file: Deno.FsFile | undefined;
    if (data instanceof Uint8Array || data.size <= WHOLE_BODY_MAX) {
      const bytes = data instanceof Uint8Array ? data : await Deno.readFile(data.path);
      body = bytes as Uint8Array<ArrayBuffer>;
      size = bytes.length;
      // A whole body gives no progress to watch: allow for a slow link.
      deadline = Math.ceil(size / MIN_UPLOAD_RATE) * 1000;
    } else {
      size = data.size;
      file = await Deno.open(data.path);
      const source = file.readable;
      // Each chunk the server takes is progress: the idle timeout restarts.
      body = (touch: () => void) =>
        source.pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform(chunk, c) {
              touch();
              c.enqueue(chunk);
            },
          }),
        );
      headers["x-digest-sizebytes"] = String(size);
    }
    try {
      const { res, idle, where } = await this.#request("PUT", kind, hash, {
        body,
        headers,
        extraMs: deadline,
      });
      idle.stop();
      await res.body?.cancel();
      if (res.status < 200 || res.status > 299) {
        throw new CacheUnavailable(where, `PUT refused: ${statusText(res.status)}`, res.status);
      }
    } finally {
      try {
        file?.close();
      } catch { /* closed by the stream */ }
    }
  }

  /** One request with the idle timeout armed; the caller stops it when done. */
  async #request(
    method: string,
    kind: Kind,
    hash: string,
    extra: {
      body?: BodyInit | ((touch: () => void) => BodyInit);
      headers?: Record<string, string>;
      extraMs?: number;
    } = {},
  ): Promise<{ res: Response; idle: IdleTimer; where: string }> {
    const where = `${this.url}/${kind}/${hash}`;
    const ctl = new AbortController();
    const idle = new IdleTimer(this.opts.timeoutMs + (extra.extraMs ?? 0), () => ctl.abort());
    const headers: Record<string, string> = { ...extra.headers };
    if (this.opts.authorization) headers.authorization = this.opts.authorization;
    const body = typeof extra.body === "function" ? extra.body(() => idle.touch()) : extra.body;
    try {
      const res = await fetch(where, { method, headers, body, signal: ctl.signal });
      idle.touch();
      return { res, idle, where };
    } catch (e) {
      idle.stop();
      throw new CacheUnavailable(where, reason(e, idle));
    }
  }
}

function statusText(status: number): string {
  if (status === 401 || status === 403) {
    return `HTTP ${status} (check ICENET_CACHE_TOKEN or ICENET_CACHE_AUTH)`;
  }
  return `HTTP ${status}`;
}

/** Why a request failed, in a few words (fetch's messages carry no credentials). */
function reason(e: unknown, idle: IdleTimer): string {
  if ((e as Error).name === "AbortError") return `no answer for ${idle.ms / 1000} s`;
  // fetch says "fetch failed" and puts the reason in `cause`.
  const cause = (e as Error).cause as Error | undefined;
  const msg = cause?.message ?? (e as Error).message ?? String(e);
  // "error sending request for url (...): client error (Connect): tcp connect error: ..."
  return msg.replace(/^error sending request for url \([^)]*\):\s*/, "").split("\n")[0];
}
