/**
 * The two documents of a board: its repository (every package the board builds) and
 * its image (every package installed in the root, the kernel and the boot loader's
 * packages). Pure functions of what the build read; tasks/sbom.ts reads it.
 *
 * ```ts
 * const doc = repoDocument({ board: "zima", epoch, packages: index.packages, origins });
 * ```
 */
import type { Source } from "../fetch/source.ts";
import { type BuiltPackage, icePackages, type PackageOrigin, sourceId } from "./packages.ts";
import { registryOrigin, registryPurl, sourcePackage } from "./source.ts";
import { relate, type SpdxDocument, spdxDocument, spdxId, type SpdxPackage } from "./spdx.ts";

/** The kernel as the kernel stage built it. */
export interface KernelFacts {
  /** Upstream version (`make kernelversion`). */
  version: string;
  /** `uname -r`. */
  release: string;
  /** File name of the kernel image and its sha256. */
  file: string;
  sha256: string;
  /** The pinned source tree. */
  source: Source;
}

/** Linux's own license statement (COPYING): GPL 2 only, with the syscall exception. */
export const LINUX_LICENSE = "GPL-2.0-only WITH Linux-syscall-note";

/** What an image's document is made of. */
export interface ImageParts {
  board: string;
  epoch: number;
  /** The disk image file and its sha256. */
  image: { file: string; sha256: string };
  /** Packages installed in the root (its package database). */
  installed: BuiltPackage[];
  origins: Record<string, PackageOrigin>;
  kernel: KernelFacts;
  /** Packages the image stage takes boot files from, by source name. */
  boot: Record<string, Source>;
}

/** What a repository's document is made of. */
export interface RepoParts {
  board: string;
  epoch: number;
  /** The repository's packages (its index) and the index's sha256. */
  packages: BuiltPackage[];
  indexSha256: string;
  origins: Record<string, PackageOrigin>;
}

function rootPackage(
  id: string,
  name: string,
  file: string,
  sha256: string,
  summary: string,
): SpdxPackage {
  return {
    SPDXID: id,
    name,
    packageFileName: file,
    downloadLocation: "NOASSERTION",
    filesAnalyzed: false,
    checksums: [{ algorithm: "SHA256", checksumValue: sha256 }],
    // A collection: each part carries its own license.
    licenseConcluded: "NOASSERTION",
    licenseDeclared: "NOASSERTION",
    copyrightText: "NOASSERTION",
    summary,
    primaryPackagePurpose: "OPERATING_SYSTEM",
  };
}

/** The kernel and its source tree. */
function kernelPackages(k: KernelFacts): SpdxPackage[] {
  const origin = registryOrigin(k.source);
  const purl = registryPurl(k.source);
  return [
    {
      SPDXID: spdxId("Kernel", "linux"),
      name: "linux",
      versionInfo: k.version,
      packageFileName: k.file,
      downloadLocation: "NOASSERTION",
      sourceInfo: `built as ${k.release} from ${origin ?? k.source.url}`,
      filesAnalyzed: false,
      checksums: [{ algorithm: "SHA256", checksumValue: k.sha256 }],
      licenseConcluded: LINUX_LICENSE,
      licenseDeclared: LINUX_LICENSE,
      copyrightText: "NOASSERTION",
      summary: `Linux kernel ${k.release}`,
      ...(purl ? { externalRefs: [purl] } : {}),
      primaryPackagePurpose: "OPERATING_SYSTEM",
    },
    sourcePackage(sourceId(k.source), k.source, "SOURCE", { license: LINUX_LICENSE }),
  ];
}

/** The document of a board's image. */
export function imageDocument(p: ImageParts): SpdxDocument {
  const name = `icenet-${p.board}-image`;
  const root = spdxId("Image", p.board);
  const set = icePackages(p.installed, p.origins);
  const [kernel, kernelSrc] = kernelPackages(p.kernel);
  const boot = Object.entries(p.boot).sort(([a], [b]) => a < b ? -1 : 1).map(([n, src]) =>
    sourcePackage(spdxId("Boot", n), src, "FIRMWARE", {
      name: src.debian && "package" in src.debian ? src.debian.package : n,
    })
  );
  return spdxDocument({
    name,
    epoch: p.epoch,
    packages: [
      rootPackage(root, name, p.image.file, p.image.sha256, `IceNet-OS disk image of ${p.board}`),
      kernel,
      ...boot,
      ...set.packages,
      kernelSrc,
    ],
    relationships: [
      relate("SPDXRef-DOCUMENT", "DESCRIBES", root),
      relate(root, "CONTAINS", kernel.SPDXID),
      ...boot.map((b) => relate(root, "CONTAINS", b.SPDXID)),
      ...[...set.ids.values()].map((id) => relate(root, "CONTAINS", id)),
      relate(kernel.SPDXID, "GENERATED_FROM", kernelSrc.SPDXID),
      ...set.relationships,
    ],
  });
}

/** The document of a board's repository. */
export function repoDocument(p: RepoParts): SpdxDocument {
  const name = `icenet-${p.board}-repository`;
  const root = spdxId("Repository", p.board);
  const set = icePackages(p.packages, p.origins);
  const repo: SpdxPackage = {
    ...rootPackage(root, name, "INDEX.json", p.indexSha256, `package repository of ${p.board}`),
    primaryPackagePurpose: "ARCHIVE",
  };
  return spdxDocument({
    name,
    epoch: p.epoch,
    packages: [repo, ...set.packages],
    relationships: [
      relate("SPDXRef-DOCUMENT", "DESCRIBES", root),
      ...[...set.ids.values()].map((id) => relate(root, "CONTAINS", id)),
      ...set.relationships,
    ],
  });
}
