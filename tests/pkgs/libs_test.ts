/**
 * The library packages and the programs built against them, for each architecture:
 * the real stages build them (in the user's store: warm runs take seconds, a cold
 * store builds musl and the packages first), their `.ice` files are unpacked with
 * musl's into a root, and the programs run in it (bubblewrap chroot) natively on
 * x86_64 or under qemu-user, copied into the root, for aarch64 and armv7. They are
 * dynamically linked: every library comes from the root's packages.
 *
 * - curl fetches from a Deno server on loopback: plain HTTP, a gzip-encoded body it
 *   must decode (zlib), and HTTPS against a throw-away CA (mbedTLS);
 * - nano and htop print their versions; on a pseudo-terminal (util-linux `script`)
 *   nano edits and saves a file and htop draws its screen (ncurses, terminfo).
 */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { readPackageMeta } from "../../lib/ice-pkg/package.ts";
import { elfInfo } from "../userland/_build.ts";
import { BOARDS, makeRoot, onTerminal, run, SCRATCH } from "./_root.ts";
import { buildReal, packageIn } from "../rootfs/_real.ts";

const PACKAGES = ["musl", "zlib", "mbedtls", "ncurses", "curl", "nano", "htop"];

/**
 * A CA and a certificate it signed for the name `icenet.test` (EC P-256), made by
 * openssl. A name, not 127.0.0.1: mbedTLS 2.28 matches DNS names only.
 */
async function makeCerts(dir: string): Promise<{ ca: string; cert: string; key: string }> {
  const sh = `set -e
openssl ecparam -name prime256v1 -genkey -noout -out ca.key
openssl req -x509 -new -key ca.key -subj /CN=icenet-test-ca -days 2 -out ca.pem
openssl ecparam -name prime256v1 -genkey -noout -out server.key
openssl req -new -key server.key -subj /CN=icenet.test -out server.csr
printf 'subjectAltName=DNS:icenet.test\\n' > ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -extfile ext.cnf -out server.pem
`;
  const r = await new Deno.Command("sh", { args: ["-c", sh], cwd: dir }).output();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
  const read = (f: string) => Deno.readTextFileSync(join(dir, f));
  return { ca: read("ca.pem"), cert: read("server.pem"), key: read("server.key") };
}

const BODY = "IceNet-OS says hello through curl. ".repeat(40);

for (const b of BOARDS) {
  Deno.test(`${b.arch}: curl, nano and htop run against their shared libraries`, async (t) => {
    const res = await buildReal(PACKAGES.map((p) => `pkg:${p}`), b.board);
    const files = Object.fromEntries(
      PACKAGES.map((p) => [p, packageIn(res.get(`pkg:${p}`)!.out!)]),
    );
    const dir = await Deno.makeTempDir({ prefix: `icenet-libs-${b.arch}-` });
    const root = await makeRoot(b, Object.values(files), dir);
    const certs = await makeCerts(dir);
    await Deno.writeTextFile(join(root.work, "ca.pem"), certs.ca);
    const seen: string[] = [];
    const handler = (req: Request) => {
      seen.push(`${new URL(req.url).pathname} ${req.headers.get("accept-encoding") ?? ""}`);
      if (new URL(req.url).pathname === "/gzip") {
        return new Response(new Uint8Array(gzipSync(BODY)), {
          headers: { "content-encoding": "gzip" },
        });
      }
      return new Response(BODY);
    };
    const http = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, handler);
    const https = Deno.serve(
      { hostname: "127.0.0.1", port: 0, cert: certs.cert, key: certs.key, onListen() {} },
      handler,
    );
    try {
      await t.step("packages record their run-time libraries", async () => {
        const deps = async (p: string) => (await readPackageMeta(files[p], { where: p })).depends;
        assert.deepEqual(await deps("curl"), ["musl", "zlib", "mbedtls"]);
        assert.deepEqual(await deps("nano"), ["musl", "ncurses"]);
        assert.deepEqual(await deps("htop"), ["musl", "ncurses"]);
        assert.deepEqual(await deps("zlib"), ["musl"]);
        const elf = await elfInfo(join(root.tree, "usr/bin/curl"));
        assert.equal(elf.interp, b.loader);
      });
      await t.step("curl: plain HTTP on loopback", async () => {
        const r = await run(
          root.argv(["/usr/bin/curl", "-sS", `http://127.0.0.1:${http.addr.port}/plain`]),
        );
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, BODY);
      });
      await t.step("curl: a gzip-encoded body, decoded by zlib", async () => {
        const url = `http://127.0.0.1:${http.addr.port}/gzip`;
        const r = await run(root.argv(["/usr/bin/curl", "-sS", "--compressed", url]));
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, BODY);
        assert.ok(seen.some((s) => /^\/gzip .*gzip/.test(s)), `requests: ${seen.join("; ")}`);
      });
      await t.step("curl: HTTPS through mbedTLS, verified against the test CA", async () => {
        const port = https.addr.port;
        const url = `https://icenet.test:${port}/tls`;
        const curl = ["/usr/bin/curl", "-sS", "--resolve", `icenet.test:${port}:127.0.0.1`];
        const v = await run(root.argv(["/usr/bin/curl", "-V"]));
        assert.match(v.out, /mbedTLS\/2\.28\.3 zlib\/1\.2\.13/);
        const r = await run(root.argv([...curl, "--cacert", `${SCRATCH}/ca.pem`, url]));
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, BODY);
        // Without the CA the same server is refused.
        const bad = await run(root.argv([...curl, url]));
        assert.notEqual(bad.code, 0);
      });
      await t.step("nano and htop print their versions", async () => {
        const n = await run(root.argv(["/usr/bin/nano", "--version"]));
        assert.match(n.out, /GNU nano, version 7\.2/, n.err);
        const h = await run(root.argv(["/usr/bin/htop", "--version"]));
        assert.match(h.out, /htop 3\.2\.2/, h.err);
      });
      const delay = b.qemu ? 4 : 2;
      await t.step("nano edits and saves a file on a terminal", async () => {
        // Type a line, ^O Enter (write out), ^X (exit).
        const r = await onTerminal(
          root,
          ["/usr/bin/nano", `${SCRATCH}/note.txt`],
          "hello nano\\017\\r\\030",
          delay,
        );
        const saved = await Deno.readTextFile(join(root.work, "note.txt")).catch(() => "");
        assert.equal(saved, "hello nano\n", `nano drew: ${r.out.slice(-400)} ${r.err}`);
      });
      await t.step("htop draws its screen and quits on q", async () => {
        const r = await onTerminal(root, ["/usr/bin/htop"], "q", delay);
        // deno-lint-ignore no-control-regex
        const text = r.out.replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\x1b[=>]/g, "");
        assert.match(text, /Tasks:/, `htop drew: ${text.slice(0, 400)} ${r.err}`);
        assert.match(text, /Load average/);
      });
    } finally {
      await http.shutdown();
      await https.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  });
}
