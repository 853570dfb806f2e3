/**
 * Issue 15's hostile packages, each built on the fly with the real writer and signed
 * into a real repository: none may wedge a root, replace ice-pkg's own state or
 * clobber shared directories. After every refusal the root is exactly as before, no
 * journal is left and every later command works.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cli,
  craftPackage,
  fixture,
  journalOf,
  makePackage,
  modeOf,
  publishRaw,
  treeOf,
  withTempDir,
} from "./_helpers.ts";
import { DatabaseSync } from "node:sqlite";
import { buildRepo } from "../../lib/ice-pkg/repo.ts";

const MAIN = new URL("../../lib/ice-pkg/main.ts", import.meta.url).pathname;
const hello = { meta: { name: "hello" }, files: { "usr/bin/hello": "hi\n" } };

/** The root's tree, but for ice-pkg's cache directory (made on the first download). */
function tree(root: string): string[] {
  return treeOf(root).filter((p) => p !== "var/cache");
}

/** The root still works: list, verify and a normal install all succeed. */
async function assertHealthy(root: string): Promise<void> {
  assert.equal(journalOf(root), undefined, "a journal was left behind");
  for (const args of [["list"], ["verify"], ["install", "hello"], ["remove", "hello"]]) {
    const r = await cli(root, ...args);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
    assert.doesNotMatch(r.err, /\n\s+at /, "stack trace in the output");
  }
}

Deno.test("a file name longer than NAME_MAX is refused before anything is written", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello]);
    const long = "a".repeat(300);
    await publishRaw(f, [{
      name: "longname",
      bytes: await craftPackage({ name: "longname" }, [
        { path: "usr", type: "dir" },
        { path: "usr/share", type: "dir" },
        { path: `usr/share/${long}`, type: "file", text: "x\n" },
      ]),
    }]);
    assert.equal((await cli(f.root, "update")).code, 0);
    const before = tree(f.root);
    const r = await cli(f.root, "install", "longname");
    assert.equal(r.code, 4, r.err);
    assert.match(
      r.err,
      /longname-1\.0-r0\.ice: .*a{20}.*: name of 300 bytes, more than NAME_MAX \(255\)/,
    );
    assert.deepEqual(tree(f.root), before);
    await assertHealthy(f.root);
  });
});

Deno.test("a path longer than PATH_MAX is refused", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello]);
    // 20 components of 250 bytes: each name fits, the path (5019 bytes) does not.
    const parts = Array.from({ length: 20 }, (_, i) => String(i).padStart(250, "d"));
    const entries = parts.map((_, i) => ({
      path: parts.slice(0, i + 1).join("/"),
      type: "dir" as const,
    }));
    entries.push({ path: `${parts.join("/")}/f`, type: "file" as const } as never);
    await publishRaw(f, [{ name: "deep", bytes: await craftPackage({ name: "deep" }, entries) }]);
    const r = await cli(f.root, "install", "deep");
    assert.equal(r.code, 4, r.err);
    assert.match(r.err, /deep-1\.0-r0\.ice: .*path of \d+ bytes, more than PATH_MAX \(4095\)/);
    await assertHealthy(f.root);
  });
});

Deno.test("a repository build refuses names the kernel cannot hold", async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, "longname.ice");
    Deno.writeFileSync(
      file,
      await craftPackage({ name: "longname" }, [
        { path: "usr", type: "dir" },
        { path: `usr/${"b".repeat(256)}`, type: "file", text: "x\n" },
      ]),
    );
    const { generateKeyFiles } = await import("../../lib/ice-pkg/keys.ts");
    await assert.rejects(
      buildRepo({
        packages: [file],
        outDir: join(dir, "repo"),
        privateKey: (await generateKeyFiles()).privateFile,
      }),
      /longname\.ice: .*b{20}.*: name of 256 bytes, more than NAME_MAX \(255\)/,
    );
  });
});

