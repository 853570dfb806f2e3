/**
 * Validation of an SPDX 2.3 JSON document with the SPDX project's own schema and the
 * SPDX license list, not with checks written here:
 *
 * - `spdx-2.3.schema.json` beside this file is `schemas/spdx-schema.json` of
 *   github.com/spdx/spdx-spec at tag v2.3 (commit f7f7bce5511a23fe3c9d8a1edca0d870a7d0bea5,
 *   sha256 239208b7ac287b3cf5d9a9af23f9d69863971102a5e1587a27a398b43490b89b), unchanged;
 *   it is checked with Ajv (npm `ajv`, JSON Schema draft-07, strict mode off because
 *   the schema uses keywords Ajv's strict mode rejects).
 * - License fields are parsed with npm `spdx-expression-parse` (the SPDX license list
 *   through `spdx-license-ids`): the schema only says "string".
 * - What the schema cannot say, as SPDX's own tools check it: SPDXIDs are unique and of
 *   the form `SPDXRef-[A-Za-z0-9.-]+`, relationships name elements of the document, and
 *   each `LicenseRef-` a license field names is defined in hasExtractedLicensingInfos.
 *
 * No SPDX document validator is packaged for Debian 12 or published on npm (the SPDX
 * tools are Java and Python: pypi is out of reach here), hence the schema route.
 *
 * ```ts
 * const problems = validateSpdx(JSON.parse(text)); // [] when valid
 * ```
 */
import { Ajv } from "ajv";
import schema from "./spdx-2.3.schema.json" with { type: "json" };
import { isSpdxExpression } from "./license.ts";
import { licenseRefs } from "./spdx.ts";

const ajv = new Ajv({ allErrors: true, strict: false });
const schemaCheck = ajv.compile(schema);

const ID_RE = /^SPDXRef-[A-Za-z0-9.-]+$/;
/** License values that are not expressions. */
const LICENSE_WORDS = new Set(["NOASSERTION", "NONE"]);

interface Loose {
  SPDXID?: string;
  hasExtractedLicensingInfos?: { licenseId?: string }[];
  packages?: Record<string, unknown>[];
  relationships?: { spdxElementId?: string; relatedSpdxElement?: string }[];
}

/** Problems of `doc` as an SPDX 2.3 document, each naming where; empty when valid. */
export function validateSpdx(doc: unknown): string[] {
  if (!schemaCheck(doc)) {
    return (schemaCheck.errors ?? []).map((e) =>
      `schema: ${e.instancePath || "/"}: ${e.message}${
        e.params && "allowedValues" in e.params
          ? ` (${(e.params.allowedValues as string[]).join(", ")})`
          : ""
      }`
    );
  }
  const d = doc as Loose;
  if (d.SPDXID !== "SPDXRef-DOCUMENT") return ["/SPDXID: must be SPDXRef-DOCUMENT"];
  const problems: string[] = [];
  const ids = new Set<string>(["SPDXRef-DOCUMENT"]);
  const defined = new Set((d.hasExtractedLicensingInfos ?? []).map((e) => e.licenseId));
  (d.packages ?? []).forEach((p, i) => {
    const id = String(p.SPDXID);
    if (!ID_RE.test(id)) problems.push(`/packages/${i}/SPDXID: bad identifier ${id}`);
    if (ids.has(id)) problems.push(`/packages/${i}/SPDXID: ${id} is not unique`);
    ids.add(id);
    for (const f of ["licenseConcluded", "licenseDeclared"]) {
      const v = p[f];
      if (typeof v === "string" && !LICENSE_WORDS.has(v) && !isSpdxExpression(v)) {
        problems.push(`/packages/${i}/${f}: not an SPDX license expression: ${v}`);
      }
      for (const ref of typeof v === "string" ? licenseRefs(v) : []) {
        if (!defined.has(ref)) {
          problems.push(`/packages/${i}/${f}: ${ref} is not in hasExtractedLicensingInfos`);
        }
      }
    }
  });
  (d.relationships ?? []).forEach((r, i) => {
    for (const f of ["spdxElementId", "relatedSpdxElement"] as const) {
      const v = r[f];
      if (v && !ids.has(v) && v !== "NONE" && v !== "NOASSERTION") {
        problems.push(`/relationships/${i}/${f}: no element ${v} in the document`);
      }
    }
  });
  return problems;
}
