/**
 * Container builds give the same bytes as host builds: musl and busybox for zima,
 * then the whole zima image, built in the Debian 12 build image under a private
 * dockerd, compared with the host build from the shared store.
 */
import assert from "node:assert/strict";
import { ensureBuildImage } from "../../lib/container.ts";
import { startDockerd } from "../container/_dockerd.ts";
import { buildStages } from "./_build.ts";

Deno.test({
  name: "container build of musl, busybox and the zima image equals the host build",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const dockerd = await startDockerd();
    const prevHost = Deno.env.get("DOCKER_HOST");
    Deno.env.set("DOCKER_HOST", dockerd.host);
    try {
      const container = await ensureBuildImage("docker", (l) => console.log(l));
      for (const target of ["busybox", "image"]) {
        await t.step(target, async () => {
          const host = await buildStages("zima", [target]);
          const boxed = await buildStages("zima", [target], { container });
          for (const [name, r] of host) {
            const c = boxed.get(name)!;
            assert.notEqual(c.key, r.key, `${name}: container keys carry the image id`);
            assert.equal(
              c.outputHash,
              r.outputHash,
              `${name}: container output differs from host output`,
            );
          }
        });
      }
    } finally {
      if (prevHost) Deno.env.set("DOCKER_HOST", prevHost);
      else Deno.env.delete("DOCKER_HOST");
      await dockerd.stop();
    }
  },
});