Deno.test("a symlink and a file below it in one transaction are refused as a conflict", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [
      hello,
      { meta: { name: "link" }, files: { "usr/evil": { link: "/tmp" } } },
      // Built from a tree, "below" lists usr/evil as a directory: a plain path conflict.
      { meta: { name: "tidy" }, files: { "usr/evil/x": "x\n" } },
    ]);
    // Hand-made, "below" does not list its parent directory at all.
    await publishRaw(f, [{
      name: "below",
      bytes: await craftPackage({ name: "below" }, [
        { path: "usr", type: "dir" },
        { path: "usr/evil/x", type: "file", text: "x\n" },
      ]),
    }]);
    assert.equal((await cli(f.root, "update")).code, 0);
    const before = tree(f.root);
    const cases: [string[], RegExp][] = [
      [
        ["link", "below"],
        /conflict: usr\/evil\/x of below needs usr\/evil to be a directory, but link installs a symlink there/,
      ],
      [
        ["below", "link"],
        /conflict: usr\/evil\/x of below needs usr\/evil to be a directory, but link installs a symlink there/,
      ],
      [["link", "tidy"], /conflict: usr\/evil is in both (link and tidy|tidy and link)/],
    ];
    for (const [order, re] of cases) {
      const r = await cli(f.root, "install", ...order);
      assert.equal(r.code, 3, r.err);
      assert.match(r.err, re);
      assert.deepEqual(tree(f.root), before);
      assert.equal(journalOf(f.root), undefined);
    }
    // One at a time: the second is refused against what is on disk.
    assert.equal((await cli(f.root, "install", "link")).code, 0);
    const r = await cli(f.root, "install", "below");
    assert.equal(r.code, 4, r.err);
    assert.match(r.err, /below: usr\/evil\/x: refusing to write through the symlink usr\/evil/);
    await assertHealthy(f.root);
  });
});

Deno.test("a rename that fails after the commit point is undone: old set, journal cleared", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello, {
      meta: { name: "tool", version: "1.0" },
      files: { "usr/bin/tool": "v1\n", "usr/share/tool/old.txt": "old\n" },
    }]);
    assert.equal((await cli(f.root, "install", "tool")).code, 0);
    await f.publish([{
      meta: { name: "tool", version: "1.1" },
      files: { "usr/bin/tool": "v2\n", "usr/share/tool/new.txt": "new\n" },
    }]);
    assert.equal((await cli(f.root, "update")).code, 0);
    const snap = join(dir, "snap");
    await new Deno.Command("cp", { args: ["-a", f.root, snap] }).output();
    // Find the step after which the journal says "commit" and nothing is renamed yet.
    let root = "";
    for (let k = 1; k < 40 && !root; k++) {
      const r = join(dir, `k${k}`);
      await new Deno.Command("cp", { args: ["-a", snap, r] }).output();
      const p = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "--root", r, "upgrade"],
        env: { ICE_PKG_FAULT_AFTER_STEP: String(k) },
        stdout: "null",
        stderr: "null",
      }).output();
      assert.equal(p.signal, "SIGKILL", `k=${k}: the upgrade finished before its commit point`);
      if (journalOf(r) === "commit" && modeOf(join(r, "usr/share/tool/new.txt")) === undefined) {
        root = r;
      }
    }
    assert.ok(root, "no step left the journal at commit");
    // Something in the way of a rename (here a directory where the new file goes):
    // completing the transaction is impossible, so recovery must undo it.
    Deno.mkdirSync(join(root, "usr/share/tool/new.txt/inside"), { recursive: true });
    const r = await cli(root, "list");
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.err + r.out,
      /could not complete an interrupted transaction .*usr\/share\/tool\/new\.txt.*: undone, the root is as before it/,
    );
    assert.equal(r.out.split("\n").at(-1), "tool-1.0-r0");
    assert.equal(journalOf(root), undefined);
    assert.equal(Deno.readTextFileSync(join(root, "usr/bin/tool")), "v1\n");
    assert.equal(Deno.readTextFileSync(join(root, "usr/share/tool/old.txt")), "old\n");
    assert.deepEqual(treeOf(root).filter((p) => p.includes(".ice-pkg.")), []);
    assert.equal((await cli(root, "verify")).code, 0);
    // The obstacle is still there: a new attempt is refused cleanly, before writing.
    const u = await cli(root, "upgrade");
    assert.equal(u.code, 1, u.err);
    assert.match(u.err, /tool: usr\/share\/tool\/new\.txt: is a directory in the root/);
    assert.doesNotMatch(u.err, /\n\s+at /);
    assert.equal(journalOf(root), undefined);
  });
});

