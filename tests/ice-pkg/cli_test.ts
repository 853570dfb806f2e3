import assert from "node:assert/strict";
import { join } from "node:path";
import { cli, fixture, type PkgDef, treeOf, withTempDir } from "./_helpers.ts";
import { acquireLock, pidLock } from "../../lib/ice-pkg/lock.ts";

const repoPkgs: PkgDef[] = [
  { meta: { name: "app", depends: ["libfoo>=2", "sh"] }, files: { "usr/bin/app": "app\n" } },
  { meta: { name: "libfoo", version: "1.0" }, files: { "usr/lib/libfoo.so.1": "1\n" } },
  { meta: { name: "libfoo", version: "2.1" }, files: { "usr/lib/libfoo.so.2": "2\n" } },
  { meta: { name: "libfoo", version: "3.0" }, files: { "usr/lib/libfoo.so.3": "3\n" } },
  {
    meta: { name: "busybox", provides: ["sh=1.36"] },
    files: { "bin/busybox": "bb\n", "bin/sh": { link: "busybox" } },
  },
  { meta: { name: "old-app", depends: ["libfoo<2"] }, files: { "usr/bin/old-app": "old\n" } },
  { meta: { name: "broken", depends: ["app", "nothere>=1"] }, files: { "usr/bin/broken": "x\n" } },
  { meta: { name: "toybox", conflicts: ["busybox"] }, files: { "bin/toybox": "tb\n" } },
  { meta: { name: "thief" }, files: { "bin/busybox": "mine\n" } },
  { meta: { name: "heir", replaces: ["busybox"] }, files: { "bin/busybox": "heir\n" } },
];

Deno.test("install resolves transitively with constraints and provides", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, repoPkgs);
    const r = await cli(f.root, "install", "app");
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Installing app \(1\.0-r0\)/);
    assert.match(r.out, /Installing libfoo \(3\.0-r0\)/);
    assert.match(r.out, /Installing busybox \(1\.0-r0\)/);
    const list = await cli(f.root, "--json", "list");
    const pkgs = JSON.parse(list.out).map((
      p: { name: string; version: string; explicit: boolean },
    ) => [p.name, p.version, p.explicit]);
    assert.deepEqual(pkgs, [
      ["app", "1.0-r0", true],
      ["busybox", "1.0-r0", false],
      ["libfoo", "3.0-r0", false],
    ]);
    assert.equal(Deno.readLinkSync(join(f.root, "bin/sh")), "busybox");
    // A constraint from the command line picks an older version.
    const r2 = await cli(f.root, "install", "libfoo<3");
    assert.equal(r2.code, 0, r2.err);
    assert.match(r2.out, /Downgrading libfoo \(3\.0-r0 -> 2\.1-r0\)/);
    assert.equal((await cli(f.root, "verify")).code, 0);
  });
});

Deno.test("install of an unsatisfiable request names the chain and installs nothing", async (t) => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, repoPkgs);
    const cases: [string[], RegExp][] = [
      [["broken"], /unsatisfiable: world -> broken-1\.0-r0 -> nothere>=1 \(available: none\)/],
      [
        ["app", "old-app"],
        /unsatisfiable: .*libfoo<2 .*also required: world -> app-1\.0-r0 -> libfoo>=2/,
      ],
      [["nosuch"], /unsatisfiable: world -> nosuch \(available: none\)/],
      [
        ["busybox", "toybox"],
        /conflict: toybox-1\.0-r0 conflicts with busybox-1\.0-r0 \(busybox\)/,
      ],
    ];
    for (const [args, re] of cases) {
      await t.step(args.join(" "), async () => {
        const r = await cli(f.root, "install", ...args);
        assert.equal(r.code, 3);
        assert.match(r.err, re);
        assert.deepEqual(treeOf(f.root), ["etc", "var", "var/lib"]);
        assert.equal((await cli(f.root, "list")).out, "");
      });
    }
  });
});

Deno.test("install stops on a file owned by another package unless replaces", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, repoPkgs);
    assert.equal((await cli(f.root, "install", "busybox")).code, 0);
    const before = treeOf(f.root);
    const r = await cli(f.root, "install", "thief");
    assert.equal(r.code, 3);
    assert.match(r.err, /conflict: bin\/busybox of thief is owned by busybox/);
    assert.deepEqual(treeOf(f.root), before);
    assert.equal(Deno.readTextFileSync(join(f.root, "bin/busybox")), "bb\n");
    const h = await cli(f.root, "install", "heir");
    assert.equal(h.code, 0, h.err);
    assert.equal(Deno.readTextFileSync(join(f.root, "bin/busybox")), "heir\n");
    assert.match((await cli(f.root, "owner", "/bin/busybox")).out, /owned by heir-1\.0-r0$/);
    assert.equal((await cli(f.root, "verify")).code, 0);
  });
});

