/**
 * The line a long check prints when it is left for a later run for lack of time
 * (tests/e2e/_proof.ts); bin/test.ts counts such checks as deferred, not passed.
 */
export const DEFERRED = "long check deferred:";
