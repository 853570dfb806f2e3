import assert from "node:assert/strict";
import { loadFigures, saveFigures, withPrevious } from "../../lib/bench_history.ts";

Deno.test("bench figures: the previous run's figure is printed beside each new one", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.deepEqual(await loadFigures("boot", dir), {});
    const seen = {};
    const first = withPrevious("bench: boot_to_login_zima 2.236 s", {}, seen, "2026-12-04");
    assert.equal(first, "bench: boot_to_login_zima 2.236 s");
    assert.equal(withPrevious("not a figure", {}, seen, "x"), "not a figure");
    await saveFigures("boot", seen, dir);
    const prev = await loadFigures("boot", dir);
    const again = {};
    assert.equal(
      withPrevious("bench: boot_to_login_zima 2.186 s", prev, again, "2026-12-05"),
      "bench: boot_to_login_zima 2.186 s (before: 2.236 s, 2026-12-04)",
    );
    // A partial run (one board) keeps the other figures.
    await saveFigures("boot", { idle_mem_rpi: { value: 21.8, unit: "MB", date: "d" } }, dir);
    assert.deepEqual(Object.keys(await loadFigures("boot", dir)).sort(), [
      "boot_to_login_zima",
      "idle_mem_rpi",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
