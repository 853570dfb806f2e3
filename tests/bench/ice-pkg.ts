/**
 * ice-pkg benchmarks (`deno task bench ice-pkg`), ice-pkg run as the device runs it
 * (lib/ice-pkg/runtime.ts's flags) and Debian's dpkg on the same machine, side by side:
 *
 *   icepkg_install_small      median wall time of `ice-pkg install` (process start
 *   dpkg_install_small        included) of one package with 100 files / 1 MB into a
 *   icepkg_install_vs_dpkg    fresh root, against `dpkg --root -i` of the same files
 *   icepkg_install_200        one transaction installing 200 packages
 *   icepkg_owner_lookup       median `ice-pkg owner PATH` on a database of 50,000
 *   dpkg_owner_lookup         files, against `dpkg-query -S` on a dpkg database with
 *   icepkg_owner_vs_dpkg      the same files; deno_start: an empty Deno script
 *   icepkg_1gib_*             install of a 1 GiB package (32 MB to download) from an
 *                             HTTP repository on loopback: time, peak RSS (GNU time:
 *                             the largest of ice-pkg and its xz child) and peak
 *                             anonymous (private) memory of ice-pkg
 *   icepkg_bomb_*             an xz bomb (10 GiB of zeros after a valid package, 1.5 MB
 *                             compressed): time to the refusal and peak memory
 *   *_nolite                  the same without V8's lite mode, for comparison
 *   icepkg_install_small_node the small install with the armv7 boards' program: the
 *                             same bundle under the host's Node.js 20 (wasm SQLite)
 */
import { join } from "node:path";
import { buildRepo } from "../../lib/ice-pkg/repo.ts";
import { generateKeyFiles, signBytes } from "../../lib/ice-pkg/keys.ts";
import { createPackage, writePackage } from "../../lib/ice-pkg/package.ts";
import { openDb } from "../../lib/ice-pkg/db.ts";
import { writeTar } from "../../lib/ice-pkg/format/tar.ts";
import { xzCompress } from "../../lib/ice-pkg/format/xz.ts";
import { sha256File, sha256Hex } from "../../lib/ice-pkg/hash.ts";
import { DENO_FLAGS, NODE_FLAGS } from "../../lib/ice-pkg/runtime.ts";
import { icePkgStage, nodeBundle } from "../ice-pkg/_node.ts";
import { dpkgDatabase, dpkgInstallArgs, freshDpkgRoot, makeDeb } from "./_dpkg.ts";
import { measured } from "./_peak.ts";

const MAIN = new URL("../../lib/ice-pkg/main.ts", import.meta.url).pathname;
const PROJECT = new URL("../..", import.meta.url).pathname;
const GIB = 1 << 30;
/** The shipped flags without V8's lite mode, for the *_nolite comparisons. */
const NOLITE = DENO_FLAGS.filter((f) => !f.includes("lite-mode"));

function line(name: string, value: number, unit: string, digits = 0): void {
  console.log(`bench: ${name} ${value.toFixed(digits)} ${unit}`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** The command line of ice-pkg on `root`. */
function icePkg(root: string, args: string[], flags = DENO_FLAGS): string[] {
  return [Deno.execPath(), "run", ...flags, "-A", MAIN, "--root", root, ...args];
}

/** Wall time (ms) of a command that must succeed. */
async function wall(argv: string[]): Promise<number> {
  const t0 = performance.now();
  const p = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: PROJECT,
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (!p.success) throw new Error(`${argv.join(" ")}: ${new TextDecoder().decode(p.stderr)}`);
  return ms;
}

/** Deterministic pseudo-random bytes (they compress little, like binaries). */
function noise(n: number, seed: number): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let j = 0; j < n; j++) b[j] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return b;
}

async function pkgFromFiles(
  dir: string,
  name: string,
  files: Record<string, Uint8Array>,
  depends: string[] = [],
): Promise<string> {
  const tree = join(dir, `tree-${name}`);
  for (const [p, data] of Object.entries(files)) {
    Deno.mkdirSync(join(tree, p, ".."), { recursive: true });
    Deno.writeFileSync(join(tree, p), data);
  }
  Deno.mkdirSync(tree, { recursive: true });
  const out = join(dir, `${name}.ice`);
  Deno.writeFileSync(
    out,
    await createPackage(tree, { name, version: "1.0", release: 0, arch: "noarch", depends }),
  );
  Deno.removeSync(tree, { recursive: true });
  return out;
}

