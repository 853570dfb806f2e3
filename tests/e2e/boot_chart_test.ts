/**
 * `deno task boot <board> --chart` on every board: the chart is of that boot (initcalls
 * named from the kernel's System.map, each early-boot step, the test image's services,
 * in boot order, before the login prompt), its SVG is well-formed, and it is kept in the
 * store's artifacts (boot-charts/boot-chart-<board>.svg and .json) to look at.
 */
import assert from "node:assert/strict";
import { chartBoot, topTen, writeChart } from "../../lib/qemu/chart_run.ts";
import { ROOT } from "../../lib/registry.ts";
import { e2eBoardList, withSkipReason } from "./_boards.ts";
import { artifactPath } from "./_first_boot.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

/** Steps base-files' /sbin/init marks on every boot with a data partition. */
const STEPS = ["proc and dev", "data partition mounted", "clock restored", "overlay root"];

for (const b of await e2eBoardList()) {
  Deno.test({
    name: withSkipReason(`${b.name} boot chart: initcalls, early boot, services`, b),
    ignore: !!b.skip,
    ...opts,
  }, async () => {
    const work = await Deno.makeTempDir({ prefix: `icenet-e2e-chart-${b.name}-` });
    try {
      const c = await chartBoot(ROOT, b.board, work, { user: "root", password: "icenet-test" });
      const files = await writeChart(c, artifactPath("boot-charts"), b.name);
      console.log(`${files.join(", ")}\n${topTen(c)}`);
      const { chart } = c;
      const lane = (l: string) => chart.bars.filter((x) => x.lane === l).map((x) => x.name);
      const initcalls = lane("kernel");
      assert.ok(initcalls.length > 100, `${initcalls.length} initcalls`);
      // Named from System.map: no bare addresses left.
      assert.deepEqual(initcalls.filter((n) => n.startsWith("0x")), []);
      assert.ok(initcalls.includes("dm_init_init"), "the verified root's dm-mod.create");
      for (const s of STEPS) assert.ok(lane("preinit").includes(s), s);
      for (const s of ["getty", "dropbear", "clock", "network"]) {
        assert.ok(lane("services").some((n) => n.startsWith(s)), s);
      }
      assert.ok(chart.initAt! < chart.icenetInitAt! && chart.icenetInitAt! < chart.loginAt);
      const lint = await new Deno.Command("xmllint", { args: ["--noout", files[0]] }).output();
      assert.equal(lint.code, 0, new TextDecoder().decode(lint.stderr));
    } finally {
      await Deno.remove(work, { recursive: true });
    }
  });
}
