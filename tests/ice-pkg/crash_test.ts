/**
 * Crash safety: SIGKILL the process after step k of an upgrade that replaces, adds
 * and removes files, for every k; the next run must recover to the old or the new
 * package set with `verify` clean and no temporary files left.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, fixture, treeOf, withTempDir } from "./_helpers.ts";

const MAIN = new URL("../../lib/ice-pkg/main.ts", import.meta.url).pathname;

function pkgSet(out: string): string {
  return out.split("\n").filter(Boolean).join(",");
}

Deno.test("upgrade killed after any step k recovers to the old or new state", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [{
      meta: { name: "tool", version: "1.0" },
      files: {
        "usr/bin/tool": "v1\n",
        "usr/bin/tool-link": { link: "tool" },
        "usr/share/tool/old.txt": "old\n",
        "usr/share/tool/same.txt": "same\n",
        "etc/tool.conf": "a=1\n",
      },
    }]);
    assert.equal((await cli(f.root, "install", "tool")).code, 0);
    const oldSet = pkgSet((await cli(f.root, "list")).out);
    await f.publish([
      {
        meta: { name: "tool", version: "1.1", depends: ["helper"] },
        files: {
          "usr/bin/tool": "v2\n",
          "usr/bin/tool-link": { link: "tool" },
          "usr/share/tool/new.txt": "new\n",
          "usr/share/tool/same.txt": "same\n",
          "etc/tool.conf": "a=2\n",
        },
      },
      {
        meta: { name: "helper" },
        files: { "usr/bin/helper": "h\n", "usr/lib/helper/data": "d\n" },
      },
    ]);
    assert.equal((await cli(f.root, "update")).code, 0);
    // Fill the cache so each run only applies (the download is not part of the protocol).
    const snap = join(dir, "snap");
    await new Deno.Command("cp", { args: ["-a", f.root, snap] }).output();
    const outcomes = new Map<string, number>();
    let finished = false;
    for (let k = 1; k < 200 && !finished; k++) {
      const root = join(dir, `k${k}`);
      await new Deno.Command("cp", { args: ["-a", snap, root] }).output();
      const p = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "--root", root, "upgrade"],
        env: { ICE_PKG_FAULT_AFTER_STEP: String(k) },
        stdout: "null",
        stderr: "piped",
      }).output();
      if (p.signal !== "SIGKILL") {
        assert.equal(p.code, 0, new TextDecoder().decode(p.stderr));
        finished = true;
      }
      const v = await cli(root, "verify");
      assert.equal(v.code, 0, `k=${k}: ${v.out}\n${v.err}`);
      const set = pkgSet((await cli(root, "list")).out);
      outcomes.set(set, (outcomes.get(set) ?? 0) + 1);
      assert.ok(
        set === oldSet || set === "helper-1.0-r0 (dependency),tool-1.1-r0",
        `k=${k}: unexpected package set ${set}`,
      );
      const tree = treeOf(root);
      assert.deepEqual(
        tree.filter((p) => p.includes(".ice-pkg.")),
        [],
        `k=${k}: temporary files left`,
      );
      if (set === oldSet) {
        assert.equal(Deno.readTextFileSync(join(root, "usr/bin/tool")), "v1\n");
        assert.ok(tree.includes("usr/share/tool/old.txt"));
      } else {
        assert.equal(Deno.readTextFileSync(join(root, "usr/bin/tool")), "v2\n");
        assert.ok(!tree.includes("usr/share/tool/old.txt"), `k=${k}: old file not removed`);
      }
      // A second run after recovery works normally (upgrade is a no-op or completes it).
      const again = await cli(root, "upgrade");
      assert.equal(again.code, 0, again.err);
      assert.equal(pkgSet((await cli(root, "list")).out), "helper-1.0-r0 (dependency),tool-1.1-r0");
      assert.equal((await cli(root, "verify")).code, 0);
      await Deno.remove(root, { recursive: true });
    }
    assert.ok(finished, "the upgrade never finished");
    console.log(`outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    assert.equal(outcomes.size, 2, `both outcomes seen: ${[...outcomes.keys()]}`);
  });
});
