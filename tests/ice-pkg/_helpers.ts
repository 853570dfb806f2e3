/** Test helpers: build trees, packages and keys in temporary directories. */
import { dirname, join } from "node:path";
import { createPackage } from "../../lib/ice-pkg/package.ts";
import type { PackageMetaInput } from "../../lib/ice-pkg/metadata.ts";

/** Files of a tree: path -> content (string), or { link } for a symlink, or { mode, text }. */
export type TreeSpec = Record<string, string | { link: string } | { text: string; mode: number }>;

/** Write a tree under `dir`. */
export function writeTree(dir: string, spec: TreeSpec): void {
  for (const [path, v] of Object.entries(spec)) {
    const abs = join(dir, path);
    Deno.mkdirSync(dirname(abs), { recursive: true });
    if (typeof v === "string") Deno.writeTextFileSync(abs, v);
    else if ("link" in v) Deno.symlinkSync(v.link, abs);
    else {
      Deno.writeTextFileSync(abs, v.text);
      Deno.chmodSync(abs, v.mode);
    }
  }
}

/** Build a package from a spec; `meta` gets defaults for version/release/arch. */
export async function makePackage(
  meta: Partial<PackageMetaInput> & { name: string },
  spec: TreeSpec,
): Promise<Uint8Array> {
  const dir = Deno.makeTempDirSync({ prefix: "icepkg-tree-" });
  try {
    writeTree(dir, spec);
    return await createPackage(dir, {
      version: "1.0",
      release: 0,
      arch: "noarch",
      ...meta,
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/** A temp dir removed at the end of `fn`. */
export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "icepkg-test-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

import { buildRepo } from "../../lib/ice-pkg/repo.ts";
import { generateKeyFiles } from "../../lib/ice-pkg/keys.ts";
import { runCli } from "../../lib/ice-pkg/cli.ts";

/** A package to put in a test repository. */
export interface PkgDef {
  meta: Partial<PackageMetaInput> & { name: string };
  files: TreeSpec;
}

/** A signed repository and a root that trusts it. */
export interface Fixture {
  dir: string;
  repo: string;
  root: string;
  key: string;
  publicLine: string;
  /** Add packages to the repository and re-sign it (serial + 1). */
  publish(pkgs: PkgDef[]): Promise<void>;
}

/** Make a key, a repository with `pkgs`, and an empty root configured for it. */
export async function fixture(dir: string, pkgs: PkgDef[]): Promise<Fixture> {
  const k = await generateKeyFiles();
  const repo = join(dir, "repo");
  const root = join(dir, "root");
  Deno.mkdirSync(join(root, "etc/icenet/keys"), { recursive: true });
  Deno.writeTextFileSync(join(root, `etc/icenet/keys/${k.keyId}.pub`), k.publicLine);
  Deno.writeTextFileSync(join(root, "etc/icenet/repositories"), `${repo}\n`);
  const built: string[] = [];
  const f: Fixture = {
    dir,
    repo,
    root,
    key: k.privateFile,
    publicLine: k.publicLine,
    async publish(more: PkgDef[]) {
      Deno.mkdirSync(join(dir, "pkgs"), { recursive: true });
      for (const p of more) {
        const path = join(
          dir,
          "pkgs",
          `${p.meta.name}-${p.meta.version ?? "1.0"}-r${p.meta.release ?? 0}.ice`,
        );
        Deno.writeFileSync(path, await makePackage(p.meta, p.files));
        built.push(path);
      }
      await buildRepo({ packages: built, outDir: repo, privateKey: k.privateFile });
    },
  };
  await f.publish(pkgs);
  return f;
}

/** Result of one in-process CLI run. */
export interface CliResult {
  code: number;
  out: string;
  err: string;
}

/** Run `ice-pkg --root <root> args...` in this process. */
export async function cli(root: string, ...args: string[]): Promise<CliResult> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(["--root", root, ...args], {
    out: (l) => out.push(l),
    err: (l) => err.push(l),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** All paths under `dir` (relative), excluding ice-pkg's own state. */
export function treeOf(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of Deno.readDirSync(join(dir, rel))) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (p === "var/lib/ice-pkg" || p === "var/cache/ice-pkg" || p === "etc/icenet") continue;
      out.push(p);
      if (e.isDirectory) walk(p);
    }
  };
  walk("");
  return out.sort();
}
