/** Source tarballs for test recipes. */
import assert from "node:assert/strict";
import { run } from "../userland/_build.ts";

/**
 * `dir`/`top` packed as a gzip tarball at `out`, the same bytes every run (the download
 * dir keeps sources by file name); returns its sha256.
 */
export async function reproducibleTarball(dir: string, top: string, out: string): Promise<string> {
  const tar = await run([
    "tar",
    "--sort=name",
    "--mtime=@0",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "-I",
    "gzip -n",
    "-cf",
    out,
    "-C",
    dir,
    top,
  ]);
  assert.equal(tar.code, 0, tar.stderr);
  return (await run(["sha256sum", out])).stdout.split(" ")[0];
}
