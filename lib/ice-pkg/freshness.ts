/**
 * Freeze protection: a repository index is used only while it is fresh. Every
 * command that reads an index (update, install, upgrade, search, info) refuses one
 * that has expired, was created in the future, or claims a validity longer than
 * {@linkcode MAX_VALIDITY_DAYS}; the message gives the dates and the clock's time,
 * says when the clock is not synchronised (a Pi boots without a real-time clock), and
 * names `--allow-expired`, which turns the refusal into a warning for recovery.
 *
 * ```ts
 * checkIndexTimes(index, "http://repo/INDEX.json", { allowExpired: false });
 * ```
 */
import type { Index } from "./metadata.ts";
import { integrityError } from "./errors.ts";
import { clockSynchronised } from "./clock.ts";

/** Longest validity accepted: ten years (the build's own repository uses 3650 days). */
export const MAX_VALIDITY_DAYS = 3660;
/** Clock skew tolerated for `created` (a signer's clock a little ahead of ours). */
export const MAX_FUTURE_MS = 10 * 60_000;

const DAY = 86400_000;

/** Options of {@linkcode checkIndexTimes}. */
export interface TimeCheckOptions {
  /** Accept (with a warning) instead of refusing. */
  allowExpired?: boolean;
  /** Receives the warning of an accepted index. */
  warn?: (msg: string) => void;
  /** The current time (default: the system clock). */
  now?: Date;
  /** Whether the clock is synchronised (default: ask the kernel, see clock.ts). */
  clockSynchronised?: () => boolean | undefined;
}

/** What the refusal says about the clock. */
function clockNote(now: Date, synced: boolean | undefined): string {
  const base = `the clock says ${now.toISOString()}`;
  if (synced !== false) return base;
  return `${base} and is not synchronised (no time server has answered since boot, so it may be behind): wait for NTP (e.g. chronyc waitsync 30) or set the date`;
}

/** The problem with an index's dates, or undefined if it is fresh. */
function problem(
  index: Pick<Index, "created" | "expires">,
  what: string,
  now: Date,
): string | undefined {
  const created = new Date(index.created);
  const expires = new Date(index.expires);
  if (expires <= created) {
    return `${what}: expires at ${index.expires}, before it is created (${index.created})`;
  }
  const days = Math.round((expires.getTime() - created.getTime()) / DAY);
  if (days > MAX_VALIDITY_DAYS) {
    return `${what}: valid for ${days} days (until ${index.expires}), more than the ${MAX_VALIDITY_DAYS} days allowed`;
  }
  if (expires <= now) return `${what}: expired at ${index.expires}; {clock}`;
  if (created.getTime() > now.getTime() + MAX_FUTURE_MS) {
    return `${what}: created at ${index.created}, in the future: {clock}`;
  }
  return undefined;
}

/** Where a repository's index is, for messages. */
export function indexLocation(url: string): string {
  return `${url.replace(/\/$/, "")}/INDEX.json`;
}

/** Refuse (or, with allowExpired, warn about) an index that is not fresh. */
export function checkIndexTimes(
  index: Pick<Index, "created" | "expires">,
  what: string,
  opts: TimeCheckOptions = {},
): void {
  const now = opts.now ?? new Date();
  let msg = problem(index, what, now);
  if (!msg) return;
  if (msg.includes("{clock}")) {
    msg = msg.replace("{clock}", clockNote(now, (opts.clockSynchronised ?? clockSynchronised)()));
  }
  if (!opts.allowExpired) throw integrityError(`${msg} (pass --allow-expired to use it anyway)`);
  opts.warn?.(`WARNING: ${msg}; accepted because of --allow-expired`);
}
