/**
 * IceNet packages (`.ice` files) as SPDX packages: name, full version, the sha256 of
 * the `.ice` file, the recipe's license and home page, and one SOURCE package per pinned
 * source it is built from (GENERATED_FROM), plus DEPENDS_ON between the packages listed.
 * The data comes from what the build already has: the repository index or the image's
 * package database (the package), and the recipe (its origin).
 *
 * ```ts
 * const { packages, relationships, ids } = icePackages(built, origins);
 * ```
 */
import type { Source } from "../fetch/source.ts";
import { sourceFilename } from "../fetch/source.ts";
import { parseDep } from "../ice-pkg/dep.ts";
import { spdxLicense } from "./license.ts";
import { debianSourceOf, sourcePackage } from "./source.ts";
import { relate, spdxId, type SpdxPackage, type SpdxRelationship } from "./spdx.ts";

/** A built package, as the repository index or the package database lists it. */
export interface BuiltPackage {
  name: string;
  /** Full version `upstream-rN`. */
  version: string;
  arch: string;
  /** sha256 of the `.ice` file. */
  sha256: string;
  description: string;
  depends: string[];
  /** The `.ice` file name, where known (the index has it). */
  file?: string;
}

/** What the recipe says of a package's origin. */
export interface PackageOrigin {
  license: string;
  homepage?: string;
  /** Pinned sources it is built from, by source name. */
  sources: Record<string, Source>;
  /** Where code that is not a pinned source comes from (this project's tree). */
  note?: string;
}

/** Packages, their sources and the relationships among them; `ids` by package name. */
export interface PackageSet {
  packages: SpdxPackage[];
  relationships: SpdxRelationship[];
  ids: Map<string, string>;
}

/** The SPDX id of an IceNet package. */
export function packageId(name: string): string {
  return spdxId("Package", name);
}

/** The SPDX id of a source file (shared by the packages built from it). */
export function sourceId(src: Source): string {
  return spdxId("Source", sourceFilename(src), src.sha256.slice(0, 12));
}

/** One `.ice` package as an SPDX package. */
export function icePackage(p: BuiltPackage, origin: PackageOrigin | undefined): SpdxPackage {
  const lic = origin ? spdxLicense(origin.license) : undefined;
  // A Debian binary package's file, and the Debian source package it was built from.
  const from = Object.values(origin?.sources ?? {}).map((s) => {
    const deb = debianSourceOf(s);
    return sourceFilename(s) + (deb ? ` (Debian source package ${deb.name} ${deb.version})` : "");
  });
  const info = [
    ...(from.length ? [`built from ${from.join(", ")}`] : []),
    ...(origin?.note ? [origin.note] : []),
  ];
  return {
    SPDXID: packageId(p.name),
    name: p.name,
    versionInfo: p.version,
    ...(p.file ? { packageFileName: p.file } : {}),
    // Built here: no place to download it from but the repository that carries it.
    downloadLocation: "NOASSERTION",
    ...(origin?.homepage ? { homepage: origin.homepage } : {}),
    ...(info.length ? { sourceInfo: info.join("; ") } : {}),
    filesAnalyzed: false,
    checksums: [{ algorithm: "SHA256", checksumValue: p.sha256 }],
    licenseConcluded: lic?.expression ?? "NOASSERTION",
    licenseDeclared: lic?.expression ?? "NOASSERTION",
    ...(lic?.comment ? { licenseComments: lic.comment } : {}),
    copyrightText: "NOASSERTION",
    summary: p.description,
    primaryPackagePurpose: "APPLICATION",
  };
}

/** Every package of `built`, with its sources and dependencies (sorted by name). */
export function icePackages(
  built: BuiltPackage[],
  origins: Record<string, PackageOrigin>,
): PackageSet {
  const sorted = [...built].sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const ids = new Map(sorted.map((p) => [p.name, packageId(p.name)]));
  const packages: SpdxPackage[] = [];
  const sources = new Map<string, SpdxPackage>();
  const relationships: SpdxRelationship[] = [];
  for (const p of sorted) {
    const origin = Object.hasOwn(origins, p.name) ? origins[p.name] : undefined;
    packages.push(icePackage(p, origin));
    for (const src of Object.values(origin?.sources ?? {})) {
      const id = sourceId(src);
      if (!sources.has(id)) sources.set(id, sourcePackage(id, src, "SOURCE"));
      relationships.push(relate(ids.get(p.name)!, "GENERATED_FROM", id));
    }
    // Dependencies on packages of the same document (a virtual name has no package).
    for (const d of p.depends) {
      const dep = ids.get(parseDep(d).name);
      if (dep) relationships.push(relate(ids.get(p.name)!, "DEPENDS_ON", dep));
    }
  }
  const bySpdxId = (a: SpdxPackage, b: SpdxPackage) =>
    a.SPDXID < b.SPDXID ? -1 : a.SPDXID > b.SPDXID ? 1 : 0;
  return { packages: [...packages, ...[...sources.values()].sort(bySpdxId)], relationships, ids };
}
