/**
 * Bounded memory: ice-pkg runs as its own process (as the device runs it, with
 * runtime.ts's flags) under GNU time, and its peak RSS (the largest of it and its xz
 * child) must stay under 64 MiB whatever the package:
 * xz bombs are refused as soon as the stream departs from the metadata, a download
 * stops at the size the signed index gives, and a package bigger than any old limit
 * installs. ICE_PKG_BIG_MIB sets the big package's size (default 600).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, fixture, publishRaw, withTempDir } from "./_helpers.ts";
import { writeTar } from "../../lib/ice-pkg/format/tar.ts";
import { sha256Hex } from "../../lib/ice-pkg/hash.ts";
import { writePackage } from "../../lib/ice-pkg/package.ts";
import { DENO_FLAGS } from "../../lib/ice-pkg/runtime.ts";

const MAIN = new URL("../../lib/ice-pkg/main.ts", import.meta.url).pathname;
/** 64 MiB, in KiB as GNU time reports it. */
const LIMIT_KIB = 64 * 1024;
const BIG_MIB = Number(Deno.env.get("ICE_PKG_BIG_MIB") ?? 600);
const hello = { meta: { name: "hello" }, files: { "usr/bin/hello": "hi\n" } };
const enc = new TextEncoder();

/** Run ice-pkg in its own process; returns exit code, stderr and peak RSS in KiB. */
async function measured(root: string, ...args: string[]) {
  const rss = await Deno.makeTempFile();
  try {
    const p = await new Deno.Command("/usr/bin/time", {
      args: [
        "-f",
        "%M",
        "-o",
        rss,
        Deno.execPath(),
        "run",
        ...DENO_FLAGS,
        "-A",
        MAIN,
        "--root",
        root,
        ...args,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: p.code,
      err: new TextDecoder().decode(p.stderr),
      maxRssKiB: Number(Deno.readTextFileSync(rss).trim().split("\n").at(-1)),
    };
  } finally {
    Deno.removeSync(rss);
  }
}

/** xz-compress `data` (one stream). */
async function xz(data: Uint8Array): Promise<Uint8Array> {
  const c = new Deno.Command("xz", { args: ["-6", "-c"], stdin: "piped", stdout: "piped" }).spawn();
  const w = c.stdin.getWriter();
  await w.write(data);
  await w.close();
  return (await c.output()).stdout;
}

/**
 * An xz file that decompresses to `prefix` followed by `zeroMiB` MiB of zeros, made of
 * concatenated streams (xz -d joins them) so that building a GiB bomb takes a second.
 */
async function bomb(prefix: Uint8Array, zeroMiB: number): Promise<Uint8Array> {
  const chunk = await xz(new Uint8Array(64 << 20));
  const parts = [await xz(prefix)];
  for (let n = 0; n < zeroMiB; n += 64) parts.push(chunk);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Metadata member + a header for `path` that claims `size` bytes (checksum fixed). */
async function prefixWith(path: string, declared: string, size: number): Promise<Uint8Array> {
  const data = enc.encode(declared);
  const meta = {
    format: 1,
    name: "bomb",
    version: "1.0",
    release: 0,
    arch: "noarch",
    installedSize: data.length,
    files: [
      { path: "usr", type: "dir", mode: 0o755, uid: 0, gid: 0 },
      {
        path,
        type: "file",
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: data.length,
        sha256: await sha256Hex(data),
      },
    ],
  };
  const tar = writeTar([
    { path: ".ice-meta.json", type: "file", mode: 0o644, data: enc.encode(JSON.stringify(meta)) },
    { path: "usr", type: "dir", mode: 0o755 },
    { path, type: "file", mode: 0o644, data: new Uint8Array() },
  ]);
  const h = tar.length - 1024 - 512; // the last header, before the end-of-archive blocks
  const head = tar.slice(0, h + 512);
  head.set(enc.encode(size.toString(8).padStart(11, "0") + "\0"), h + 124);
  head.fill(0x20, h + 148, h + 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += head[h + i];
  head.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), h + 148);
  return head;
}

Deno.test("xz bombs are refused early with bounded memory", async (t) => {
  const cases: [string, () => Promise<Uint8Array>, RegExp][] = [
    [
      "an entry far bigger than declared",
      async () => await bomb(await prefixWith("usr/bomb", "tiny\n", 1 << 30), 1024),
      /bomb-1\.0-r0\.ice: usr\/bomb: size 1073741824, metadata says 5/,
    ],
    [
      "a gigabyte of zeros after the end of the archive",
      async () => {
        const ok = writeTar([{
          path: ".ice-meta.json",
          type: "file",
          mode: 0o644,
          data: enc.encode(
            JSON.stringify({
              format: 1,
              name: "bomb",
              version: "1.0",
              release: 0,
              arch: "noarch",
              installedSize: 0,
              files: [],
            }),
          ),
        }]);
        return await bomb(ok, 1024);
      },
      /bomb-1\.0-r0\.ice: data after the end of the archive/,
    ],
    [
      "a metadata member of a gigabyte",
      async () => {
        const h = writeTar([{
          path: ".ice-meta.json",
          type: "file",
          mode: 0o644,
          data: new Uint8Array(),
        }]).slice(0, 512);
        h.set(enc.encode((1 << 30).toString(8).padStart(11, "0") + "\0"), 124);
        h.fill(0x20, 148, 156);
        let sum = 0;
        for (let i = 0; i < 512; i++) sum += h[i];
        h.set(enc.encode(sum.toString(8).padStart(6, "0") + "\0 "), 148);
        return await bomb(h, 1024);
      },
      /bomb-1\.0-r0\.ice: \.ice-meta\.json: 1073741824 bytes, more than the \d+ allowed for metadata/,
    ],
  ];
  for (const [name, make, re] of cases) {
    await t.step(name, async () => {
      await withTempDir(async (dir) => {
        const f = await fixture(dir, [hello]);
        await publishRaw(f, [{ name: "bomb", bytes: await make() }]);
        const t0 = performance.now();
        const r = await measured(f.root, "install", "bomb");
        const secs = (performance.now() - t0) / 1000;
        assert.equal(r.code, 4, r.err);
        assert.match(r.err, re);
        console.log(`${name}: refused in ${secs.toFixed(1)} s, peak RSS ${r.maxRssKiB} KiB`);
        assert.ok(r.maxRssKiB < LIMIT_KIB, `peak RSS ${r.maxRssKiB} KiB`);
        assert.ok(secs < 30, `took ${secs.toFixed(1)} s to refuse`);
        assert.equal((await cli(f.root, "list")).code, 0);
      });
    });
  }
});

Deno.test("a download stops at the size the signed index gives", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello]);
    const file = join(f.repo, "hello-1.0-r0.ice");
    const real = Deno.readFileSync(file);
    let sent = 0;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
      const name = new URL(req.url).pathname.split("/").pop()!;
      if (name !== "hello-1.0-r0.ice") return new Response(await Deno.readFile(join(f.repo, name)));
      // The right bytes, then 64 MiB more, without a Content-Length.
      let i = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          const chunk = i === 0 ? real : new Uint8Array(1 << 20);
          if (i++ > 64) return c.close();
          sent += chunk.length;
          c.enqueue(chunk);
        },
      });
      return new Response(body);
    });
    try {
      Deno.writeTextFileSync(join(f.root, "etc/icenet/repositories"), "");
      const url = `http://127.0.0.1:${server.addr.port}/repo`;
      const r = await measured(f.root, "--repo", url, "install", "hello");
      assert.equal(r.code, 4, r.err);
      assert.match(
        r.err,
        new RegExp(`hello-1\\.0-r0\\.ice: more than the ${real.length} bytes the index gives`),
      );
      assert.ok(sent < 16 << 20, `the server sent ${sent} bytes`);
      assert.ok(r.maxRssKiB < LIMIT_KIB, `peak RSS ${r.maxRssKiB} KiB`);
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test(`a ${BIG_MIB} MiB package installs within the memory bound`, async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello]);
    const tree = join(dir, "tree");
    Deno.mkdirSync(join(tree, "usr/share/big"), { recursive: true });
    Deno.writeTextFileSync(join(tree, "usr/share/big/README"), "big\n");
    Deno.writeFileSync(join(tree, "usr/share/big/zeros"), new Uint8Array());
    Deno.truncateSync(join(tree, "usr/share/big/zeros"), BIG_MIB << 20);
    const ice = join(dir, "big.ice");
    await writePackage(tree, { name: "big", version: "1.0", release: 0, arch: "noarch" }, ice);
    await publishRaw(f, [{ name: "big", bytes: Deno.readFileSync(ice) }]);
    const r = await measured(f.root, "install", "big");
    assert.equal(r.code, 0, r.err);
    console.log(`install of ${BIG_MIB} MiB: peak RSS ${r.maxRssKiB} KiB`);
    assert.ok(r.maxRssKiB < LIMIT_KIB, `peak RSS ${r.maxRssKiB} KiB`);
    assert.equal(Deno.statSync(join(f.root, "usr/share/big/zeros")).size, BIG_MIB << 20);
    const v = await measured(f.root, "verify");
    assert.equal(v.code, 0, v.err);
    assert.ok(v.maxRssKiB < LIMIT_KIB, `verify: peak RSS ${v.maxRssKiB} KiB`);
  });
});
