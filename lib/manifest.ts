/**
 * Manifests of stage outputs: every file, directory and symlink with its mode,
 * size, sha256 or target. The output hash is the hash of this list, so two
 * outputs with the same content have the same hash whatever their timings.
 */
import { join } from "node:path";
import { hashKey, sha256File } from "./hash.ts";

/** One entry of an output tree. */
export type ManifestEntry =
  | { path: string; type: "file"; mode: number; size: number; sha256: string }
  | { path: string; type: "dir"; mode: number }
  | { path: string; type: "symlink"; target: string };

/** The manifest.json stored with each output. */
export interface Manifest {
  stage: string;
  board: string;
  /** Hash of `files` alone: the identity of the output. */
  outputHash: string;
  files: ManifestEntry[];
  /** Wall-clock facts of the build that produced it (not part of the hash). */
  timings: { started: string; seconds: number };
  /** Anything the stage reports (sizes, versions). */
  info: Record<string, unknown>;
}

/**
 * List a tree in sorted order (byte order of paths). Directory reads and lstat are
 * synchronous (microseconds each; see store.ts); big files are hashed streaming.
 */
export async function scanTree(dir: string): Promise<ManifestEntry[]> {
  const entries: ManifestEntry[] = [];
  async function walk(rel: string) {
    const names = [...Deno.readDirSync(join(dir, rel))].map((e) => e.name).sort();
    for (const name of names) {
      const path = rel ? `${rel}/${name}` : name;
      const abs = join(dir, path);
      const st = Deno.lstatSync(abs);
      if (st.isSymlink) {
        entries.push({ path, type: "symlink", target: Deno.readLinkSync(abs) });
      } else if (st.isDirectory) {
        entries.push({ path, type: "dir", mode: st.mode! & 0o7777 });
        await walk(path);
      } else if (st.isFile) {
        entries.push({
          path,
          type: "file",
          mode: st.mode! & 0o7777,
          size: st.size,
          sha256: await sha256File(abs),
        });
      } else {
        throw new Error(
          `${abs}: unsupported file type in stage output (only files, dirs, symlinks)`,
        );
      }
    }
  }
  await walk("");
  return entries;
}

/** The identity of an output tree. */
export function outputHash(files: ManifestEntry[]): string {
  return hashKey("output", files);
}
