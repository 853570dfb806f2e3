/**
 * Build progress. On a TTY: one live line per running stage (name, elapsed, last
 * log line), redrawn in place. Otherwise: plain timestamped lines. Both end with a
 * table of every stage (cached or built, time).
 */

/** How a stage ended ("fetched": downloaded from a remote cache). */
export type Outcome = "cached" | "fetched" | "built" | "failed" | "skipped" | "would build";

/** Receives runner events. */
export interface Progress {
  /** A stage starts work: "building" (the default) or e.g. "fetching from URL". */
  start(id: string, doing?: string): void;
  line(id: string, text: string): void;
  finish(id: string, outcome: Outcome, seconds: number, note?: string): void;
  /** A message not tied to a stage. */
  message(text: string): void;
  /** Print the final table, then `footer` (e.g. the remote cache's figures). */
  summary(footer?: string): void;
}

const enc = new TextEncoder();

/** Pick the TTY or plain display for stderr. */
export function makeProgress(quiet = false): Progress {
  if (quiet) return new SilentProgress();
  return Deno.stderr.isTerminal() ? new TtyProgress() : new PlainProgress();
}

abstract class TableProgress implements Progress {
  protected rows: { id: string; outcome: Outcome; seconds: number }[] = [];
  abstract start(id: string, doing?: string): void;
  abstract line(id: string, text: string): void;
  abstract message(text: string): void;
  finish(id: string, outcome: Outcome, seconds: number, note?: string): void {
    this.rows.push({ id, outcome, seconds });
    this.finished(id, outcome, seconds, note);
  }
  protected abstract finished(id: string, outcome: Outcome, seconds: number, note?: string): void;
  summary(footer?: string): void {
    if (this.rows.length === 0) {
      if (footer) this.message(footer);
      return;
    }
    const w = Math.max(5, ...this.rows.map((r) => r.id.length));
    const lines = [`${"stage".padEnd(w)}  result       time`];
    for (const r of this.rows) {
      lines.push(
        `${r.id.padEnd(w)}  ${r.outcome.padEnd(11)} ${r.seconds.toFixed(1).padStart(6)} s`,
      );
    }
    if (footer) lines.push(footer);
    this.message(lines.join("\n"));
  }
}

class PlainProgress extends TableProgress {
  start(id: string, doing = "building") {
    this.message(`${id}: ${doing}`);
  }
  line(_id: string, _text: string) {}
  message(text: string) {
    const ts = new Date().toISOString().slice(11, 19);
    for (const l of text.split("\n")) Deno.stderr.writeSync(enc.encode(`${ts} ${l}\n`));
  }
  protected finished(id: string, outcome: Outcome, seconds: number, note?: string) {
    if (outcome !== "cached") {
      this.message(`${id}: ${outcome} in ${seconds.toFixed(1)} s${note ? ` (${note})` : ""}`);
    }
  }
}

class TtyProgress extends TableProgress {
  #running = new Map<string, { since: number; last: string }>();
  #drawn = 0;
  #timer?: ReturnType<typeof setInterval>;
  start(id: string, doing = "") {
    this.#running.set(id, { since: Date.now(), last: doing });
    this.#timer ??= setInterval(() => this.#draw(), 250);
    this.#draw();
  }
  line(id: string, text: string) {
    const r = this.#running.get(id);
    if (r) r.last = text;
  }
  message(text: string) {
    this.#clear();
    Deno.stderr.writeSync(enc.encode(text + "\n"));
    this.#draw();
  }
  protected finished(id: string, outcome: Outcome, seconds: number, note?: string) {
    this.#running.delete(id);
    if (this.#running.size === 0 && this.#timer !== undefined) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    if (outcome !== "cached") {
      this.message(`${id}: ${outcome} in ${seconds.toFixed(1)} s${note ? ` (${note})` : ""}`);
    } else this.#draw();
  }
  #clear() {
    if (this.#drawn > 0) Deno.stderr.writeSync(enc.encode(`\x1b[${this.#drawn}A\x1b[J`));
    this.#drawn = 0;
  }
  #draw() {
    this.#clear();
    const cols = Deno.consoleSize?.().columns ?? 100;
    const lines = [...this.#running].map(([id, r]) => {
      const t = ((Date.now() - r.since) / 1000).toFixed(0).padStart(4);
      return `  ${t}s ${id}  ${r.last}`.slice(0, cols - 1);
    });
    if (lines.length) Deno.stderr.writeSync(enc.encode(lines.join("\n") + "\n"));
    this.#drawn = lines.length;
  }
}

/** Records nothing visible (tests, benchmarks). */
export class SilentProgress extends TableProgress {
  start() {}
  line() {}
  message() {}
  protected finished() {}
  override summary() {}
}
