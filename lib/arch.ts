/**
 * The CPU architectures IceNet builds for, by our names. Boards name one (`arch:`);
 * recipes and stages that do not build everywhere list theirs (`arches:`).
 *
 * ```ts
 * ARCHES.includes(board.arch); // true
 * ```
 */
export const ARCHES = ["x86_64", "aarch64", "armv7"] as const;

/** One of ARCHES. */
export type Arch = typeof ARCHES[number];
