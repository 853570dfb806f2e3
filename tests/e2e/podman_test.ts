/**
 * Podman as the container engine (hermetic tier): the build image made by Podman from
 * the same debootstrap root and Containerfile, with tasks/container/containers.conf
 * (runc, rlimits this host allows), builds kernel-headers, musl and busybox in a clean
 * store bit-identical to the host build in the user's store. A pass is kept as a
 * proof for these stage keys and this image (tests/e2e/_proof.ts).
 */
import assert from "node:assert/strict";
import { ensureBuildImage, findBuildImage, PACKAGES_LOCK } from "../../lib/container.ts";
import { defaultDownloadDir } from "../../lib/fetch/mod.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { buildStages } from "./_build.ts";
import { digestOf, provenBefore, recordProof, timeFor } from "./_proof.ts";

Deno.test({
  name: "podman: kernel-headers, musl and busybox built in the container equal the host's",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const host = await buildStages("zima", ["busybox"]);
    // A proof names the build image, so one that does not exist yet is not proven.
    const existing = await findBuildImage("podman");
    const proof = existing &&
      await provenBefore("podman-busybox", digestOf(host, [existing.image]));
    if (proof) {
      console.log(`podman: already proven for these inputs: ${proof.trim()}`);
      return;
    }
    if (!await timeFor("podman-busybox", 4 * 60) /* 143 s measured cold */) return;
    const t0 = performance.now();
    // Building an image rewrites the lock (its header names the image): keep ours.
    const lock = await Deno.readTextFile(PACKAGES_LOCK);
    const container = await ensureBuildImage("podman", (l) => console.log(l))
      .finally(() => Deno.writeTextFile(PACKAGES_LOCK, lock));
    const digest = digestOf(host, [container.image]);
    const store = await Deno.makeTempDir({ prefix: "icenet-podman-store-" });
    let keep = false;
    try {
      const pod = await buildStages("zima", ["busybox"], {
        storeDir: store,
        downloadDir: defaultDownloadDir(defaultStoreDir()),
        container,
      });
      for (const s of ["kernel-headers", "musl", "busybox"]) {
        assert.equal(pod.get(s)!.outcome, "built", `${s} was built in the container`);
        if (pod.get(s)!.outputHash === host.get(s)!.outputHash) continue;
        keep = true;
        const files = async (st: Store, hash: string) =>
          new Map((await st.manifest(hash))!.files.map((f) => [f.path, JSON.stringify(f)]));
        const [a, b] = [
          await files(new Store(defaultStoreDir()), host.get(s)!.outputHash!),
          await files(new Store(store), pod.get(s)!.outputHash!),
        ];
        const differ = [...new Set([...a.keys(), ...b.keys()])].filter((p) =>
          a.get(p) !== b.get(p)
        );
        assert.fail(
          `${s} differs in ${differ.slice(0, 10).join(", ")}: host ${host.get(s)!.out}, ` +
            `podman ${pod.get(s)!.out} (kept)`,
        );
      }
      await recordProof(
        "podman-busybox",
        digest,
        `busybox ${host.get("busybox")!.outputHash}`,
        (performance.now() - t0) / 1000,
      );
    } finally {
      if (!keep) await Deno.remove(store, { recursive: true });
    }
  },
});
