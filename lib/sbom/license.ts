/**
 * A recipe's `license` as SPDX license fields. Recipes already write SPDX identifiers
 * (`MIT`, `GPL-2.0-only`); one that is not a valid SPDX expression is not guessed at:
 * the field says NOASSERTION and the comment quotes the recipe, so the document stays
 * valid and nothing is claimed. (Recipes are left alone: editing one rebuilds its package.)
 *
 * ```ts
 * spdxLicense("GPL-2.0-only"); // { expression: "GPL-2.0-only" }
 * spdxLicense("GPL2");         // { expression: "NOASSERTION", comment: "recipe says: GPL2" }
 * ```
 */
import parseExpression from "spdx-expression-parse";

/** Whether `text` is a valid SPDX license expression (ids from the SPDX license list). */
export function isSpdxExpression(text: string): boolean {
  try {
    parseExpression(text);
    return true;
  } catch {
    return false;
  }
}

/** The SPDX fields of a declared license. */
export function spdxLicense(text: string): { expression: string; comment?: string } {
  if (isSpdxExpression(text)) return { expression: text };
  return { expression: "NOASSERTION", comment: `recipe says: ${text}` };
}
