/**
 * The `npm` source provider: `npm pack` of an exact package version from whatever
 * registry npm is configured with (no registry host is named here). It runs on the
 * host before a stage starts, like every fetch, so stages need no network.
 */
import { join } from "node:path";
import { $ } from "../shell.ts";

/** Download `pkg@version`'s tarball to `dest`. */
export async function fetchNpmPackage(
  pkg: string,
  version: string,
  dest: string,
  log: (l: string) => void,
): Promise<void> {
  const work = await Deno.makeTempDir({ prefix: "icenet-npm-" });
  try {
    log(`npm: npm pack ${pkg}@${version}`);
    const r = await $`npm pack --silent --pack-destination ${work} ${`${pkg}@${version}`}`.cwd(work)
      .stdout("piped").stderr("piped").noThrow();
    if (r.code !== 0) {
      throw new Error(`npm pack ${pkg}@${version}: ${r.stderr.trim().split("\n").pop()}`);
    }
    const tgz = [...Deno.readDirSync(work)].find((e) => e.name.endsWith(".tgz"));
    if (!tgz) throw new Error(`npm pack ${pkg}@${version} produced no tarball`);
    await Deno.rename(join(work, tgz.name), dest);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}
