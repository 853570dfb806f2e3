/**
 * Site settings (lib/site.ts): a user's file and flags laid over the image definition,
 * errors that name file, line and field (or the flag), the Wi-Fi key derived as
 * wpa_passphrase does, and the files the rootfs stage writes from them — checked with
 * real musl for the time zone.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { main } from "../../lib/cli.ts";
import { parseImageDef } from "../../lib/image_def.ts";
import { rootfsStage } from "../../lib/rootfs/stage.ts";
import { defineStage } from "../../lib/stage.ts";
import {
  applySite,
  loadSite,
  mergeSites,
  SITE_ENV,
  siteFromEnv,
  siteFromFlags,
} from "../../lib/site.ts";
import { tzifFromRule } from "../../lib/tzif.ts";
import { buildProject, project } from "./_project.ts";

const KEY_A = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBZeK12WAIN854S5aeoM1c/RfW+Zp3UVqKjmkCB+uxMS a";
const KEY_B = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1y2M4n6ZkR0kq2vX1p4qf8Qm3m4f0T8b3k2W9y5m1A b";
const BASE = parseImageDef(
  "images/base.yaml",
  `description: base
packages: [base-files, busybox]
services: [getty]
users:
  - name: root
    keys: ["${KEY_A}"]
`,
);

async function tmpFile(text: string): Promise<string> {
  const f = await Deno.makeTempFile({ suffix: ".yaml" });
  await Deno.writeTextFile(f, text);
  return f;
}

Deno.test("loadSite() names the file, line and field of a bad setting", async (t) => {
  const cases: [string, string, RegExp][] = [
    ["country", "wifi:\n  country: de\n  ssid: home\n  psk: longenough\n", /:2: wifi\.country:/],
    ["ipv4", "hostname: pi\nnetwork:\n  ipv4: 10.0.0.300/24\n", /:3: network\.ipv4:/],
    ["key", `users:\n  - name: root\n    keys: ["not a key"]\n`, /:3: users\.0\.keys\.0:/],
    ["unknown", "hostnmae: pi\n", /hostnmae/],
    ["timezone", "timezone: Europe/Berlin\n", /:1: timezone: a POSIX TZ rule/],
  ];
  for (const [name, text, re] of cases) {
    await t.step(name, async () => {
      const f = await tmpFile(text);
      await assert.rejects(() => loadSite(f), (e: Error) => {
        assert.ok(e.message.startsWith(f), e.message);
        assert.match(e.message, re);
        return true;
      });
      await Deno.remove(f);
    });
  }
});

Deno.test("siteFromFlags() derives the WPA key as wpa_passphrase does and names a bad flag", async () => {
  // IEEE 802.11i-2004, annex H.4.1: passphrase "password", SSID "IEEE".
  const s = await siteFromFlags({
    "wifi-country": "DE",
    "wifi-ssid": "IEEE",
    "wifi-psk": "password",
  });
  assert.equal(s.wifi?.psk, "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e");
  await assert.rejects(() => siteFromFlags({ ipv4: "10.1.2.3" }), /--ipv4: an IPv4 address with/);
  await assert.rejects(() => siteFromFlags({ "wifi-ssid": "x" }), /--wifi-country: /);
  await assert.rejects(() => siteFromFlags({ "ssh-key": ["/nonexistent"] }), /--ssh-key \/nonexi/);
});

Deno.test("applySite() lays settings over the image: lists add up, later values win", async () => {
  const file = await tmpFile(`hostname: garden
services: [dropbear]
users:
  - name: root
    keys: ["${KEY_B}"]
  - name: admin
    uid: 1000
    keys: ["${KEY_A}"]
network:
  ipv4: 192.168.1.20/24
  gateway: 192.168.1.1
  dns: [192.168.1.1]
timezone: CET-1CEST,M3.5.0,M10.5.0/3
cmdline: [quiet]
`);
  const site = mergeSites(await loadSite(file), await siteFromFlags({ hostname: "shed" }));
  const def = applySite(BASE, site, "test");
  assert.equal(def.hostname, "shed");
  assert.deepEqual(def.services, ["getty", "dropbear"]);
  assert.deepEqual(def.cmdline, ["quiet"]);
  assert.throws(
    () => applySite(BASE, { cmdline: ["init=/bin/sh"] }, "my.yaml"),
    /my\.yaml: cmdline\.0: IceNet sets init itself/,
  );
  assert.deepEqual(def.users.find((u) => u.name === "root")!.keys, [KEY_A, KEY_B]);
  assert.deepEqual(def.users.find((u) => u.name === "admin")!.uid, 1000);
  assert.deepEqual(def.network, {
    ipv4: "192.168.1.20/24",
    gateway: "192.168.1.1",
    dns: ["192.168.1.1"],
  });
  // Back to DHCP from a flag drops the static leftovers; a user without a uid is refused.
  assert.deepEqual(applySite(def, await siteFromFlags({ ipv4: "dhcp" }), "t").network, {
    ipv4: "dhcp",
    dns: [],
  });
  assert.throws(() => applySite(BASE, { users: [{ name: "bob" }] }, "my.yaml"), /my\.yaml: .*uid/);
  await Deno.remove(file);
});

Deno.test("the CLI hands --config and flags to the stage factories", async () => {
  const file = await tmpFile("hostname: from-file\ntimezone: UTC\n");
  const p = await project({});
  const seen: unknown[] = [];
  const stage = defineStage({
    name: "probe",
    async run({ out }) {
      await Deno.writeTextFile(join(out, "x"), "x");
    },
  });
  const before = Deno.env.get(SITE_ENV);
  try {
    const code = await main(
      ["stage", "probe", "--board", "zima", "--config", file, "--ssh-key", KEY_B, "--quiet"],
      p.root,
      () => {
        seen.push(siteFromEnv());
        return Promise.resolve([stage]);
      },
    );
    assert.equal(code, 0);
    assert.deepEqual(seen, [{
      hostname: "from-file",
      timezone: "UTC",
      users: [{ name: "root", keys: [KEY_B] }],
    }]);
    const bad = await main(["stage", "probe", "--board", "zima", "--ipv4", "x"], p.root, () => {
      throw new Error("must not load stages");
    });
    assert.equal(bad, 2);
  } finally {
    if (before === undefined) Deno.env.delete(SITE_ENV);
    else Deno.env.set(SITE_ENV, before);
    await Deno.remove(file);
    await Deno.remove(p.root, { recursive: true });
  }
});

Deno.test("tzifFromRule(): musl applies the rule from /etc/localtime, summer time included", async () => {
  const dir = await Deno.makeTempDir({ prefix: "icenet-tz-" });
  await Deno.writeTextFile(
    join(dir, "t.c"),
    `#include <stdio.h>
#include <time.h>
int main(void) {
	time_t ts[] = {1736942400, 1752580800}; /* 2025-01-15 and 2025-07-15, 12:00 UTC */
	for (int i = 0; i < 2; i++) {
		char b[64];
		strftime(b, sizeof b, "%H:%M %Z %z", localtime(&ts[i]));
		puts(b);
	}
	return 0;
}
`,
  );
  const cc = await new Deno.Command("musl-gcc", {
    args: ["-static", "-o", join(dir, "t"), join(dir, "t.c")],
  }).output();
  assert.ok(cc.success, new TextDecoder().decode(cc.stderr));
  const cases: [string, string][] = [
    ["CET-1CEST,M3.5.0,M10.5.0/3", "13:00 CET +0100\n14:00 CEST +0200\n"],
    ["EST5EDT,M3.2.0,M11.1.0", "07:00 EST -0500\n08:00 EDT -0400\n"],
    ["IST-5:30", "17:30 IST +0530\n17:30 IST +0530\n"],
  ];
  for (const [rule, want] of cases) {
    await Deno.writeFile(join(dir, "localtime"), tzifFromRule(rule));
    // musl reads a TZ that is a path as a zone file, as it reads /etc/localtime.
    const r = await new Deno.Command(join(dir, "t"), {
      env: { TZ: join(dir, "localtime") },
      stdout: "piped",
    }).output();
    assert.equal(new TextDecoder().decode(r.stdout), want, rule);
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("rootfs stage writes the network, Wi-Fi and time zone settings", async () => {
  const src = new URL("../../pkgs/base-files/", import.meta.url).pathname;
  const files: Record<string, string> = {};
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(join(src, rel))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory) await walk(r);
      else files[`pkgs/base-files/${r}`] = await Deno.readTextFile(join(src, r));
    }
  };
  await walk("");
  files["pkgs/base-files/recipe.yaml"] = files["pkgs/base-files/recipe.yaml"]
    .replace(/^depends: .*\n/m, "").replace(/^services: .*\n/m, "services: [getty, network]\n");
  // The wifi service as the Pi boards' wpa-supplicant brings it (settings enable it).
  files["pkgs/wpa-supplicant/recipe.yaml"] =
    'version: "1"\nrelease: 1\ndescription: wifi service\nlicense: MIT\nkind: files\n' +
    "services: [wifi]\n";
  files["pkgs/wpa-supplicant/files/usr/lib/icenet/services/wifi"] = "command = /bin/true\n";
  const p = await project(files);
  const site = await siteFromFlags({
    hostname: "shed",
    ipv4: "10.0.0.5/24",
    gateway: "10.0.0.1",
    dns: "10.0.0.1,9.9.9.9",
    "wifi-country": "DE",
    "wifi-ssid": "IEEE",
    "wifi-psk": "password",
    timezone: "CET-1CEST,M3.5.0,M10.5.0/3",
  });
  const def = applySite(
    parseImageDef(
      "images/t.yaml",
      "description: t\npackages: [base-files, wpa-supplicant]\nservices: [network]\n",
    ),
    site,
    "images/t.yaml + site settings",
  );
  try {
    Deno.env.set("ICENET_REPO_KEY", join(p.root, "repo.key"));
    const r = await buildProject(
      p.root,
      p.store,
      ["rootfs"],
      () => Promise.resolve([rootfsStage(def, "images/t.yaml + site settings", [])]),
    );
    const out = r.get("rootfs")!.out!;
    const root = await Deno.makeTempDir({ prefix: "icenet-site-root-" });
    const u = await new Deno.Command("unsquashfs", {
      args: ["-no-xattrs", "-f", "-d", join(root, "r"), join(out, "root.squashfs")],
      stdout: "null",
    }).output();
    assert.ok(u.success);
    const r0 = join(root, "r");
    assert.equal(await Deno.readTextFile(join(r0, "etc/hostname")), "shed\n");
    const net = await Deno.readTextFile(join(r0, "etc/icenet/network"));
    assert.match(net, /^ipv4=10\.0\.0\.5\/24$/m);
    assert.match(net, /^gateway=10\.0\.0\.1$/m);
    assert.match(net, /^dns="10\.0\.0\.1 9\.9\.9\.9"$/m);
    const wpa = await Deno.readTextFile(join(r0, "etc/wpa_supplicant.conf"));
    assert.match(wpa, /^country=DE$/m);
    assert.match(wpa, /^\tssid="IEEE"$/m);
    assert.match(wpa, /^\tpsk=f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e$/m);
    assert.doesNotMatch(wpa, /password/);
    assert.equal((await Deno.stat(join(r0, "etc/wpa_supplicant.conf"))).mode! & 0o777, 0o600);
    assert.equal(
      await Deno.readLink(join(r0, "etc/icenet/services/wifi")),
      "/usr/lib/icenet/services/wifi",
      "Wi-Fi settings enable the wifi service",
    );
    assert.deepEqual(
      await Deno.readFile(join(r0, "etc/localtime")),
      tzifFromRule("CET-1CEST,M3.5.0,M10.5.0/3"),
    );
    const generated = JSON.parse(await Deno.readTextFile(join(out, "generated.json")));
    for (const f of ["etc/icenet/network", "etc/wpa_supplicant.conf", "etc/localtime"]) {
      assert.ok(generated.some((g: { path: string }) => g.path === f), `${f} not listed`);
    }
    await Deno.remove(root, { recursive: true });
  } finally {
    Deno.env.delete("ICENET_REPO_KEY");
    await Deno.remove(p.root, { recursive: true });
  }
});
