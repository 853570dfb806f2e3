/**
 * base-files' /usr/lib/icenet/reconcile-etc, run with busybox only, as early boot runs
 * it after a system update: /etc files of the writable layer that the update changed
 * follow the new root unless the user edited them; an edited one is kept with the new
 * version beside it (<file>.icenet-new) and listed, like dpkg's conffiles.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { etcManifest } from "../../lib/rootfs/stage.ts";
import { debianBusybox } from "./_busybox_static.ts";

const SCRIPT = new URL(
  "../../pkgs/base-files/files/usr/lib/icenet/reconcile-etc",
  import.meta.url,
).pathname;

/** Write `files` (path -> text) under `dir`, then the root's /etc manifest. */
async function makeRoot(dir: string, files: Record<string, string>): Promise<void> {
  for (const [p, text] of Object.entries(files)) {
    await Deno.mkdir(dirname(join(dir, p)), { recursive: true });
    await Deno.writeTextFile(join(dir, p), text);
  }
  await Deno.mkdir(join(dir, "usr/lib/icenet"), { recursive: true });
  await Deno.writeTextFile(join(dir, "usr/lib/icenet/etc.sha256"), await etcManifest(dir));
}

async function exists(p: string): Promise<boolean> {
  return await Deno.stat(p).then(() => true, () => false);
}

Deno.test("reconcile-etc: after an update, unedited copies follow the new root, edited ones are kept beside it", async () => {
  const base = await Deno.makeTempDir({ prefix: "icenet-reconcile-" });
  try {
    const bin = await debianBusybox(join(base, "busybox"));
    const run = async (root: string) => {
      const p = await new Deno.Command(join(bin, "sh"), {
        args: [SCRIPT, root, join(base, "data/upper"), join(base, "data/etc.sha256")],
        env: { PATH: bin },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      assert.equal(p.code, 0, dec.decode(p.stderr));
      return dec.decode(p.stdout);
    };
    const upper = join(base, "data/upper");
    await Deno.mkdir(join(base, "data"));
    const v1 = join(base, "v1"), v2 = join(base, "v2");
    await makeRoot(v1, {
      "etc/copied": "one\n", // copied up by a chmod, never edited
      "etc/edited": "port 22\n",
      "etc/same": "same\n", // the user wrote what v2 ships
      "etc/untouched": "stays\n", // v2 does not change it
      "etc/dropped": "gone in v2\n",
    });
    await makeRoot(v2, {
      "etc/copied": "two\n",
      "etc/edited": "port 22\nciphers new\n",
      "etc/same": "v2 text\n",
      "etc/untouched": "stays\n",
    });
    // First boot of v1: the state is recorded, nothing else happens.
    assert.equal(await run(v1), "");
    assert.equal(
      await Deno.readTextFile(join(base, "data/etc.sha256")),
      await etcManifest(v1),
    );
    // The user's layer.
    await makeRoot(upper, {
      "etc/copied": "one\n",
      "etc/edited": "port 2222\n",
      "etc/same": "v2 text\n",
      "etc/untouched": "my edit\n",
      "etc/dropped": "my edit of a file v2 drops\n",
      "etc/mine": "a file of my own\n",
    });
    await Deno.remove(join(upper, "usr"), { recursive: true });
    // Unchanged root: nothing to do.
    assert.equal(await run(v1), "");
    assert.ok(await exists(join(upper, "etc/copied")));

    const out = await run(v2);
    assert.ok(!await exists(join(upper, "etc/copied")), "an unedited copy follows v2");
    assert.ok(!await exists(join(upper, "etc/same")), "a copy equal to v2's is dropped");
    assert.equal(await Deno.readTextFile(join(upper, "etc/edited")), "port 2222\n");
    assert.equal(
      await Deno.readTextFile(join(upper, "etc/edited.icenet-new")),
      "port 22\nciphers new\n",
    );
    assert.equal(await Deno.readTextFile(join(upper, "etc/untouched")), "my edit\n");
    assert.ok(!await exists(join(upper, "etc/untouched.icenet-new")));
    assert.equal(
      await Deno.readTextFile(join(upper, "etc/dropped")),
      "my edit of a file v2 drops\n",
    );
    assert.equal(await Deno.readTextFile(join(upper, "etc/mine")), "a file of my own\n");
    assert.equal(
      await Deno.readTextFile(join(base, "data/update-conflicts")),
      "/etc/edited: kept your version; the update's is /etc/edited.icenet-new\n",
    );
    assert.match(out, /\/etc\/copied follows the new system/);
    assert.match(out, /\/etc\/edited: kept your version/);
    assert.equal(await Deno.readTextFile(join(base, "data/etc.sha256")), await etcManifest(v2));
    // The next boot of v2 changes nothing more.
    assert.equal(await run(v2), "");
  } finally {
    await Deno.remove(base, { recursive: true });
  }
});
