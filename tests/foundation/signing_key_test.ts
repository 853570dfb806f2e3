/**
 * Signing keys (lib/recipe/repo_key.ts): the repository and update keys each come from
 * their own environment variable, else a development key made once per store; the two
 * are different keys; a key file that cannot be read is named with its variable.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { repoKey } from "../../lib/recipe/repo_key.ts";
import { updateKey } from "../../lib/update/key.ts";

Deno.test("repository and update keys: made once per store, separate, overridable", async () => {
  const store = await Deno.makeTempDir();
  const saved = ["ICENET_REPO_KEY", "ICENET_UPDATE_KEY"].map((v) => [v, Deno.env.get(v)]);
  try {
    for (const [v] of saved) Deno.env.delete(v!);
    const repo = await repoKey(store);
    const update = await updateKey(store);
    assert.ok(repo.development && update.development);
    assert.equal(repo.path, join(store, "repo-key", "development.key"));
    assert.equal(update.path, join(store, "update-key", "development.key"));
    assert.notEqual(repo.keyId, update.keyId, "an update key of its own");
    assert.equal((await repoKey(store)).keyId, repo.keyId, "made once");
    assert.equal((await updateKey(store)).keyId, update.keyId, "made once");
    assert.match(update.publicLine, /^ed25519 [A-Za-z0-9+/=]+\n$/);

    Deno.env.set("ICENET_UPDATE_KEY", repo.path);
    const given = await updateKey(store);
    assert.deepEqual([given.keyId, given.development], [repo.keyId, false]);
    Deno.env.set("ICENET_UPDATE_KEY", join(store, "missing.key"));
    await assert.rejects(updateKey(store), /^Error: ICENET_UPDATE_KEY=.*missing\.key: cannot read/);
  } finally {
    for (const [v, val] of saved) val === undefined ? Deno.env.delete(v!) : Deno.env.set(v!, val);
    await Deno.remove(store, { recursive: true });
  }
});
