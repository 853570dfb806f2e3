/** Test helpers: build trees, packages and keys in temporary directories. */
import { dirname, join } from "node:path";
import { createPackage } from "../../lib/ice-pkg/package.ts";
import type { PackageMetaInput } from "../../lib/ice-pkg/metadata.ts";

/**
 * Files of a tree: path -> content (string), or { link } for a symlink, { mode, text } for a
 * file with a mode, or { dir: mode } for a directory with a mode.
 */
export type TreeSpec = Record<
  string,
  string | { link: string } | { text: string; mode: number } | { dir: number }
>;

/** Write a tree under `dir`. */
export function writeTree(dir: string, spec: TreeSpec): void {
  for (const [path, v] of Object.entries(spec)) {
    const abs = join(dir, path);
    Deno.mkdirSync(dirname(abs), { recursive: true });
    if (typeof v === "string") Deno.writeTextFileSync(abs, v);
    else if ("link" in v) Deno.symlinkSync(v.link, abs);
    else if ("dir" in v) {
      Deno.mkdirSync(abs, { recursive: true });
      Deno.chmodSync(abs, v.dir);
    } else {
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

import { DatabaseSync } from "node:sqlite";
import { buildRepo } from "../../lib/ice-pkg/repo.ts";
import { generateKeyFiles, signBytes } from "../../lib/ice-pkg/keys.ts";
import { runCli } from "../../lib/ice-pkg/cli.ts";
import { NODE_FLAGS } from "../../lib/ice-pkg/runtime.ts";
import { writeTar } from "../../lib/ice-pkg/format/tar.ts";
import { xzCompress } from "../../lib/ice-pkg/format/xz.ts";
import { sha256Hex } from "../../lib/ice-pkg/hash.ts";

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
  /** Add packages to the repository and re-sign it (serial + 1), optionally with other dates. */
  publish(pkgs: PkgDef[], dates?: { created?: Date; expires?: Date }): Promise<void>;
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
    async publish(more: PkgDef[], dates = {}) {
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
      await buildRepo({ packages: built, outDir: repo, privateKey: k.privateFile, ...dates });
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

/**
 * The device program as 32-bit ARM boards run it: the bundle (ice-pkg.mjs of the armv7
 * ice-pkg stage) under Node. When set, {@linkcode cli} runs it with the host's node
 * instead of calling the CLI in this process (tests/ice-pkg/node_runtime_test.ts).
 */
const NODE_BUNDLE = Deno.env.get("ICE_PKG_NODE_BUNDLE");

/** Run `ice-pkg --root <root> args...` in this process (or under Node, see above). */
export async function cli(root: string, ...args: string[]): Promise<CliResult> {
  if (NODE_BUNDLE) {
    const o = await new Deno.Command("node", {
      args: [...NODE_FLAGS, NODE_BUNDLE, "--root", root, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = (b: Uint8Array) => new TextDecoder().decode(b).replace(/\n$/, "");
    return { code: o.code, out: text(o.stdout), err: text(o.stderr) };
  }
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

/** One member of a hand-made (possibly hostile) package: written to the tar as given. */
export interface RawEntry {
  path: string;
  type: "file" | "dir" | "symlink";
  mode?: number;
  text?: string;
  target?: string;
}

/**
 * A package made with the real tar writer and xz but none of createPackage's checks:
 * what a hostile or careless packager can produce. The metadata lists every entry
 * exactly (so only the rules ice-pkg applies on top can refuse it).
 */
export async function craftPackage(
  meta: Partial<PackageMetaInput> & { name: string },
  entries: RawEntry[],
): Promise<Uint8Array> {
  const enc = new TextEncoder();
  const files: Record<string, unknown>[] = [];
  let installedSize = 0;
  for (const e of entries) {
    const mode = e.mode ?? (e.type === "dir" ? 0o755 : e.type === "symlink" ? 0o777 : 0o644);
    const f: Record<string, unknown> = { path: e.path, type: e.type, mode, uid: 0, gid: 0 };
    if (e.type === "file") {
      const data = enc.encode(e.text ?? "");
      f.size = data.length;
      f.sha256 = await sha256Hex(data);
      installedSize += data.length;
    }
    if (e.type === "symlink") f.target = e.target;
    files.push(f);
  }
  const full = {
    format: 1,
    version: "1.0",
    release: 0,
    arch: "noarch",
    description: "",
    license: "",
    depends: [],
    provides: [],
    conflicts: [],
    replaces: [],
    conffiles: [],
    ...meta,
    installedSize,
    files,
  };
  return await xzCompress(writeTar([
    { path: ".ice-meta.json", type: "file", mode: 0o644, data: enc.encode(JSON.stringify(full)) },
    ...entries.map((e) => ({
      path: e.path,
      type: e.type,
      mode: files.find((f) => f.path === e.path)!.mode as number,
      data: e.type === "file" ? enc.encode(e.text ?? "") : undefined,
      target: e.target,
    })),
  ]));
}

/**
 * Put package bytes into a fixture's repository and sign a new index listing them, the
 * way a compromised or careless signer would (no validation of the packages).
 */
export async function publishRaw(
  f: Fixture,
  pkgs: { name: string; version?: string; bytes: Uint8Array; depends?: string[] }[],
  dates: { created?: Date; expires?: Date } = {},
): Promise<void> {
  const index = JSON.parse(Deno.readTextFileSync(join(f.repo, "INDEX.json")));
  for (const p of pkgs) {
    const version = p.version ?? "1.0-r0";
    const file = `${p.name}-${version}.ice`;
    Deno.writeFileSync(join(f.repo, file), p.bytes);
    index.packages = index.packages.filter((e: { file: string }) => e.file !== file);
    index.packages.push({
      name: p.name,
      version,
      arch: "noarch",
      description: "",
      depends: p.depends ?? [],
      provides: [],
      conflicts: [],
      replaces: [],
      sha256: await sha256Hex(p.bytes),
      size: p.bytes.length,
      installedSize: 0,
      file,
    });
  }
  const created = dates.created ?? new Date();
  index.serial += 1;
  index.created = created.toISOString();
  index.expires = (dates.expires ?? new Date(created.getTime() + 30 * 86400_000)).toISOString();
  const text = new TextEncoder().encode(JSON.stringify(index, null, 1) + "\n");
  Deno.writeFileSync(join(f.repo, "INDEX.json"), text);
  Deno.writeTextFileSync(
    join(f.repo, "INDEX.json.sig"),
    JSON.stringify(await signBytes(f.key, text)) + "\n",
  );
}

/** Is there an interrupted transaction (a journal row) in the root's database? */
export function journalOf(root: string): string | undefined {
  const db = new DatabaseSync(join(root, "var/lib/ice-pkg/db.sqlite"), { readOnly: true });
  try {
    const r = db.prepare("SELECT state FROM journal").get() as { state: string } | undefined;
    return r?.state;
  } finally {
    db.close();
  }
}

/** Mode bits (0o7777) of a path in the root, or undefined if it does not exist. */
export function modeOf(path: string): number | undefined {
  try {
    return (Deno.lstatSync(path).mode ?? 0) & 0o7777;
  } catch {
    return undefined;
  }
}
