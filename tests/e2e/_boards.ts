/**
 * Boards the e2e tests boot: ICENET_E2E_BOARDS (comma-separated), default all three.
 * The others' tests show as ignored (e.g. ICENET_E2E_BOARDS=zima skips two kernel
 * builds on a cold store).
 */
export function e2eBoards(): string[] {
  return (Deno.env.get("ICENET_E2E_BOARDS") ?? "zima,rpi,rpi32").split(",").map((s) => s.trim())
    .filter(
      Boolean,
    );
}