Deno.test("remove refuses to break dependents unless --force; --purge-deps and autoremove", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, repoPkgs);
    assert.equal((await cli(f.root, "install", "app")).code, 0);
    const r = await cli(f.root, "remove", "libfoo");
    assert.equal(r.code, 3);
    assert.match(r.err, /libfoo: needed by app-1\.0-r0 \(depends on libfoo>=2\); pass --force/);
    const p = await cli(f.root, "remove", "--purge-deps", "app");
    assert.equal(p.code, 0, p.err);
    assert.match(p.out, /Removing busybox[\s\S]*Removing libfoo/);
    assert.deepEqual(treeOf(f.root), ["etc", "var", "var/cache", "var/lib"]);
    assert.equal((await cli(f.root, "install", "app")).code, 0);
    const force = await cli(f.root, "remove", "--force", "busybox");
    assert.equal(force.code, 0, force.err);
    assert.equal((await cli(f.root, "remove", "app")).code, 0);
    const a = await cli(f.root, "autoremove");
    assert.match(a.out, /Removing libfoo \(3\.0-r0\)/);
    assert.equal((await cli(f.root, "list")).out, "");
  });
});

Deno.test("upgrade, history and rollback", async () => {
  await withTempDir(async (dir) => {
    const v1 = { name: "tool", version: "1.0" };
    const f = await fixture(dir, [{
      meta: v1,
      files: {
        "usr/bin/tool": "v1\n",
        "usr/share/tool/old.txt": "old\n",
        "etc/tool.conf": "a=1\n",
      },
    }]);
    assert.equal((await cli(f.root, "install", "tool")).code, 0);
    await f.publish([{
      meta: { name: "tool", version: "1.1", depends: ["helper"] },
      files: {
        "usr/bin/tool": "v2\n",
        "usr/share/tool/new.txt": "new\n",
        "etc/tool.conf": "a=1\n",
      },
    }, { meta: { name: "helper" }, files: { "usr/bin/helper": "h\n" } }]);
    assert.equal((await cli(f.root, "update")).code, 0);
    const u = await cli(f.root, "upgrade");
    assert.equal(u.code, 0, u.err);
    assert.match(
      u.out,
      /Installing helper \(1\.0-r0\)[\s\S]*Upgrading tool \(1\.0-r0 -> 1\.1-r0\)/,
    );
    assert.ok(!treeOf(f.root).includes("usr/share/tool/old.txt"));
    assert.equal(Deno.readTextFileSync(join(f.root, "usr/share/tool/new.txt")), "new\n");
    const h = JSON.parse((await cli(f.root, "--json", "history")).out);
    assert.equal(h.length, 2);
    assert.deepEqual(
      h[1].changes.map((
        c: { name: string; oldVersion: string; newVersion: string },
      ) => [c.name, c.oldVersion, c.newVersion]),
      [
        ["helper", null, "1.0-r0"],
        ["tool", "1.0-r0", "1.1-r0"],
      ],
    );
    const rb = await cli(f.root, "rollback", "2");
    assert.equal(rb.code, 0, rb.err);
    assert.match(rb.out, /Removing helper[\s\S]*Downgrading tool \(1\.1-r0 -> 1\.0-r0\)/);
    assert.equal(Deno.readTextFileSync(join(f.root, "usr/bin/tool")), "v1\n");
    assert.deepEqual(treeOf(f.root).filter((p) => p.startsWith("usr/")), [
      "usr/bin",
      "usr/bin/tool",
      "usr/share",
      "usr/share/tool",
      "usr/share/tool/old.txt",
    ]);
    assert.equal((await cli(f.root, "verify")).code, 0);
    const c = await cli(f.root, "clean");
    assert.match(c.out, /removed 2 cached packages/);
    const rb2 = await cli(f.root, "rollback", "3");
    assert.equal(rb2.code, 1);
    assert.match(rb2.err, /rollback: helper-1\.0-r0: .* is not in the cache/);
  });
});

Deno.test("verify reports changed, missing and re-moded files", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, repoPkgs);
    assert.equal((await cli(f.root, "install", "app")).code, 0);
    Deno.writeTextFileSync(join(f.root, "usr/bin/app"), "tampered\n");
    Deno.removeSync(join(f.root, "bin/sh"));
    Deno.chmodSync(join(f.root, "usr/lib/libfoo.so.3"), 0o600);
    const r = await cli(f.root, "verify");
    assert.equal(r.code, 6);
    assert.equal(
      r.out,
      [
        "busybox: /bin/sh: missing",
        "app: /usr/bin/app: content changed (sha256)",
        "libfoo: /usr/lib/libfoo.so.3: mode 600, expected 644",
      ].join("\n"),
    );
  });
});

Deno.test("queries: info, files, owner, search with --json", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, repoPkgs);
    assert.equal((await cli(f.root, "install", "busybox")).code, 0);
    assert.deepEqual(
      JSON.parse((await cli(f.root, "--json", "files", "busybox")).out).map((x: { path: string }) =>
        x.path
      ),
      ["bin", "bin/busybox", "bin/sh"],
    );
    assert.deepEqual(JSON.parse((await cli(f.root, "--json", "owner", `${f.root}/bin/sh`)).out), {
      path: "bin/sh",
      owners: ["busybox-1.0-r0"],
    });
    const o = await cli(f.root, "owner", "/etc/nothing");
    assert.equal(o.code, 3);
    assert.match(o.err, /\/etc\/nothing: not owned by any package/);
    assert.match(
      (await cli(f.root, "info", "libfoo")).out,
      /version: 3\.0-r0[\s\S]*installed: false/,
    );
    assert.match((await cli(f.root, "search", "lib")).out, /libfoo-1\.0-r0 - \nlibfoo-2\.1-r0/);
    const bad = await cli(f.root, "frobnicate");
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown command frobnicate/);
  });
});

