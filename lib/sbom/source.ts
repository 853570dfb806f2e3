/**
 * A pinned source (lib/fetch/source.ts) as an SPDX package: its file, the sha256 the
 * fetcher verified, where it is downloaded from (the pinned URL; NOASSERTION for a
 * `debian:` or `npm:` pseudo-URL, whose package and version then say it, as text and as
 * a purl; a Debian binary package also names its source package). A package built from
 * it is GENERATED_FROM it.
 *
 * ```ts
 * const pkg = sourcePackage("SPDXRef-Source-linux", KERNEL_SOURCE, "SOURCE");
 * ```
 */
import { type Source, sourceFilename } from "../fetch/source.ts";
import type { SpdxExternalRef, SpdxPackage } from "./spdx.ts";

/** The download location SPDX allows: an http(s)/ftp URL, else NOASSERTION. */
export function downloadLocation(src: Source): string {
  return /^(https?|ftp):\/\//.test(src.url) ? src.url : "NOASSERTION";
}

/**
 * The Debian source package a binary package pinned by its pool path was built from:
 * the pool's layout is `pool/<component>/<prefix>/<source>/<file>`, and its version is
 * the binary's less a binNMU suffix (`+b1`). Undefined for other sources.
 */
export function debianSourceOf(src: Source): { name: string; version: string } | undefined {
  const d = src.debian;
  const m = /^debian:pool\/(?:updates\/)?[^/]+\/[^/]+\/([^/]+)\/[^/]+$/.exec(src.url);
  if (!d || "source" in d || !m) return undefined;
  return { name: m[1], version: d.version.replace(/\+b\d+$/, "") };
}

/** The package manager's package a source names (`debian:` or `npm:`), as text. */
export function registryOrigin(src: Source): string | undefined {
  const d = src.debian;
  if (d && "source" in d) return `Debian source package ${d.source} ${d.version}, file ${d.file}`;
  if (d) {
    const arch = d.arch ? ` (${d.arch})` : "";
    const member = d.member ? `, member ${d.member}` : "";
    const from = debianSourceOf(src);
    const of = from ? `, of source package ${from.name} ${from.version}` : "";
    return `Debian binary package ${d.package} ${d.version}${arch}${member}${of}`;
  }
  if (src.npm) return `npm package ${src.npm.package} ${src.npm.version}`;
  return undefined;
}

/** The purl of that package (Package URL spec, types `deb` and `npm`). */
export function registryPurl(src: Source): SpdxExternalRef | undefined {
  const ref = (locator: string): SpdxExternalRef => ({
    referenceCategory: "PACKAGE-MANAGER",
    referenceType: "purl",
    referenceLocator: locator,
  });
  const d = src.debian;
  if (d) {
    const [name, arch] = "source" in d ? [d.source, "source"] : [d.package, d.arch];
    const q = arch ? `?arch=${encodeURIComponent(arch)}` : "";
    return ref(`pkg:deb/debian/${name}@${encodeURIComponent(d.version)}${q}`);
  }
  if (src.npm) {
    const name = src.npm.package.replace(/^@/, "%40");
    return ref(`pkg:npm/${name}@${encodeURIComponent(src.npm.version)}`);
  }
  return undefined;
}

/** The purl of the Debian source package of a binary one (`arch=source`), where known. */
export function debianSourcePurl(src: Source): SpdxExternalRef | undefined {
  const from = debianSourceOf(src);
  if (!from) return undefined;
  return {
    referenceCategory: "PACKAGE-MANAGER",
    referenceType: "purl",
    referenceLocator: `pkg:deb/debian/${from.name}@${encodeURIComponent(from.version)}?arch=source`,
  };
}

/**
 * The version of the package a source is fetched as, when that is where its bytes come
 * from (a pinned URL's version is the recipe's business).
 */
export function registryVersion(src: Source): string | undefined {
  if (downloadLocation(src) !== "NOASSERTION") return undefined;
  return src.debian?.version ?? src.npm?.version;
}

/**
 * A source as a package of its own: file name, sha256, location and origin. The license
 * is not known from the pin alone, so it is NOASSERTION unless given.
 */
export function sourcePackage(
  id: string,
  src: Source,
  purpose: "SOURCE" | "FIRMWARE" | "ARCHIVE",
  opts: { version?: string; license?: string; name?: string } = {},
): SpdxPackage {
  // The binary package's purl first, then its source package's.
  const purls = [registryPurl(src), debianSourcePurl(src)].filter((p) => p !== undefined);
  const origin = registryOrigin(src);
  const version = opts.version ?? registryVersion(src);
  const license = opts.license ?? "NOASSERTION";
  return {
    SPDXID: id,
    name: opts.name ?? sourceFilename(src),
    ...(version ? { versionInfo: version } : {}),
    packageFileName: sourceFilename(src),
    downloadLocation: downloadLocation(src),
    ...(origin ? { sourceInfo: origin } : {}),
    filesAnalyzed: false,
    checksums: [{ algorithm: "SHA256", checksumValue: src.sha256 }],
    licenseConcluded: license,
    licenseDeclared: license,
    copyrightText: "NOASSERTION",
    ...(purls.length ? { externalRefs: purls } : {}),
    primaryPackagePurpose: purpose,
  };
}
