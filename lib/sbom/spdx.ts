/**
 * An SPDX 2.3 JSON document (the subset IceNet writes) and its assembly. Everything in
 * it is a function of the build: `created` is SOURCE_DATE_EPOCH and the namespace ends
 * in the sha256 of the content, so two builds of the same inputs give the same bytes
 * (no UUID, no clock).
 *
 * ```ts
 * const doc = spdxDocument({ name: "icenet-zima image", kind: "image", epoch: 1735689600,
 *   packages: [root, ...pkgs], relationships: [describes(root), contains(root, pkgs[0])] });
 * await Deno.writeTextFile("image.spdx.json", spdxJson(doc));
 * ```
 */
import { canonicalJson, sha256 } from "../hash.ts";

/** A checksum of a package's file. */
export interface SpdxChecksum {
  algorithm: "SHA256";
  checksumValue: string;
}

/** An external reference (IceNet writes `purl`s of Debian packages). */
export interface SpdxExternalRef {
  referenceCategory: "PACKAGE-MANAGER" | "OTHER";
  referenceType: string;
  referenceLocator: string;
  comment?: string;
}

/** One package of the document. */
export interface SpdxPackage {
  SPDXID: string;
  name: string;
  versionInfo?: string;
  packageFileName?: string;
  /** The pinned URL, or NOASSERTION when the bytes come from a package manager. */
  downloadLocation: string;
  homepage?: string;
  sourceInfo?: string;
  filesAnalyzed: false;
  checksums?: SpdxChecksum[];
  licenseConcluded: string;
  licenseDeclared: string;
  licenseComments?: string;
  copyrightText: "NOASSERTION";
  summary?: string;
  externalRefs?: SpdxExternalRef[];
  primaryPackagePurpose?:
    | "OPERATING_SYSTEM"
    | "APPLICATION"
    | "LIBRARY"
    | "FIRMWARE"
    | "SOURCE"
    | "ARCHIVE"
    | "FILE"
    | "OTHER";
}

export type RelationshipType = "DESCRIBES" | "CONTAINS" | "DEPENDS_ON" | "GENERATED_FROM";

export interface SpdxRelationship {
  spdxElementId: string;
  relationshipType: RelationshipType;
  relatedSpdxElement: string;
}

/** The document. */
export interface SpdxDocument {
  spdxVersion: "SPDX-2.3";
  dataLicense: "CC0-1.0";
  SPDXID: "SPDXRef-DOCUMENT";
  name: string;
  documentNamespace: string;
  creationInfo: { created: string; creators: string[] };
  packages: SpdxPackage[];
  relationships: SpdxRelationship[];
  /** The `LicenseRef-` licenses the packages name (SPDX requires each to be defined). */
  hasExtractedLicensingInfos?: { licenseId: string; extractedText: string; comment?: string }[];
}

/** The `LicenseRef-` ids a license expression names. */
export function licenseRefs(expression: string): string[] {
  return expression.match(/LicenseRef-[A-Za-z0-9.-]+/g) ?? [];
}

/** The tool named in every document's creators. */
export const CREATOR = "Tool: icenet-build";

/** Base of the namespaces (a URI the project owns in name only; SPDX needs no lookup). */
export const NAMESPACE_BASE = "https://spdx.icenet-os.invalid/spdxdocs";

/** An SPDX identifier from free text: `SPDXRef-` + letters, digits, `.` and `-` only. */
export function spdxId(...parts: string[]): string {
  return "SPDXRef-" + parts.join("-").replace(/[^A-Za-z0-9.-]+/g, "-");
}

/** `a` <type> `b`. */
export function relate(a: string, type: RelationshipType, b: string): SpdxRelationship {
  return { spdxElementId: a, relationshipType: type, relatedSpdxElement: b };
}

/** What a document is made of; the rest is derived. */
export interface DocumentParts {
  /** e.g. `icenet-zima-image`. */
  name: string;
  /** SOURCE_DATE_EPOCH of the build, in seconds. */
  epoch: number;
  packages: SpdxPackage[];
  relationships: SpdxRelationship[];
}

/**
 * The document of `parts`. The namespace's last segment is the sha256 of the canonical
 * content, so it is unique per content and the same for the same build.
 */
export function spdxDocument(parts: DocumentParts): SpdxDocument {
  const created = new Date(parts.epoch * 1000).toISOString().replace(/\.\d+Z$/, "Z");
  const content = {
    name: parts.name,
    created,
    packages: parts.packages,
    relationships: parts.relationships,
  };
  // A recipe's `LicenseRef-` (a license not on the SPDX list, e.g. firmware's) is defined
  // here by reference: its text is the copyright file the package carries.
  const refs = [
    ...new Set(
      parts.packages.flatMap((p) => [
        ...licenseRefs(p.licenseDeclared),
        ...licenseRefs(p.licenseConcluded),
      ]),
    ),
  ].sort();
  const extracted = refs.map((licenseId) => ({
    licenseId,
    extractedText:
      "Not copied here: the license text is in the copyright file (usr/share/doc/<package>/copyright) of each package that declares it.",
  }));
  return {
    spdxVersion: "SPDX-2.3",
    dataLicense: "CC0-1.0",
    SPDXID: "SPDXRef-DOCUMENT",
    name: parts.name,
    documentNamespace: `${NAMESPACE_BASE}/${parts.name}-${sha256(canonicalJson(content))}`,
    creationInfo: { created, creators: [CREATOR] },
    packages: parts.packages,
    relationships: parts.relationships,
    ...(extracted.length ? { hasExtractedLicensingInfos: extracted } : {}),
  };
}

/** The file's text: two-space JSON and a final newline. */
export function spdxJson(doc: SpdxDocument): string {
  return JSON.stringify(doc, null, 2) + "\n";
}