/** A root trusting `key` and listing `repo` (if given), with its index fetched. */
async function freshRoot(dir: string, name: string, key: string, repo?: string) {
  const root = join(dir, name);
  Deno.mkdirSync(join(root, "etc/icenet/keys"), { recursive: true });
  Deno.writeTextFileSync(join(root, "etc/icenet/keys/bench.pub"), key);
  Deno.writeTextFileSync(join(root, "etc/icenet/repositories"), repo ? repo + "\n" : "");
  if (repo) await wall(icePkg(root, ["update"]));
  return root;
}

/** Small install, ice-pkg and dpkg alternately on fresh roots. */
async function benchInstallSmall(dir: string, repo: string, key: string, deb: string) {
  const ice: number[] = [];
  const nolite: number[] = [];
  const node: number[] = [];
  const dpkg: number[] = [];
  const bundle = nodeBundle(await icePkgStage("rpi32"));
  for (let i = 0; i < 9; i++) {
    ice.push(await wall(icePkg(await freshRoot(dir, `s${i}`, key, repo), ["install", "small"])));
    nolite.push(
      await wall(icePkg(await freshRoot(dir, `n${i}`, key, repo), ["install", "small"], NOLITE)),
    );
    const nodeRoot = await freshRoot(dir, `o${i}`, key, repo);
    node.push(await wall(["node", ...NODE_FLAGS, bundle, "--root", nodeRoot, "install", "small"]));
    dpkg.push(await wall(["dpkg", ...dpkgInstallArgs(freshDpkgRoot(join(dir, `d${i}`)), deb)]));
  }
  line("icepkg_install_small", median(ice), "ms");
  line("dpkg_install_small", median(dpkg), "ms");
  line("icepkg_install_vs_dpkg", median(ice) / median(dpkg), "x", 2);
  line("icepkg_install_small_nolite", median(nolite), "ms");
  line("icepkg_install_small_node", median(node), "ms");
}

async function benchInstall200(dir: string, repo: string, key: string) {
  const big: number[] = [];
  for (let i = 0; i < 3; i++) {
    big.push(await wall(icePkg(await freshRoot(dir, `big${i}`, key, repo), ["install", "all200"])));
  }
  line("icepkg_install_200", median(big) / 1000, "s", 2);
}

/** 50,000 file rows in both databases (rows only: a lookup never touches the files). */
async function benchOwner(dir: string) {
  const root = join(dir, "owner");
  const db = openDb(root);
  const add = [];
  for (let p = 0; p < 500; p++) {
    const name = `pkg${p}`;
    add.push({
      pkg: {
        name,
        version: "1.0-r0",
        arch: "noarch",
        explicit: true,
        sha256: "0".repeat(64),
        size: 0,
        installedSize: 0,
        description: "",
        license: "",
        depends: [],
        provides: [],
        conflicts: [],
        replaces: [],
      },
      files: Array.from({ length: 100 }, (_, i) => ({
        path: `usr/share/${name}/file${i}`,
        type: "file" as const,
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: 1,
        sha256: "0".repeat(64),
      })),
    });
  }
  db.commit({
    command: "bench",
    time: new Date().toISOString(),
    remove: [],
    add,
    takeover: [],
    changes: [],
  });
  db.close();
  const admin = dpkgDatabase(join(dir, "dpkg-owner"), 500, 100);
  const empty = join(dir, "empty.ts");
  Deno.writeTextFileSync(empty, "");
  const ice: number[] = [];
  const nolite: number[] = [];
  const dpkg: number[] = [];
  const deno: number[] = [];
  for (let i = 0; i < 11; i++) {
    const path = `/usr/share/pkg${(i * 47) % 500}/file${(i * 13) % 100}`;
    ice.push(await wall(icePkg(root, ["owner", path])));
    nolite.push(await wall(icePkg(root, ["owner", path], NOLITE)));
    dpkg.push(await wall(["dpkg-query", `--admindir=${admin}`, "-S", path]));
    deno.push(await wall([Deno.execPath(), "run", "--no-config", empty]));
  }
  line("icepkg_owner_lookup", median(ice), "ms");
  line("dpkg_owner_lookup", median(dpkg), "ms", 1);
  line("icepkg_owner_vs_dpkg", median(ice) / median(dpkg), "x", 1);
  line("icepkg_owner_lookup_nolite", median(nolite), "ms");
  line("deno_start", median(deno), "ms");
}

