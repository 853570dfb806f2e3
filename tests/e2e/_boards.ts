/**
 * Boards the e2e tests boot: every board under boards/ (ICENET_E2E_BOARDS, comma-
 * separated, narrows it: ICENET_E2E_BOARDS=zima skips two kernel builds on a cold
 * store). A board without a QEMU model is not booted; its tests show as ignored, the
 * reason in their name.
 */
import { type Board, boardNames, loadBoard, noQemuReason } from "../../lib/board.ts";
import { ROOT } from "../../lib/registry.ts";

/** Names of the boards selected by ICENET_E2E_BOARDS (default: all of boards/). */
export function e2eBoards(): string[] {
  const v = Deno.env.get("ICENET_E2E_BOARDS");
  if (!v) return boardNames(ROOT);
  return v.split(",").map((s) => s.trim()).filter(Boolean);
}

/** A board of boards/ and, when it is not booted, why. */
export interface E2eBoard {
  name: string;
  board: Board;
  /** Why its boot tests are ignored (no QEMU model, or not selected). */
  skip?: string;
}

/** Every board of boards/, each with the reason it is skipped, if it is. */
export async function e2eBoardList(): Promise<E2eBoard[]> {
  const selected = e2eBoards();
  const out: E2eBoard[] = [];
  for (const name of boardNames(ROOT)) {
    const board = await loadBoard(ROOT, name);
    const skip = !board.qemu
      ? noQemuReason(board)
      : selected.includes(name)
      ? undefined
      : "not in ICENET_E2E_BOARDS";
    out.push({ name, board, skip });
  }
  return out;
}

/** A test name with the reason it is skipped appended, if it is. */
export function withSkipReason(name: string, b: E2eBoard): string {
  return b.skip ? `${name} (skipped: ${b.skip})` : name;
}