Deno.test("a package cannot ship ice-pkg's database, cache, journal or keys", async (t) => {
  const cases: [string, string][] = [
    ["db", "var/lib/ice-pkg/db.sqlite"],
    ["cache", "var/cache/ice-pkg/hello-1.0-r0.ice"],
    ["keys", "etc/icenet/keys/attacker.pub"],
    ["lock", "var/lib/ice-pkg/lock"],
  ];
  for (const [name, path] of cases) {
    await t.step(path, async () => {
      await withTempDir(async (dir) => {
        const f = await fixture(dir, [hello]);
        const parts = path.split("/");
        const dirs = parts.slice(0, -1).map((_, i) => ({
          path: parts.slice(0, i + 1).join("/"),
          type: "dir" as const,
        }));
        await publishRaw(f, [{
          name,
          bytes: await craftPackage({ name }, [
            ...dirs,
            { path, type: "file", text: "SQLite format 3\0 not really\n" },
          ]),
        }]);
        const r = await cli(f.root, "install", name);
        assert.equal(r.code, 4, r.err);
        assert.match(r.err, new RegExp(`${path.replaceAll(".", "\\.")}: .*reserved for ice-pkg`));
        await assertHealthy(f.root);
      });
      // The writer refuses it too.
      await assert.rejects(makePackage({ name }, { [path]: "x" }), /reserved for ice-pkg/);
    });
  }
});

Deno.test("an existing directory keeps its mode and survives the package that lists it", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello, {
      meta: { name: "claim" },
      files: { "var/tmp": { dir: 0o755 }, "etc": { dir: 0o700 }, "etc/claim.conf": "c\n" },
    }]);
    Deno.mkdirSync(join(f.root, "var/tmp"), { recursive: true });
    Deno.chmodSync(join(f.root, "var/tmp"), 0o1777);
    Deno.chmodSync(join(f.root, "etc"), 0o755);
    const i = await cli(f.root, "install", "claim");
    assert.equal(i.code, 0, i.err);
    assert.equal(modeOf(join(f.root, "var/tmp")), 0o1777);
    assert.equal(modeOf(join(f.root, "etc")), 0o755);
    const r = await cli(f.root, "remove", "claim");
    assert.equal(r.code, 0, r.err);
    assert.equal(modeOf(join(f.root, "var/tmp")), 0o1777, "var/tmp removed or changed");
    assert.equal(modeOf(join(f.root, "etc")), 0o755);
    assert.equal(modeOf(join(f.root, "etc/claim.conf")), undefined);
    await assertHealthy(f.root);
  });
});

Deno.test("a directory shared by two packages stays until the last one goes", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [
      hello,
      { meta: { name: "one" }, files: { "opt/shared": { dir: 0o750 }, "opt/shared/one": "1" } },
      { meta: { name: "two" }, files: { "opt/shared": { dir: 0o755 }, "opt/shared/two": "2" } },
    ]);
    assert.equal((await cli(f.root, "install", "one")).code, 0);
    assert.equal(modeOf(join(f.root, "opt/shared")), 0o750);
    assert.equal((await cli(f.root, "install", "two")).code, 0);
    assert.equal(modeOf(join(f.root, "opt/shared")), 0o750, "the second package changed it");
    assert.equal((await cli(f.root, "remove", "one")).code, 0);
    assert.equal(modeOf(join(f.root, "opt/shared")), 0o750);
    assert.equal((await cli(f.root, "remove", "two")).code, 0);
    assert.equal(modeOf(join(f.root, "opt/shared")), undefined, "not removed by the last owner");
    assert.equal(modeOf(join(f.root, "opt")), undefined);
  });
});

Deno.test("world-writable directories: sticky 1777 is accepted, 0777 refused", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [
      hello,
      { meta: { name: "sticky" }, files: { "srv/drop": { dir: 0o1777 } } },
    ]);
    const i = await cli(f.root, "install", "sticky");
    assert.equal(i.code, 0, i.err);
    assert.equal(modeOf(join(f.root, "srv/drop")), 0o1777);
    await publishRaw(f, [{
      name: "open",
      bytes: await craftPackage({ name: "open" }, [{ path: "srv", type: "dir" }, {
        path: "srv/open",
        type: "dir",
        mode: 0o777,
      }]),
    }]);
    assert.equal((await cli(f.root, "update")).code, 0);
    const r = await cli(f.root, "install", "open");
    assert.equal(r.code, 4, r.err);
    assert.match(
      r.err,
      /open-1\.0-r0\.ice: srv\/open: world-writable directory without the sticky bit \(mode 777\)/,
    );
    await assertHealthy(f.root);
    await assert.rejects(
      makePackage({ name: "open" }, { "srv/open": { dir: 0o777 } }),
      /srv\/open: world-writable directory without the sticky bit/,
    );
  });
});