/** Serve `dir` over HTTP on loopback, streaming files; returns the URL and a stop function. */
function serve(dir: string): { url: string; stop: () => Promise<void> } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const name = new URL(req.url).pathname.split("/").pop()!;
    try {
      const f = await Deno.open(join(dir, name));
      const size = (await f.stat()).size;
      return new Response(f.readable, { headers: { "content-length": String(size) } });
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
  return { url: `http://127.0.0.1:${server.addr.port}/repo`, stop: () => server.shutdown() };
}

/** Sign an index of `entries` (no package validation: that is what the bomb needs). */
async function signedRepo(repo: string, privateKey: string, files: [string, string][]) {
  Deno.mkdirSync(repo, { recursive: true });
  const now = new Date();
  const packages = [];
  for (const [name, file] of files) {
    Deno.renameSync(file, join(repo, `${name}-1.0-r0.ice`));
    const ice = join(repo, `${name}-1.0-r0.ice`);
    packages.push({
      name,
      version: "1.0-r0",
      arch: "noarch",
      description: "",
      depends: [],
      provides: [],
      conflicts: [],
      replaces: [],
      sha256: await sha256File(ice),
      size: Deno.statSync(ice).size,
      installedSize: 0,
      file: `${name}-1.0-r0.ice`,
    });
  }
  const index = new TextEncoder().encode(JSON.stringify({
    format: 1,
    serial: 1,
    created: now.toISOString(),
    expires: new Date(now.getTime() + 86400_000).toISOString(),
    packages,
  }));
  Deno.writeFileSync(join(repo, "INDEX.json"), index);
  Deno.writeTextFileSync(
    join(repo, "INDEX.json.sig"),
    JSON.stringify(await signBytes(privateKey, index)),
  );
}

function peakLines(prefix: string, r: Awaited<ReturnType<typeof measured>>): void {
  line(`${prefix}_peak_rss`, r.maxRssKiB / 1024, "MiB", 1);
  line(`${prefix}_peak_anon`, r.maxAnonKiB / 1024, "MiB", 1);
}

/** Random bytes (xz cannot shrink them: the download is their size). */
function random(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let off = 0; off < n; off += 65536) crypto.getRandomValues(b.subarray(off, off + 65536));
  return b;
}

/**
 * 1 GiB: 32 MiB of random bytes (a 32 MB download) and zeros (sparse in the tree, so
 * the build takes seconds), installed over HTTP.
 */
async function benchBigPackage(dir: string, key: { privateFile: string; publicLine: string }) {
  const tree = join(dir, "tree-big");
  Deno.mkdirSync(join(tree, "usr/lib/big"), { recursive: true });
  Deno.writeFileSync(join(tree, "usr/lib/big/random.bin"), random(32 << 20));
  const zeros = [256, 256, 256, 224];
  zeros.forEach((mib, i) => {
    const f = join(tree, `usr/lib/big/zeros${i}.bin`);
    Deno.writeFileSync(f, new Uint8Array());
    Deno.truncateSync(f, mib << 20);
  });
  const ice = join(dir, "big.ice");
  const t0 = performance.now();
  await writePackage(tree, { name: "big", version: "1.0", release: 0, arch: "noarch" }, ice);
  line("icepkg_1gib_build", (performance.now() - t0) / 1000, "s", 1);
  line("icepkg_1gib_package_bytes", Deno.statSync(ice).size / 1e6, "MB", 1);
  Deno.removeSync(tree, { recursive: true });
  const repo = join(dir, "http-big");
  await signedRepo(repo, key.privateFile, [["big", ice]]);
  const { url, stop } = serve(repo);
  try {
    for (const [suffix, flags] of [["", DENO_FLAGS], ["_nolite", NOLITE]] as const) {
      const root = await freshRoot(dir, `big-root${suffix}`, key.publicLine);
      const r = await measured(
        icePkg(root, ["--repo", url, "install", "big"], [...flags]),
        PROJECT,
      );
      if (r.code !== 0) throw new Error(`1 GiB install: ${r.stderr}`);
      if (Deno.statSync(join(root, "usr/lib/big/zeros0.bin")).size !== 256 << 20) {
        throw new Error("1 GiB install: file missing");
      }
      if (!suffix) line("icepkg_1gib_install", r.seconds, "s", 1);
      if (suffix) line(`icepkg_1gib_peak_rss${suffix}`, r.maxRssKiB / 1024, "MiB", 1);
      else peakLines("icepkg_1gib", r);
      Deno.removeSync(root, { recursive: true });
    }
  } finally {
    await stop();
  }
}

