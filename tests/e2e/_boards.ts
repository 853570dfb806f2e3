/**
 * Boards the e2e tests boot: ICENET_E2E_BOARDS (comma-separated), default zima. The
 * Pi boards' boots under raspi3b/raspi2b have not been shown to pass yet, so they run
 * only when asked for (ICENET_E2E_BOARDS=zima,rpi,rpi32); their tests show as ignored.
 */
export function e2eBoards(): string[] {
  return (Deno.env.get("ICENET_E2E_BOARDS") ?? "zima").split(",").map((s) => s.trim()).filter(
    Boolean,
  );
}