Deno.test("a package refused for its content does not stay in the cache", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello]);
    await publishRaw(f, [{
      name: "bad",
      bytes: await craftPackage({ name: "bad" }, [{ path: "../evil", type: "file", text: "x" }]),
    }]);
    const r = await cli(f.root, "install", "bad");
    assert.equal(r.code, 4, r.err);
    assert.match(r.err, /path leaves the root/);
    const cache = join(f.root, "var/cache/ice-pkg");
    const left = modeOf(cache) === undefined ? [] : [...Deno.readDirSync(cache)].map((e) => e.name);
    assert.deepEqual(left, []);
    await assertHealthy(f.root);
  });
});

Deno.test("a dependency with a stray '-' is refused, not read as another version", async () => {
  await assert.rejects(
    makePackage({ name: "dep", depends: ["hello>=1.0-2"] }, { "usr/bin/dep": "d" }),
    /depends\.0: .*bad dependency "hello>=1\.0-2": "1\.0-2" is not a version/,
  );
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello]);
    const r = await cli(f.root, "install", "hello>=1.0-2");
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /^ice-pkg: bad dependency "hello>=1\.0-2": "1\.0-2" is not a version/);
    assert.equal((await cli(f.root, "list")).out, "");
  });
});

Deno.test("a wedged journal left by an older ice-pkg is abandoned, not retried forever", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello]);
    assert.equal((await cli(f.root, "install", "hello")).code, 0);
    // What the old ice-pkg left after a rename failed past its commit point.
    Deno.writeTextFileSync(join(f.root, "usr/bin/.ice-pkg.0ld0ld00.0"), "new\n");
    Deno.mkdirSync(join(f.root, "usr/bin/stuck/inside"), { recursive: true });
    const plan = {
      mkdirs: [],
      puts: [{
        path: "usr/bin/stuck",
        tmp: "usr/bin/.ice-pkg.0ld0ld00.0",
        type: "file",
        mode: 0o644,
        uid: 0,
        gid: 0,
      }],
      dels: ["usr/bin/gone"],
      rmdirs: [],
      db: {
        command: "old",
        time: "2026-01-01T00:00:00.000Z",
        remove: [],
        add: [],
        takeover: [],
        changes: [],
      },
    };
    const db = new DatabaseSync(join(f.root, "var/lib/ice-pkg/db.sqlite"));
    db.prepare("INSERT INTO journal VALUES (1, 'commit', ?)").run(JSON.stringify(plan));
    db.close();
    const r = await cli(f.root, "list");
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.out,
      /could not complete an interrupted transaction of an older ice-pkg \(.*usr\/bin\/stuck.*\): abandoned/,
    );
    assert.match(r.out, /^hello-1\.0-r0$/m);
    assert.equal(journalOf(f.root), undefined);
    assert.equal(modeOf(join(f.root, "usr/bin/.ice-pkg.0ld0ld00.0")), undefined);
    await assertHealthy(f.root);
  });
});

Deno.test("a write refused by the file system during staging is rolled back", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [hello, {
      meta: { name: "two" },
      files: { "usr/share/a/one": "1\n", "usr/share/b/two": "2\n" },
    }]);
    assert.equal((await cli(f.root, "update")).code, 0);
    // An immutable directory (chattr +i): even root cannot create a file in it.
    Deno.mkdirSync(join(f.root, "usr/share/b"), { recursive: true });
    const before = tree(f.root);
    const chattr = (flag: string) =>
      new Deno.Command("chattr", { args: [flag, join(f.root, "usr/share/b")] }).output();
    assert.ok((await chattr("+i")).success, "chattr +i (e2fsprogs) failed");
    try {
      const r = await cli(f.root, "install", "two");
      assert.equal(r.code, 1, r.err);
      assert.match(
        r.err,
        /^ice-pkg: EPERM: operation not permitted, open '.*usr\/share\/b\/\.ice-pkg\./,
      );
      assert.deepEqual(tree(f.root), before);
      assert.equal(journalOf(f.root), undefined);
    } finally {
      await chattr("-i");
    }
    await assertHealthy(f.root);
    assert.equal((await cli(f.root, "install", "two")).code, 0);
  });
});
