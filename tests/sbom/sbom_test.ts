/**
 * The sbom stage of zima, built through the real runner from the store (warm: seconds;
 * it needs the image, so a cold store builds that first): both documents pass the SPDX
 * 2.3 schema and the SPDX license list (lib/sbom/validate.ts), list every package with
 * the sha256 of its real `.ice` file, its version, license and sources, and a rebuild
 * gives the same bytes. The validator itself is shown to refuse broken documents.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256File } from "../../lib/hash.ts";
import { openDb } from "../../lib/ice-pkg/db.ts";
import { KERNEL_SOURCE } from "../../lib/kernel_source.ts";
import { loadRecipes } from "../../lib/recipe/load.ts";
import { spdxLicense } from "../../lib/sbom/license.ts";
import { downloadLocation } from "../../lib/sbom/source.ts";
import type { SpdxDocument, SpdxPackage } from "../../lib/sbom/spdx.ts";
import { validateSpdx } from "../../lib/sbom/validate.ts";
import { buildReal, ROOT } from "../rootfs/_real.ts";

const read = async (dir: string, f: string): Promise<SpdxDocument> =>
  JSON.parse(await Deno.readTextFile(join(dir, f)));

const byId = (doc: SpdxDocument) => new Map(doc.packages.map((p) => [p.SPDXID, p]));

/** The packages `id` is GENERATED_FROM. */
function sourcesOf(doc: SpdxDocument, id: string): SpdxPackage[] {
  const ids = byId(doc);
  return doc.relationships
    .filter((r) => r.spdxElementId === id && r.relationshipType === "GENERATED_FROM")
    .map((r) => ids.get(r.relatedSpdxElement)!);
}

