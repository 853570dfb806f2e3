import assert from "node:assert/strict";
import { loadImageDef, parseImageDef } from "../../lib/image_def.ts";

const root = new URL("../..", import.meta.url).pathname;
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHx3Bf2K0sFZ5s0jRj3KtS8E5Q1mQ1m8T1bq7T2mQ1m8 test";

const GOOD = `description: test image
packages: [base-files, dropbear]
services: [dropbear]
hostname: edge-1
users:
  - name: root
    keys: ["${KEY}"]
  - name: admin
    uid: 1000
    groups: [wheel]
partitions:
  data: 256M
`;

Deno.test("loadImageDef() loads every image under images/", async () => {
  for (const e of Deno.readDirSync(`${root}/images`)) {
    const def = await loadImageDef(`${root}/images/${e.name}`);
    assert.ok(def.packages.includes("base-files"), `${e.name} lacks base-files`);
  }
  const def = await loadImageDef(`${root}/images/default.yaml`);
  assert.deepEqual(def.services, [
    "getty",
    "getty-tty1",
    "network",
    "clock",
    "setup",
    "dropbear",
    "chronyd",
  ]);
  // Secure default: nobody has a password.
  assert.ok(def.users.every((u) => u.password === undefined));
});

Deno.test("parseImageDef() applies defaults", () => {
  const def = parseImageDef("x.yaml", "description: d\npackages: [base-files]\n");
  assert.equal(def.hostname, "icenet");
  assert.deepEqual(def.services, []);
  assert.deepEqual(def.users, []);
  const full = parseImageDef("x.yaml", GOOD);
  assert.equal(full.users[1].shell, "/bin/sh");
  assert.deepEqual(full.partitions, { data: "256M" });
});

Deno.test("parseImageDef() names file, line and field of a bad definition", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["unknown field", GOOD.replace("hostname:", "hostnam:"), /x\.yaml:4: hostnam: unknown field/],
    ["bad host name", GOOD.replace("edge-1", "Edge_1"), /x\.yaml:4: hostname: a host name/],
    ["bad package", GOOD.replace("dropbear]", "Dropbear]"), /x\.yaml:2: packages\.1: a package/],
    [
      "plain-text password",
      GOOD.replace("uid: 1000", "uid: 1000\n    password: hunter2"),
      /x\.yaml:10: users\.1\.password: a crypt\(3\) hash/,
    ],
    ["bad key", GOOD.replace(KEY, "AAAA"), /x\.yaml:7: users\.0\.keys\.0: an OpenSSH public key/],
    ["bad size", GOOD.replace("256M", "lots"), /x\.yaml:12: partitions\.data: size like/],
    [
      "user without uid",
      GOOD.replace("    uid: 1000\n", ""),
      /x\.yaml: users: "admin" needs a uid/,
    ],
  ];
  for (const [name, text, re] of cases) {
    await t.step(name, () => assert.throws(() => parseImageDef("x.yaml", text), re));
  }
  await t.step("kernel arguments: one word each, none that IceNet sets itself", () => {
    const bad = (args: string) => GOOD + `cmdline: [${args}]\n`;
    assert.throws(
      () => parseImageDef("x.yaml", bad(`quiet, "a b"`)),
      /x\.yaml:13: cmdline\.1: one argument, without spaces/,
    );
    assert.throws(
      () => parseImageDef("x.yaml", bad("root=/dev/sda2")),
      /x\.yaml:13: cmdline\.0: IceNet sets root itself/,
    );
    assert.throws(() => parseImageDef("x.yaml", bad("icenet.slot=b")), /sets icenet\.slot itself/);
    assert.throws(() => parseImageDef("x.yaml", bad("dm-mod.create=x")), /sets dm-mod\.create/);
    assert.deepEqual(parseImageDef("x.yaml", bad("quiet, rootdelay=2")).cmdline, [
      "quiet",
      "rootdelay=2",
    ]);
  });
  await t.step("user twice", () => {
    const twice = GOOD.replace("partitions:", "  - name: admin\n    uid: 1001\npartitions:");
    assert.throws(() => parseImageDef("x.yaml", twice), /x\.yaml: users: "admin" is listed twice/);
  });
});
