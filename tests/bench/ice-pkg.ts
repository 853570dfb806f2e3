/**
 * ice-pkg benchmarks (`deno task bench ice-pkg`):
 *   icepkg_install_small  median wall time of `ice-pkg install` (process start included)
 *                         of one package with 100 files / 1 MB from a local repository
 *   icepkg_install_200    wall time of one transaction installing 200 packages
 *   icepkg_owner_lookup   median wall time of `ice-pkg owner PATH` on a database of
 *                         50,000 files (process start included)
 */
import { join } from "node:path";
import { buildRepo } from "../../lib/ice-pkg/repo.ts";
import { generateKeyFiles } from "../../lib/ice-pkg/keys.ts";
import { createPackage } from "../../lib/ice-pkg/package.ts";
import { openDb } from "../../lib/ice-pkg/db.ts";

const MAIN = new URL("../../lib/ice-pkg/main.ts", import.meta.url).pathname;
const PROJECT = new URL("../..", import.meta.url).pathname;

/** GNU time gives the CPU time, which says more than wall time on a loaded machine. */
const GNU_TIME = (() => {
  try {
    return Deno.statSync("/usr/bin/time").isFile;
  } catch {
    return false;
  }
})();

/** Run ice-pkg; returns [wall ms, cpu ms (user+sys, NaN without GNU time)]. */
async function icePkgTimed(root: string, ...args: string[]): Promise<[number, number]> {
  const argv = [Deno.execPath(), "run", "-A", MAIN, "--root", root, ...args];
  const cmd = GNU_TIME ? ["/usr/bin/time", "-f", "cpu %U %S", ...argv] : argv;
  const t0 = performance.now();
  const p = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    cwd: PROJECT,
    stdout: "null",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  const err = new TextDecoder().decode(p.stderr);
  if (!p.success) throw new Error(`ice-pkg ${args.join(" ")}: ${err}`);
  const m = err.match(/cpu ([\d.]+) ([\d.]+)/);
  return [ms, m ? (Number(m[1]) + Number(m[2])) * 1000 : NaN];
}

async function icePkg(root: string, ...args: string[]): Promise<number> {
  return (await icePkgTimed(root, ...args))[0];
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function pkgFromFiles(
  dir: string,
  name: string,
  files: Record<string, Uint8Array>,
  depends: string[] = [],
) {
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

/** A root trusting `repo`'s key, with the index already fetched. */
async function freshRoot(
  dir: string,
  name: string,
  repo: string,
  publicLine: string,
): Promise<string> {
  const root = join(dir, name);
  Deno.mkdirSync(join(root, "etc/icenet/keys"), { recursive: true });
  Deno.writeTextFileSync(join(root, "etc/icenet/keys/bench.pub"), publicLine);
  Deno.writeTextFileSync(join(root, "etc/icenet/repositories"), repo + "\n");
  await icePkg(root, "update");
  return root;
}

export default async function bench(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "icepkg-bench-" });
  try {
    const key = await generateKeyFiles();
    // One package: 100 files, 1 MB (pseudo-random content, like binaries it compresses little).
    const files: Record<string, Uint8Array> = {};
    let x = 1;
    for (let i = 0; i < 100; i++) {
      const b = new Uint8Array(10_486);
      for (let j = 0; j < b.length; j++) b[j] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
      files[`usr/lib/small/f${String(i).padStart(3, "0")}.bin`] = b;
    }
    const pkgs = [await pkgFromFiles(dir, "small", files)];
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

    const small: number[] = [];
    const smallCpu: number[] = [];
    for (let i = 0; i < 7; i++) {
      const root = await freshRoot(dir, `small${i}`, repo, key.publicLine);
      const [ms, cpu] = await icePkgTimed(root, "install", "small");
      small.push(ms);
      smallCpu.push(cpu);
    }
    console.log(`bench: icepkg_install_small ${median(small).toFixed(0)} ms`);
    if (GNU_TIME) console.log(`bench: icepkg_install_small_cpu ${median(smallCpu).toFixed(0)} ms`);

    const big: number[] = [];
    for (let i = 0; i < 3; i++) {
      const root = await freshRoot(dir, `big${i}`, repo, key.publicLine);
      big.push(await icePkg(root, "install", "all200"));
    }
    console.log(`bench: icepkg_install_200 ${(median(big) / 1000).toFixed(2)} s`);

    // 50,000 files in the database (rows only: the lookup never touches the files).
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
    const owner: number[] = [];
    const ownerCpu: number[] = [];
    for (let i = 0; i < 7; i++) {
      const [ms, cpu] = await icePkgTimed(root, "owner", `/usr/share/pkg${i * 70}/file${i * 13}`);
      owner.push(ms);
      ownerCpu.push(cpu);
    }
    console.log(`bench: icepkg_owner_lookup ${median(owner).toFixed(0)} ms`);
    if (GNU_TIME) console.log(`bench: icepkg_owner_lookup_cpu ${median(ownerCpu).toFixed(0)} ms`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) await bench();
