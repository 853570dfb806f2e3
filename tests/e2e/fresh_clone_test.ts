/**
 * The README's main command as a new user runs it: `./setup.sh && deno task image:rpi`
 * in a fresh copy of the checkout, with an empty HOME (so an empty store and an empty
 * Deno cache), only PATH, the locale and the machine's TLS trust in the environment.
 * Only the download dir is shared (sources are checked by sha256 anyway).
 *
 * Every stage that does not depend on the signing key (a fresh HOME makes its own
 * development key) must give the output the user's store holds for the same key: the
 * toolchain, kernel, init, ice-pkg and every package. About 12 minutes cold on 2 cores;
 * a pass is kept as a proof under the digest of the rpi image's stage keys
 * (tests/e2e/_proof.ts), so a warm run skips it until an input changes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultDownloadDir } from "../../lib/fetch/mod.ts";
import { sha256File } from "../../lib/hash.ts";
import { defaultStoreDir, Store } from "../../lib/store.ts";
import { copyCheckout } from "../_checkout.ts";
import { buildStages } from "./_build.ts";
import { digestOf, provenBefore, recordProof, timeFor } from "./_proof.ts";

/** Stages whose output depends on the repository signing key (a fresh HOME has its own). */
const KEYED = new Set(["repo", "rootfs", "image"]);
/** Environment variables a user's shell would pass on: the TLS trust of this machine. */
const PASS = ["PATH", "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "DENO_CERT"];

Deno.test({
  name: "README: ./setup.sh && deno task image:rpi passes in a fresh clone with an empty HOME",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  // The same stages in the user's store give the digest and the outputs to compare with.
  const main = await buildStages("rpi", ["image"]);
  const digest = digestOf(main);
  const proof = await provenBefore("fresh-clone-rpi", digest);
  if (proof) {
    console.log(`fresh clone: already proven for these inputs: ${proof.trim()}`);
    return;
  }
  if (!await timeFor("fresh-clone-rpi", 9 * 60) /* 412 s measured cold */) return;
  const base = await Deno.makeTempDir({ prefix: "icenet-fresh-" });
  try {
    const project = await copyCheckout(join(base, "project"));
    const home = join(base, "home");
    await Deno.mkdir(home);
    const env: Record<string, string> = {
      HOME: home,
      LANG: "C.UTF-8",
      TERM: "dumb",
      CI: "true",
      ICENET_SOURCES: defaultDownloadDir(defaultStoreDir()),
    };
    for (const v of PASS) {
      const val = Deno.env.get(v);
      if (val) env[v] = val;
    }
    const t0 = performance.now();
    const out = await new Deno.Command("bash", {
      args: ["-c", "./setup.sh && deno task image:rpi"],
      cwd: project,
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const seconds = Math.round((performance.now() - t0) / 1000);
    const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
    await Deno.writeTextFile(join(defaultStoreDir(), "logs", "fresh-clone-rpi.log"), text);
    assert.equal(out.code, 0, `failed after ${seconds} s:\n${text.slice(-4000)}`);

    // The image it printed is there and is what it said.
    const image = text.match(/^image: (\S+\.img)$/m)?.[1];
    const sha = text.match(/^sha256: ([0-9a-f]{64})$/m)?.[1];
    assert.ok(image && sha, text.slice(-2000));
    assert.equal(await sha256File(image), sha);

    // Every stage the key does not shape came out as in the user's store.
    const fresh = new Store(join(home, ".cache", "icenet"));
    const compared: string[] = [];
    for (const [name, r] of main) {
      if (KEYED.has(name)) continue;
      const rec = await fresh.latest(name, "rpi");
      assert.ok(rec, `${name}: not built in the fresh clone`);
      assert.equal(rec.key, r.key, `${name}: a different key in the fresh clone`);
      assert.equal(rec.outputHash, r.outputHash, `${name}: a different output in the fresh clone`);
      compared.push(name);
    }
    console.log(
      `fresh clone: image:rpi in ${seconds} s, sha256 ${sha}; ${compared.length} stages ` +
        `identical to the user's store`,
    );
    await recordProof(
      "fresh-clone-rpi",
      digest,
      `${seconds} s, ${compared.length} stages`,
      (performance.now() - t0) / 1000,
    );
  } finally {
    await Deno.remove(base, { recursive: true }).catch(() => {});
  }
});
