/**
 * Reproducibility and hermetic builds, in one pass over the zima image:
 *   A: a clean store, a copy of the checkout in one directory, every stage under
 *      --sandbox (so every real stage is shown to pass with only its declared inputs);
 *   B: another clean store, another copy in another directory, every stage in the
 *      Debian 12 build container under a private dockerd.
 * Only the download dir is shared. Every stage's output — musl, busybox, kernel, ...,
 * the image — must be byte-identical between A and B.
 *
 * Both builds take about an hour here; a pass is kept as a proof under the digest of
 * every stage key and the build image (tests/e2e/_proof.ts), so a warm run checks
 * the user's store against it and skips the rebuild until an input changes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { ensureBuildImage, findBuildImage } from "../../lib/container.ts";
import { sha256File } from "../../lib/hash.ts";
import { defaultDownloadDir } from "../../lib/fetch/mod.ts";
import { defaultStoreDir } from "../../lib/store.ts";
import { startDockerd } from "../container/_dockerd.ts";
import { copyCheckout } from "../_checkout.ts";
import { buildStages } from "./_build.ts";
import { digestOf, provenBefore, recordProof, storeDigest, timeFor } from "./_proof.ts";

Deno.test({
  name:
    "zima image: clean sandboxed build and clean container build in other directories are bit-identical",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const downloads = defaultDownloadDir(defaultStoreDir());
    const dirs: string[] = [];
    const dockerd = await startDockerd();
    const prevHost = Deno.env.get("DOCKER_HOST");
    Deno.env.set("DOCKER_HOST", dockerd.host);
    try {
      // A proof names the build image, so one that does not exist yet is not proven.
      const existing = await findBuildImage("docker");
      const proof = existing && await provenBefore(
        "hermetic-zima",
        await storeDigest("zima", ["image"], [existing.image]),
      );
      if (proof) {
        console.log(`hermetic: already proven for these inputs: ${proof.trim()}`);
        return;
      }
      if (!await timeFor("hermetic-zima", 40 * 60) /* two zima builds, ~14 min each under load */) {
        return;
      }
      const t0 = performance.now();
      const container = await ensureBuildImage("docker", (l) => console.log(l));
      const a = await copyCheckout(), b = await copyCheckout();
      const storeA = await Deno.makeTempDir({ prefix: "icenet-storeA-" });
      const storeB = await Deno.makeTempDir({ prefix: "icenet-storeB-" });
      dirs.push(a, b, storeA, storeB);
      const ra = await buildStages("zima", ["image"], {
        root: a,
        storeDir: storeA,
        downloadDir: downloads,
        sandbox: true,
      });
      const rb = await buildStages("zima", ["image"], {
        root: b,
        storeDir: storeB,
        downloadDir: downloads,
        container,
      });
      for (const [name, r] of ra) {
        assert.equal(r.outcome, "built", `${name} was rebuilt from scratch in A`);
        assert.equal(
          rb.get(name)?.outputHash,
          r.outputHash,
          `${name}: sandboxed and container outputs differ`,
        );
      }
      const img = (out: string) =>
        join(out, [...Deno.readDirSync(out)].find((e) => e.name.endsWith(".img"))!.name);
      const [ha, hb] = [
        await sha256File(img(ra.get("image")!.out!)),
        await sha256File(img(rb.get("image")!.out!)),
      ];
      assert.equal(ha, hb);
      console.log(`zima image sha256 ${ha} (two clean builds: sandbox and container)`);
      await recordProof(
        "hermetic-zima",
        digestOf(ra, [container.image]),
        `image sha256 ${ha}`,
        (performance.now() - t0) / 1000,
      );
    } finally {
      if (prevHost) Deno.env.set("DOCKER_HOST", prevHost);
      else Deno.env.delete("DOCKER_HOST");
      await dockerd.stop();
      for (const d of dirs) await Deno.remove(d, { recursive: true }).catch(() => {});
    }
  },
});
