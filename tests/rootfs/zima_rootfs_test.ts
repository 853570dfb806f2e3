/**
 * The real zima root file system (images/default.yaml through every stage): the
 * package database lists the base set, `ice-pkg list` works inside a chroot of it,
 * every file is owned by a package or listed as generated, nothing listens unless
 * enabled, and rebuilding the stage gives the same bytes. Slow on a cold store.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openDb } from "../../lib/ice-pkg/db.ts";
import { buildReal, inRoot } from "./_real.ts";

const dec = new TextDecoder();
const BASE = [
  "base-files",
  "busybox",
  "chrony",
  "dropbear",
  "ice-pkg",
  "icenet-init",
  "icenet-update",
  "musl",
];

Deno.test("zima rootfs: base set in the database, every file owned, same bytes when rebuilt", async () => {
  const first = await buildReal(["rootfs"]);
  const out = first.get("rootfs")!.out!;
  const img = join(out, "root.squashfs");
  const work = await Deno.makeTempDir({ prefix: "icenet-zima-root-" });
  const tree = join(work, "root");
  try {
    const u = await new Deno.Command("unsquashfs", {
      args: ["-no-xattrs", "-d", tree, img],
      stdout: "null",
    }).output();
    assert.ok(u.success, dec.decode(u.stderr));
    const db = openDb(tree);
    const names = [...db.installed().keys()].sort();
    const owned = new Set(db.allFiles().map((f) => f.path));
    db.close();
    assert.deepEqual(names, BASE);

    // The device program, in a chroot of the image.
    const list = await new Deno.Command("bwrap", {
      args: ["--setenv", "HOME", "/root", ...inRoot(tree, ["/usr/bin/ice-pkg", "list"])],
    }).output();
    assert.ok(list.success, dec.decode(list.stderr));
    for (const n of BASE) assert.match(dec.decode(list.stdout), new RegExp(`^${n}\\b`, "m"));

    const generated = new Set(
      (JSON.parse(await Deno.readTextFile(join(out, "generated.json"))) as { path: string }[])
        .map((g) => g.path),
    );
    const lls = dec.decode(
      (await new Deno.Command("unsquashfs", { args: ["-lls", "-d", "", img] }).output()).stdout,
    );
    const paths = lls.split("\n").filter((l) => /^[-dlrwxst]{10} /.test(l))
      .map((l) => l.replace(/^.*? \d{4}-\d\d-\d\d \d\d:\d\d /, "").replace(/ -> .*$/, ""))
      .map((p) => p.replace(/^\//, "")).filter(Boolean);
    const stray = paths.filter((p) => !owned.has(p) && !generated.has(p));
    assert.deepEqual(stray, [], "files owned by no package and not generated");

    // Secure defaults: only the image's services are enabled; nobody has a password.
    assert.deepEqual(
      [...Deno.readDirSync(join(tree, "etc/icenet/services"))].map((e) => e.name).sort(),
      ["chronyd", "clock", "dropbear", "getty", "getty-tty1", "network", "setup"],
    );
    for (const line of (await Deno.readTextFile(join(tree, "etc/shadow"))).trim().split("\n")) {
      assert.match(line.split(":")[1], /^[!*]/, line);
    }

    // The stage is a function of its inputs: a forced rebuild gives the same bytes.
    const again = await buildReal(["rootfs"], "zima", ["rootfs"]);
    assert.deepEqual(
      await Deno.readFile(join(again.get("rootfs")!.out!, "root.squashfs")),
      await Deno.readFile(img),
    );
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
