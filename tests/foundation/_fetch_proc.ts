/**
 * Child process for the concurrent-fetch test: builds two stages that need the same
 * Debian source, on a store and download dir shared with another such process.
 */
import { loadBoard } from "../../lib/board.ts";
import { SilentProgress } from "../../lib/progress.ts";
import { build } from "../../lib/runner.ts";
import { defineStage } from "../../lib/stage.ts";
import { Store } from "../../lib/store.ts";
import type { Source } from "../../lib/fetch/source.ts";

const [root, storeDir, downloadDir, tag] = Deno.args;
/** A small pinned Debian package that the ice-pkg stage also uses. */
const source: Source = {
  url: "debian:pool/main/g/gcc-12/libgcc-s1_12.2.0-14+deb12u1_arm64.deb",
  filename: "libgcc-s1_12.2.0-14+deb12u1_arm64.deb",
  sha256: "576926b283613db80168ddf76380a3bd877602778cf0d226caa7bfbfa71eacf3",
  debian: { package: "libgcc-s1", version: "12.2.0-14+deb12u1", arch: "arm64" },
};
const stages = ["a", "b"].map((n) =>
  defineStage({
    name: `${n}-${tag}`,
    sources: { deb: source },
    async run({ sources, out }) {
      await Deno.copyFile(sources.deb, `${out}/pkg.deb`);
    },
  })
);
const r = await build({
  root,
  board: await loadBoard(root, "test"),
  stages,
  targets: stages.map((s) => s.name),
  store: new Store(storeDir),
  downloadDir,
  jobs: 2,
  progress: new SilentProgress(),
});
console.log(JSON.stringify({
  ok: r.ok,
  errors: [...r.results.values()].map((x) => x.error).filter(Boolean),
}));
