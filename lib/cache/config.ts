/**
 * The remote cache of a build, from flags and the environment:
 *
 *   --cache URL[,URL...]     or ICENET_CACHE         caches to look in, in order
 *   --cache-push             or ICENET_CACHE_PUSH=1  upload results to every cache
 *   ICENET_CACHE_KEYS        trusted public key files or directories of *.pub (comma-separated)
 *   ICENET_CACHE_SIGNING_KEY private key file that signs uploads (also trusted)
 *   ICENET_CACHE_TOKEN       bearer token, or
 *   ICENET_CACHE_AUTH        user:password for basic auth (or in the URL)
 *   ICENET_CACHE_TIMEOUT     seconds without an answer or data before a cache is skipped (5)
 *
 * Configuration errors (an unreadable key, a bad URL, --cache-push without a signing
 * key) are errors before the build starts; the cache failing later never is.
 *
 * ```ts
 * const cache = await cacheFromConfig({ cache: "http://127.0.0.1:8080" }, warn);
 * ```
 */
import { loadSigner, loadTrusted } from "./record.ts";
import { RemoteCache, type Warn } from "./remote.ts";
import { openTransport } from "./transport.ts";

/** The flags that configure a cache. */
export interface CacheFlags {
  cache?: string;
  "cache-push"?: boolean;
}

/** A cache configuration error (exit code 2). */
export class CacheConfigError extends Error {}

/** The build's remote cache, or undefined when none is configured. */
export async function cacheFromConfig(
  flags: CacheFlags,
  warn: Warn,
  env: { get(name: string): string | undefined } = Deno.env,
): Promise<RemoteCache | undefined> {
  const urls = (flags.cache ?? env.get("ICENET_CACHE") ?? "").split(",").map((u) => u.trim())
    .filter(Boolean);
  const push = Boolean(flags["cache-push"]) || env.get("ICENET_CACHE_PUSH") === "1";
  if (!urls.length) {
    if (push) throw new CacheConfigError("--cache-push needs a cache: --cache URL or ICENET_CACHE");
    return undefined;
  }
  const token = env.get("ICENET_CACHE_TOKEN");
  const basic = env.get("ICENET_CACHE_AUTH");
  if (token && basic) {
    throw new CacheConfigError("set ICENET_CACHE_TOKEN or ICENET_CACHE_AUTH, not both");
  }
  if (basic !== undefined && !basic.includes(":")) {
    throw new CacheConfigError("ICENET_CACHE_AUTH must be user:password");
  }
  const authorization = token ? `Bearer ${token}` : basic ? `Basic ${btoa(basic)}` : undefined;
  const timeout = Number(env.get("ICENET_CACHE_TIMEOUT") ?? 5);
  if (!(timeout > 0)) throw new CacheConfigError("ICENET_CACHE_TIMEOUT must be seconds > 0");
  try {
    const transports = urls.map((u) =>
      openTransport(u, { timeoutMs: timeout * 1000, authorization })
    );
    const keyPaths = (env.get("ICENET_CACHE_KEYS") ?? "").split(",").map((p) => p.trim())
      .filter(Boolean);
    const trusted = await loadTrusted(keyPaths);
    const signingKey = env.get("ICENET_CACHE_SIGNING_KEY");
    const signer = signingKey
      ? await loadSigner(signingKey, "ICENET_CACHE_SIGNING_KEY")
      : undefined;
    if (push && !signer) {
      throw new Error(
        "--cache-push needs ICENET_CACHE_SIGNING_KEY (a private key file: deno task repo keygen FILE)",
      );
    }
    // A machine trusts what it signs itself.
    if (signer) trusted.set(signer.keyId, signer.publicRaw);
    if (!trusted.size) {
      warn(
        "cache: no trusted keys (ICENET_CACHE_KEYS is empty): every cached result will be a miss",
      );
    }
    return new RemoteCache({ transports, push, trusted, signer });
  } catch (e) {
    throw new CacheConfigError((e as Error).message);
  }
}
