/**
 * The two transports on their own: HTTP against nginx on loopback (a blob too big to
 * send whole goes chunked with X-Digest-SizeBytes), and a directory; absent entries
 * are misses, not errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256 } from "../../lib/hash.ts";
import {
  type Kind,
  openTransport,
  redactUrl,
  type Transport,
  WHOLE_BODY_MAX,
} from "../../lib/cache/transport.ts";
import { startNginx } from "./_nginx.ts";

async function readAll(t: Transport, kind: Kind, hash: string): Promise<Uint8Array | undefined> {
  const b = await t.get(kind, hash);
  return b && new Uint8Array(await new Response(b.stream).arrayBuffer());
}

Deno.test("transports: put, has, get over HTTP (nginx) and file://, whole and streamed", async (t) => {
  const server = await startNginx();
  const dir = await Deno.makeTempDir();
  try {
    // Over the whole-body limit: sent as a stream, with its size in X-Digest-SizeBytes.
    const big = new Uint8Array(WHOLE_BODY_MAX + 4096 * 3);
    for (let i = 0; i < big.length; i += 512) big[i] = (i >> 9) & 0xff;
    const bigFile = join(dir, "big");
    await Deno.writeFile(bigFile, big);
    const small = new TextEncoder().encode("small blob\n");
    await Deno.mkdir(join(dir, "cache"));
    for (const url of [server.url, `file://${dir}/cache`]) {
      await t.step(url.split(":")[0], async () => {
        const tr = openTransport(url);
        assert.equal(await tr.has("cas", sha256(small)), false);
        assert.equal(await tr.get("cas", sha256(small)), undefined);
        await tr.put("cas", sha256(small), small);
        assert.equal(await tr.has("cas", sha256(small)), true);
        assert.deepEqual(await readAll(tr, "cas", sha256(small)), small);
        await tr.put("cas", sha256(big), { path: bigFile, size: big.length });
        const back = await readAll(tr, "cas", sha256(big));
        assert.equal(back?.length, big.length);
        assert.equal(sha256(back!), sha256(big));
        await tr.put("ac", "a".repeat(64), small);
        assert.deepEqual(await readAll(tr, "ac", "a".repeat(64)), small);
      });
    }
  } finally {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("redactUrl() and openTransport() keep credentials out of what they show", () => {
  assert.equal(
    redactUrl("https://ci:pw@cache.example:8443/icenet/?t=x#f"),
    "https://cache.example:8443/icenet",
  );
  assert.equal(redactUrl("not a url://u:p@h/x?token=1"), "not a url://h/x");
  const tr = openTransport("http://ci:pw@127.0.0.1:9/cache/");
  assert.equal(tr.url, "http://127.0.0.1:9/cache");
  assert.throws(
    () => openTransport("http://ci:pw@h/c?token=x"),
    /cache URL http:\/\/h\/c: a base URL takes no query/,
  );
});
