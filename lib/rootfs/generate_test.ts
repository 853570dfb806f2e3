import assert from "node:assert/strict";
import { join } from "node:path";
import { enableWifi, Generated } from "./generate.ts";

const WIFI = { country: "DE", ssid: "Net", psk: "f".repeat(64) };

Deno.test("enableWifi(): settings enable the wifi service a package brings, and fail without one", async () => {
  const tree = await Deno.makeTempDir({ prefix: "icenet-gen-" });
  try {
    const gen = new Generated(tree);
    await enableWifi(gen, undefined, "images/x.yaml");
    await assert.rejects(Deno.lstat(join(tree, "etc/icenet/services/wifi")));
    await assert.rejects(
      enableWifi(gen, WIFI, "images/x.yaml + site settings"),
      /^Error: images\/x\.yaml \+ site settings: wifi: set, but no package of the image brings the wifi service \(wpa-supplicant/,
    );
    await Deno.mkdir(join(tree, "usr/lib/icenet/services"), { recursive: true });
    await Deno.writeTextFile(join(tree, "usr/lib/icenet/services/wifi"), "command = /bin/true\n");
    await enableWifi(gen, WIFI, "images/x.yaml");
    assert.equal(
      await Deno.readLink(join(tree, "etc/icenet/services/wifi")),
      "/usr/lib/icenet/services/wifi",
    );
  } finally {
    await Deno.remove(tree, { recursive: true });
  }
});
