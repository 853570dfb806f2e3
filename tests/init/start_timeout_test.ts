/**
 * start_timeout: a service not ready in time is stopped and failed, with the reason in
 * `icenetctl status`, and its dependents fail instead of waiting forever (issue 16,
 * case 4).
 */
import assert from "node:assert/strict";
import { running, step, waitFor, withInit } from "./_harness.ts";

Deno.test("icenet-init fails a service that is not ready within start_timeout", async (t) => {
  await withInit(async (box) => {
    // never writes to its notify fd
    await box.service("mute", {
      command: await box.script("mute", "ev mute start; exec sleep 100"),
      ready: "notify-fd",
      start_timeout: "500ms",
    });
    await box.service("silent", {
      command: await box.script("silent", "ev silent start; exec sleep 100"),
      ready: "sd-notify",
      start_timeout: "700ms",
    });
    // a oneshot that hangs: never done
    await box.service("hang", {
      command: await box.script("hang", "ev hang start; exec sleep 100"),
      type: "oneshot",
      start_timeout: "300ms",
    });
    await box.service("app", {
      command: await box.script("app", "exec sleep 100"),
      depends: "mute",
    });
  }, async (init, box) => {
    const first = await init.status();
    const pids = ["mute", "silent", "hang"].map((n) => first.get(n)!.pid);
    const failedAt = new Map<string, number>();
    await Promise.all(["mute", "silent", "hang"].map((n) =>
      waitFor(`${n} failed`, async () => {
        if ((await init.status()).get(n)!.state !== "failed") return false;
        failedAt.set(n, Date.now());
        return true;
      }, 5000)
    ));
    const st = await init.waitStates(["app"], ["failed"]);
    await step(t, init, "each is failed with the reason", () => {
      assert.equal(st.get("mute")!.reason, "not ready within 500 ms (start_timeout)");
      assert.equal(st.get("silent")!.reason, "not ready within 700 ms (start_timeout)");
      assert.equal(st.get("hang")!.reason, "not ready within 300 ms (start_timeout)");
      assert.match(
        init.output,
        /warning: mute: not ready within 500 ms \(start_timeout\), stopping it/,
      );
    });
    await step(t, init, "stopped by SIGTERM after its time, never ready", async () => {
      for (const [n, ms] of [["mute", 500], ["silent", 700], ["hang", 300]] as const) {
        const s = st.get(n)!;
        assert.equal(s.pid, 0);
        assert.equal(s.last, "signal:15", `${n} was stopped by SIGTERM`);
        assert.equal(s.readyMs, -1, `${n} never ready`);
        const waited = failedAt.get(n)! - await box.at(n, "start");
        assert.ok(waited >= ms - 20, `${n} failed ${waited} ms after it started`);
      }
    });
    await step(t, init, "the processes are gone", async () => {
      for (const pid of pids) assert.equal(await running(pid), false, `pid ${pid} still runs`);
    });
    await step(t, init, "the dependent fails instead of waiting", () => {
      assert.equal(st.get("app")!.reason, "dependency 'mute' failed");
    });
    await step(t, init, "icenetctl start tries again, with the same timeout", async () => {
      assert.equal((await init.ctl("start", "mute")).code, 0);
      const s = await init.waitStates(["mute"], ["starting"]);
      assert.ok(s.get("mute")!.pid > 0);
      await init.waitStates(["mute"], ["failed"], 5000);
    });
  });
});
