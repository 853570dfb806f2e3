/**
 * ice-pkg's own directories (database, cache) are made with mode 0755 whatever the
 * umask: packages that list a parent (var, var/lib) later never re-mode an existing
 * directory, so the mode given here is the one the root keeps.
 */
import { chmodSync, mkdirSync } from "node:fs";
import { join } from "./_path.ts";
import { isAlreadyExists } from "./_fs.ts";

/** Create `rel` under `root` and any missing parents, each 0755. */
export function ensureDir(root: string, rel: string): string {
  mkdirSync(root, { recursive: true });
  let path = root;
  for (const part of rel.split("/")) {
    path = join(path, part);
    try {
      mkdirSync(path);
      chmodSync(path, 0o755);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }
  return path;
}