/** Names of the packages installed in a root squashfs (its package database). */
async function installedNames(squashfs: string): Promise<Map<string, string>> {
  const dir = await Deno.makeTempDir({ prefix: "icenet-sbom-root-" });
  try {
    const r = await new Deno.Command("unsquashfs", {
      args: ["-no-xattrs", "-d", join(dir, "r"), squashfs, "var/lib/ice-pkg/db.sqlite"],
      stdout: "null",
    }).output();
    assert.ok(r.success);
    const db = openDb(join(dir, "r"));
    const m = new Map([...db.installed().values()].map((p) => [p.name, p.version]));
    db.close();
    return m;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("sbom stage (zima): valid SPDX 2.3, every package with its .ice sha256, version, license, source; same bytes when rebuilt", async (t) => {
  const results = await buildReal(["sbom"]);
  const out = results.get("sbom")!.out!;
  const image = await read(out, "image.spdx.json");
  const repo = await read(out, "repo.spdx.json");
  const recipes = new Map((await loadRecipes(ROOT)).map((r) => [r.name, r]));
  const repoDir = join(results.get("repo")!.out!, "repo");

  await t.step("both documents pass the validator", () => {
    assert.deepEqual(validateSpdx(image), []);
    assert.deepEqual(validateSpdx(repo), []);
    assert.equal(image.creationInfo.created, "2025-01-01T00:00:00Z");
  });

  for (
    const [what, doc, names] of [
      [
        "image",
        image,
        await installedNames(join(results.get("rootfs")!.out!, "root.squashfs")),
      ],
      [
        "repository",
        repo,
        new Map(
          (JSON.parse(await Deno.readTextFile(join(repoDir, "INDEX.json"))).packages as {
            name: string;
            version: string;
          }[]).map((p) => [p.name, p.version]),
        ),
      ],
    ] as const
  ) {
    await t.step(`${what}: each package listed, as built`, async () => {
      const ids = byId(doc);
      const root = doc.relationships.find((r) => r.relationshipType === "DESCRIBES")!;
      const contained = new Set(
        doc.relationships.filter((r) =>
          r.spdxElementId === root.relatedSpdxElement && r.relationshipType === "CONTAINS"
        ).map((r) => r.relatedSpdxElement),
      );
      assert.ok(names.size >= 8, `${names.size} packages`);
      for (const [name, version] of names) {
        const p = ids.get(`SPDXRef-Package-${name}`);
        assert.ok(p, `${name} missing`);
        assert.ok(contained.has(p.SPDXID), `${name} not CONTAINed by the root`);
        assert.equal(p.versionInfo, version);
        // The checksum is the real file's: hash the repository's .ice.
        assert.equal(
          p.checksums![0].checksumValue,
          await sha256File(join(repoDir, p.packageFileName!)),
        );
        const recipe = recipes.get(name)!;
        assert.equal(p.licenseDeclared, recipe.license);
        // A compiled recipe's sources: same sha256 and URL as pinned, GENERATED_FROM.
        if (recipe.kind !== "stage" && recipe.kind !== "files") {
          const from = sourcesOf(doc, p.SPDXID);
          for (const src of Object.values(recipe.sources)) {
            const s = from.find((f) => f.checksums![0].checksumValue === src.sha256);
            assert.ok(s, `${name}: source ${src.url} not listed`);
            // The pinned URL, or NOASSERTION for Debian's pool (the purl names the package).
            assert.equal(s.downloadLocation, downloadLocation(src));
          }
        }
        assert.ok(p.sourceInfo, `${name}: no sourceInfo`);
      }
    });
  }

  await t.step("image: the kernel from Debian's linux-source-6.1, and the boot loader", () => {
    const k = byId(image).get("SPDXRef-Kernel-linux")!;
    assert.equal(k.licenseDeclared, "GPL-2.0-only WITH Linux-syscall-note");
    const [src] = sourcesOf(image, k.SPDXID);
    assert.equal(src.checksums![0].checksumValue, KERNEL_SOURCE.sha256);
    assert.equal(
      src.externalRefs![0].referenceLocator,
      `pkg:deb/debian/linux-source-6.1@${KERNEL_SOURCE.debian!.version}?arch=all`,
    );
    const boot = byId(image).get("SPDXRef-Boot-systemd-boot-efi")!;
    assert.match(boot.externalRefs![0].referenceLocator, /^pkg:deb\/debian\/systemd-boot-efi@/);
  });

  await t.step("a rebuild gives the same bytes", async () => {
    const before = [
      await Deno.readFile(join(out, "image.spdx.json")),
      await Deno.readFile(join(out, "repo.spdx.json")),
    ];
    const again = (await buildReal(["sbom"], "zima", ["sbom"])).get("sbom")!.out!;
    assert.deepEqual(await Deno.readFile(join(again, "image.spdx.json")), before[0]);
    assert.deepEqual(await Deno.readFile(join(again, "repo.spdx.json")), before[1]);
  });
});

/** A small valid document, broken one way per row below. */
function sample(): Record<string, unknown> {
  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: "sample",
    documentNamespace: "https://spdx.icenet-os.invalid/spdxdocs/sample-0",
    creationInfo: { created: "2025-01-01T00:00:00Z", creators: ["Tool: icenet-build"] },
    packages: [{
      SPDXID: "SPDXRef-Package-a",
      name: "a",
      versionInfo: "1-r1",
      downloadLocation: "NOASSERTION",
      filesAnalyzed: false,
      checksums: [{ algorithm: "SHA256", checksumValue: "0".repeat(64) }],
      licenseConcluded: "MIT",
      licenseDeclared: "MIT",
      copyrightText: "NOASSERTION",
    }],
    relationships: [{
      spdxElementId: "SPDXRef-DOCUMENT",
      relationshipType: "DESCRIBES",
      relatedSpdxElement: "SPDXRef-Package-a",
    }],
  };
}

Deno.test("validateSpdx() refuses broken documents", async (t) => {
  assert.deepEqual(validateSpdx(sample()), []);
  // deno-lint-ignore no-explicit-any
  const rows: [string, (d: any) => void, RegExp][] = [
    ["no spdxVersion", (d) => delete d.spdxVersion, /must have required property 'spdxVersion'/],
    ["no creationInfo", (d) => delete d.creationInfo, /required property 'creationInfo'/],
    [
      "a package without downloadLocation",
      (d) => delete d.packages[0].downloadLocation,
      /\/packages\/0: must have required property 'downloadLocation'/,
    ],
    [
      "an unknown checksum algorithm",
      (d) => d.packages[0].checksums[0].algorithm = "CRC32",
      /\/packages\/0\/checksums\/0\/algorithm: must be equal to one of the allowed values/,
    ],
    [
      "an unknown relationship type",
      (d) => d.relationships[0].relationshipType = "INCLUDES",
      /\/relationships\/0\/relationshipType/,
    ],
    [
      "a license not on the SPDX list",
      (d) => d.packages[0].licenseDeclared = "GPL2",
      /\/packages\/0\/licenseDeclared: not an SPDX license expression: GPL2/,
    ],
    [
      "a relationship to no element",
      (d) => d.relationships[0].relatedSpdxElement = "SPDXRef-Package-b",
      /\/relationships\/0\/relatedSpdxElement: no element SPDXRef-Package-b/,
    ],
    [
      "a bad SPDXID",
      (d) => d.packages[0].SPDXID = "Package a",
      /\/packages\/0\/SPDXID: bad identifier/,
    ],
  ];
  for (const [name, spoil, message] of rows) {
    await t.step(name, () => {
      const d = sample();
      spoil(d);
      const problems = validateSpdx(d);
      assert.ok(problems.some((p) => message.test(p)), problems.join("\n"));
    });
  }
});

Deno.test("spdxLicense() keeps SPDX expressions and asserts nothing for others", async (t) => {
  const rows: [string, { expression: string; comment?: string }][] = [
    ["MIT", { expression: "MIT" }],
    ["GPL-2.0-only WITH Linux-syscall-note", {
      expression: "GPL-2.0-only WITH Linux-syscall-note",
    }],
    ["MIT OR Apache-2.0", { expression: "MIT OR Apache-2.0" }],
    ["GPL2", { expression: "NOASSERTION", comment: "recipe says: GPL2" }],
  ];
  for (const [text, want] of rows) {
    await t.step(text, () => assert.deepEqual(spdxLicense(text), want));
  }
});
