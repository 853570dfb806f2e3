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
