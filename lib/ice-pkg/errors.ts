/**
 * Errors of ice-pkg and the exit codes scripts can rely on. An error message puts
 * its subject first (package, file, path) and names the flag that overrides a
 * refusal, if there is one.
 *
 * ```ts
 * throw new IcePkgError("foo-1.0-r0: sha256 mismatch", ExitCode.Integrity);
 * ```
 */

/** Exit codes of the `ice-pkg` command (documented in `ice-pkg --help`). */
export const ExitCode = {
  /** Success. */
  Ok: 0,
  /** Any other failure (I/O error, bad repository, internal error). */
  Error: 1,
  /** Bad command line. */
  Usage: 2,
  /** The request cannot be satisfied: unknown package, unsatisfiable dependency, conflict. */
  Unsatisfiable: 3,
  /** Integrity or security refusal: bad signature, expired/older index, hash mismatch, hostile archive. */
  Integrity: 4,
  /** Another ice-pkg holds the lock on this root. */
  Locked: 5,
  /** `verify` found changed or missing files. */
  VerifyFailed: 6,
} as const;

/** One of the values of {@linkcode ExitCode}. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** An expected failure: printed as `ice-pkg: <message>` and mapped to an exit code. */
export class IcePkgError extends Error {
  /** Exit code for the CLI. */
  readonly code: ExitCodeValue;
  constructor(message: string, code: ExitCodeValue = ExitCode.Error) {
    super(message);
    this.name = "IcePkgError";
    this.code = code;
  }
}

/** Shorthand for an integrity refusal (hostile or corrupt input). */
export function integrityError(message: string): IcePkgError {
  return new IcePkgError(message, ExitCode.Integrity);
}
