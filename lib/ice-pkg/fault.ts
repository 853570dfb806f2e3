/**
 * Fault injection for the crash-safety test: with ICE_PKG_FAULT_AFTER_STEP=k the
 * process kills itself with SIGKILL right after step k of a transaction (steps are
 * counted by {@linkcode step}). Unset, step() only counts.
 */
import process from "node:process";

let count = 0;
let limit: number | undefined;
let read = false;

/** Mark the end of one step of a transaction; may SIGKILL the process. */
export function step(_what: string): void {
  if (!read) {
    read = true;
    const v = process.env.ICE_PKG_FAULT_AFTER_STEP;
    limit = v ? Number(v) : undefined;
  }
  count++;
  if (limit !== undefined && count === limit) process.kill(process.pid, "SIGKILL");
}

/** Steps counted so far in this process. */
export function stepCount(): number {
  return count;
}