Deno.test("install refuses to write through a symlink in the root", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, repoPkgs);
    Deno.mkdirSync(join(dir, "outside"));
    Deno.symlinkSync(join(dir, "outside"), join(f.root, "usr"));
    const r = await cli(f.root, "install", "libfoo");
    assert.equal(r.code, 4);
    assert.match(r.err, /libfoo: usr: refusing to write through the symlink usr in the root/);
    assert.deepEqual([...Deno.readDirSync(join(dir, "outside"))], []);
  });
});

Deno.test("a second ice-pkg on the same root fails with a message", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, repoPkgs);
    const lock = await acquireLock(f.root, 1000);
    try {
      const p = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("../../lib/ice-pkg/main.ts", import.meta.url).pathname,
          "--root",
          f.root,
          "--lock-wait",
          "1",
          "list",
        ],
        stderr: "piped",
      }).output();
      assert.equal(p.code, 5);
      assert.match(
        new TextDecoder().decode(p.stderr),
        /another ice-pkg is running \(lock .* held for more than 1 s\)/,
      );
    } finally {
      lock.close();
    }
  });
});

Deno.test("configuration files keep the user's changes on upgrade and remove", async () => {
  await withTempDir(async (dir) => {
    const f = await fixture(dir, [{
      meta: { name: "svc", conffiles: ["etc/svc.conf", "etc/other.conf"] },
      files: { "etc/svc.conf": "port=1\n", "etc/other.conf": "x=1\n", "usr/bin/svc": "1\n" },
    }]);
    assert.equal((await cli(f.root, "install", "svc")).code, 0);
    Deno.writeTextFileSync(join(f.root, "etc/svc.conf"), "port=2222\n");
    await f.publish([{
      meta: { name: "svc", version: "2.0", conffiles: ["etc/svc.conf", "etc/other.conf"] },
      files: { "etc/svc.conf": "port=1\nlog=1\n", "etc/other.conf": "x=2\n", "usr/bin/svc": "2\n" },
    }]);
    assert.equal((await cli(f.root, "update")).code, 0);
    const u = await cli(f.root, "upgrade");
    assert.equal(u.code, 0, u.err);
    assert.match(
      u.out,
      /keeping modified configuration file \/etc\/svc\.conf; the new one is \/etc\/svc\.conf\.ice-new/,
    );
    assert.equal(Deno.readTextFileSync(join(f.root, "etc/svc.conf")), "port=2222\n");
    assert.equal(Deno.readTextFileSync(join(f.root, "etc/svc.conf.ice-new")), "port=1\nlog=1\n");
    // An unmodified configuration file is simply upgraded.
    assert.equal(Deno.readTextFileSync(join(f.root, "etc/other.conf")), "x=2\n");
    assert.equal((await cli(f.root, "verify")).code, 0);
    const r = await cli(f.root, "remove", "svc");
    assert.match(r.out, /keeping modified configuration file \/etc\/svc\.conf/);
    assert.equal(Deno.readTextFileSync(join(f.root, "etc/svc.conf")), "port=2222\n");
    assert.throws(() => Deno.statSync(join(f.root, "etc/other.conf")));
  });
});

Deno.test("the pid lock (Node's): held by a live process, taken over from a dead or earlier boot", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "lock.pid");
    const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      const stat = Deno.readTextFileSync(`/proc/${sleeper.pid}/stat`);
      const start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
      const boot = Deno.readTextFileSync("/proc/sys/kernel/random/boot_id").trim();
      // A live process of this boot holds it: no lock after the wait.
      Deno.writeTextFileSync(path, `${sleeper.pid} ${boot} ${start}\n`);
      assert.equal(await pidLock(path, 200), undefined);
      // The same pid recorded in another boot (or with another start time) is stale.
      for (
        const held of [
          `${sleeper.pid} 00000000-other-boot ${start}\n`,
          `${sleeper.pid} ${boot} 1\n`,
        ]
      ) {
        Deno.writeTextFileSync(path, held);
        const lock = await pidLock(path, 200);
        assert.ok(lock, held);
        assert.match(Deno.readTextFileSync(path), new RegExp(`^${Deno.pid} ${boot} \\d+\\n$`));
        lock.close();
        assert.throws(() => Deno.statSync(path));
      }
    } finally {
      sleeper.kill();
      await sleeper.status;
    }
    // A dead process's lock is taken over.
    const gone = new Deno.Command("true").spawn();
    await gone.status;
    Deno.writeTextFileSync(path, `${gone.pid} x y\n`);
    const lock = await pidLock(path, 200);
    assert.ok(lock);
    lock.close();
  });
});
