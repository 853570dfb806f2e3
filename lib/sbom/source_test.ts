import assert from "node:assert/strict";
import type { Source } from "../fetch/source.ts";
import { loadRecipe } from "../recipe/load.ts";
import { repoDocument } from "./documents.ts";
import { icePackages } from "./packages.ts";
import { debianSourceOf, registryOrigin, sourcePackage } from "./source.ts";
import { spdxDocument } from "./spdx.ts";
import { validateSpdx } from "./validate.ts";

const FIRMWARE: Source = {
  url: "debian:pool/non-free-firmware/f/firmware-nonfree/firmware-brcm80211_20230210-5_all.deb",
  sha256: "ab".repeat(32),
  debian: { package: "firmware-brcm80211", version: "20230210-5", arch: "all" },
};

Deno.test("a Debian binary package pinned by pool path names its source package", () => {
  assert.deepEqual(debianSourceOf(FIRMWARE), { name: "firmware-nonfree", version: "20230210-5" });
  assert.equal(
    registryOrigin(FIRMWARE),
    "Debian binary package firmware-brcm80211 20230210-5 (all), of source package firmware-nonfree 20230210-5",
  );
  const pkg = sourcePackage("SPDXRef-Source-fw", FIRMWARE, "SOURCE");
  assert.deepEqual(pkg.externalRefs!.map((r) => r.referenceLocator), [
    "pkg:deb/debian/firmware-brcm80211@20230210-5?arch=all",
    "pkg:deb/debian/firmware-nonfree@20230210-5?arch=source",
  ]);
  // A binNMU's source version has no +bN; the security archive's pool is the same layout.
  const busybox: Source = {
    url: "debian:pool/updates/main/b/busybox/busybox-static_1.35.0-4+deb12u1+b1_amd64.deb",
    sha256: "cd".repeat(32),
    debian: { package: "busybox-static", version: "1:1.35.0-4+deb12u1+b1", arch: "amd64" },
  };
  assert.deepEqual(debianSourceOf(busybox), { name: "busybox", version: "1:1.35.0-4+deb12u1" });
  // Not from the pool by path, or a source package itself: nothing is guessed.
  assert.equal(debianSourceOf({ ...FIRMWARE, url: "https://example.org/fw.deb" }), undefined);
  const orig: Source = {
    url: "debian:pool/main/m/musl/musl_1.2.3.orig.tar.gz",
    sha256: "ef".repeat(32),
    debian: { source: "musl", version: "1.2.3-1", file: "musl_1.2.3.orig.tar.gz" },
  };
  assert.equal(debianSourceOf(orig), undefined);
  // The .ice package built from it says both.
  const set = icePackages([{
    name: "firmware-brcm80211",
    version: "20230210-r1",
    arch: "noarch",
    sha256: "01".repeat(32),
    description: "fw",
    depends: [],
  }], {
    "firmware-brcm80211": { license: "LicenseRef-demo", sources: { main: FIRMWARE } },
  });
  assert.equal(
    set.packages[0].sourceInfo,
    "built from firmware-brcm80211_20230210-5_all.deb (Debian source package firmware-nonfree 20230210-5)",
  );
});

Deno.test("a LicenseRef- license is defined in the document, and must be", () => {
  const set = icePackages([{
    name: "fw",
    version: "1-r1",
    arch: "noarch",
    sha256: "01".repeat(32),
    description: "fw",
    depends: [],
  }], { fw: { license: "LicenseRef-a-1 AND (ISC OR LicenseRef-b.2)", sources: {} } });
  const doc = spdxDocument({ name: "d", epoch: 0, packages: set.packages, relationships: [] });
  assert.equal(set.packages[0].licenseDeclared, "LicenseRef-a-1 AND (ISC OR LicenseRef-b.2)");
  assert.deepEqual(doc.hasExtractedLicensingInfos!.map((e) => e.licenseId), [
    "LicenseRef-a-1",
    "LicenseRef-b.2",
  ]);
  assert.deepEqual(validateSpdx(doc), []);
  const { hasExtractedLicensingInfos: _, ...bare } = doc;
  assert.deepEqual(validateSpdx(bare), [
    "/packages/0/licenseConcluded: LicenseRef-a-1 is not in hasExtractedLicensingInfos",
    "/packages/0/licenseConcluded: LicenseRef-b.2 is not in hasExtractedLicensingInfos",
    "/packages/0/licenseDeclared: LicenseRef-a-1 is not in hasExtractedLicensingInfos",
    "/packages/0/licenseDeclared: LicenseRef-b.2 is not in hasExtractedLicensingInfos",
  ]);
  // Documents without one are as before: no such field.
  const plain = spdxDocument({ name: "d", epoch: 0, packages: [], relationships: [] });
  assert.equal("hasExtractedLicensingInfos" in plain, false);
});

Deno.test("the deb recipes of pkgs/ in a repository document: valid, with their Debian sources", async () => {
  const root = new URL("../..", import.meta.url).pathname;
  const recipes = ["firmware-brcm80211", "wireless-regdb"].map((n) => loadRecipe(root, n));
  const built = (await Promise.all(recipes)).map((r) => ({
    name: r.name,
    version: `${r.version}-r${r.release}`,
    arch: "noarch",
    sha256: "02".repeat(32),
    description: r.description,
    depends: [],
  }));
  const origins = Object.fromEntries(
    (await Promise.all(recipes)).map((r) => [r.name, { license: r.license, sources: r.sources }]),
  );
  const doc = repoDocument({
    board: "rpi",
    epoch: 0,
    packages: built,
    indexSha256: "03".repeat(32),
    origins,
  });
  assert.deepEqual(validateSpdx(doc), []);
  const byName = new Map(doc.packages.map((p) => [p.SPDXID, p]));
  const fw = byName.get("SPDXRef-Package-firmware-brcm80211")!;
  assert.equal(fw.licenseDeclared, origins["firmware-brcm80211"].license);
  assert.match(fw.sourceInfo!, /Debian source package firmware-nonfree 20230210-5/);
  const locators = doc.packages.flatMap((p) => p.externalRefs ?? []).map((r) => r.referenceLocator);
  for (
    const want of [
      "pkg:deb/debian/firmware-nonfree@20230210-5?arch=source",
      "pkg:deb/debian/wireless-regdb@2026.05.30-1~deb12u1?arch=source",
      "pkg:deb/debian/wireless-regdb@2026.05.30-1~deb12u1?arch=all",
    ]
  ) assert.ok(locators.includes(want), `${want} not in ${locators.join(", ")}`);
});