/** A valid tiny package followed by 10 GiB of zeros: concatenated xz streams. */
async function benchBomb(dir: string, key: { privateFile: string; publicLine: string }) {
  const data = new TextEncoder().encode("tiny\n");
  const meta = {
    format: 1,
    name: "bomb",
    version: "1.0",
    release: 0,
    arch: "noarch",
    installedSize: data.length,
    files: [{
      path: "bomb",
      type: "file",
      mode: 0o644,
      uid: 0,
      gid: 0,
      size: data.length,
      sha256: await sha256Hex(data),
    }],
  };
  const prefix = await xzCompress(writeTar([
    {
      path: ".ice-meta.json",
      type: "file",
      mode: 0o644,
      data: new TextEncoder().encode(JSON.stringify(meta)),
    },
    { path: "bomb", type: "file", mode: 0o644, data },
  ]));
  const zeros = await xzCompress(new Uint8Array(64 << 20));
  const file = join(dir, "bomb.ice");
  using f = Deno.openSync(file, { write: true, create: true, truncate: true });
  f.writeSync(prefix);
  for (let n = 0; n < (10 * GIB) / (64 << 20); n++) f.writeSync(zeros);
  line("icepkg_bomb_bytes", Deno.statSync(file).size / 1e6, "MB", 2);
  const repo = join(dir, "http-bomb");
  await signedRepo(repo, key.privateFile, [["bomb", file]]);
  const { url, stop } = serve(repo);
  try {
    const root = await freshRoot(dir, "bomb-root", key.publicLine);
    const r = await measured(icePkg(root, ["--repo", url, "install", "bomb"]), PROJECT);
    if (r.code !== 4 || !/data after the end of the archive/.test(r.stderr)) {
      throw new Error(`bomb: exit ${r.code}: ${r.stderr}`);
    }
    line("icepkg_bomb_refused", r.seconds, "s", 2);
    peakLines("icepkg_bomb", r);
  } finally {
    await stop();
  }
}

export default async function bench(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "icepkg-bench-" });
  try {
    const key = await generateKeyFiles();
    // One package: 100 files, 1 MB (pseudo-random content, like binaries it compresses little).
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 100; i++) {
      files[`usr/lib/small/f${String(i).padStart(3, "0")}.bin`] = noise(10_486, i + 1);
    }
    const pkgs = [await pkgFromFiles(dir, "small", files)];
    const deb = await makeDeb(dir, "small", files);
    // 200 packages of 5 files each, pulled in by one meta package.
    const names: string[] = [];
    for (let i = 0; i < 200; i++) {
      const n = `p${String(i).padStart(3, "0")}`;
      names.push(n);
      const fs: Record<string, Uint8Array> = {};
      for (let j = 0; j < 5; j++) {
        fs[`usr/share/${n}/f${j}`] = new TextEncoder().encode(`${n} ${j}\n`.repeat(50));
      }
      pkgs.push(await pkgFromFiles(dir, n, fs));
    }
    pkgs.push(
      await pkgFromFiles(dir, "all200", { "usr/share/all200/README": new Uint8Array(1) }, names),
    );
    const repo = join(dir, "repo");
    await buildRepo({ packages: pkgs, outDir: repo, privateKey: key.privateFile });

    await benchInstallSmall(dir, repo, key.publicLine, deb);
    await benchInstall200(dir, repo, key.publicLine);
    await benchOwner(dir);
    await benchBigPackage(dir, key);
    await benchBomb(dir, key);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await bench();
