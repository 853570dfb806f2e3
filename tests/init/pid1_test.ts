/**
 * icenet-init as PID 1 of a fresh PID namespace (`unshare --fork --pid --mount-proc`,
 * we are root): orphans of the whole namespace come to it, signals from inside cannot
 * kill it, and a shutdown stops services in reverse order before reboot(2) ends the
 * namespace.
 */
import assert from "node:assert/strict";
import { buildInit, Sandbox, step, waitFor, zombieChildren } from "./_harness.ts";

Deno.test("icenet-init as PID 1 reaps orphans, survives signals and shuts down in order", async (t) => {
  await buildInit();
  const box = await Sandbox.create();
  const stopper = (n: string) =>
    box.script(n, `trap 'ev ${n} term; exit 0' TERM; ev ${n} pid$$; sleep 100 & wait`);
  await box.service("base", { command: await stopper("base") });
  await box.service("top", { command: await stopper("top"), depends: "base" });
  await box.service("orphans", {
    command: await box.script(
      "orphans",
      "for i in 1 2 3 4 5 6 7 8; do (sleep 0.2 &); done; exec sleep 100",
    ),
    after: "top",
  });
  await box.service("hostile", {
    // signals PID 1 from inside the namespace: without handlers they are dropped
    command: await box.script(
      "hostile",
      "kill -KILL 1; kill -SEGV 1; kill -QUIT 1; ev hostile sent",
    ),
    type: "oneshot",
  });
  // Words of the kernel command line it does not know reach init as arguments: ignored.
  const init = box.start({ pid1: true, args: ["nokaslr", "single"] });
  try {
    const st = await init.waitStates(["base", "top", "orphans", "hostile"], ["ready", "done"]);
    await step(t, init, "services see init as PID 1 of their namespace", async () => {
      const ev = (await box.events()).find((e) => e.name === "base" && e.event.startsWith("pid"));
      const pid = Number(
        (ev ??
          await waitFor(
            "base's pid event",
            async () =>
              (await box.events()).find((e) => e.name === "base" && e.event.startsWith("pid")),
          ))!.event.slice(3),
      );
      assert.equal(pid, st.get("base")!.pid);
      assert.ok(pid < 20, `namespace pid ${pid}`);
    });
    await step(t, init, "signals from inside do not kill it", async () => {
      await box.at("hostile", "sent");
      assert.equal(st.get("hostile")!.last, "exit:0");
      assert.ok((await init.status()).get("base")!.state === "ready");
    });
    await step(t, init, "orphans are reaped", async () => {
      await new Promise((r) => setTimeout(r, 800));
      assert.deepEqual(await zombieChildren(await init.initPid()), []);
    });
    await step(
      t,
      init,
      "poweroff stops services in reverse order and calls reboot(2)",
      async () => {
        const r = await init.ctl("poweroff");
        assert.equal(r.out, "ok: poweroff\n");
        const status = await init.wait();
        const top = await box.at("top", "term"), base = await box.at("base", "term");
        assert.ok(top <= base, `top stopped at ${top}, base at ${base}`);
        assert.match(init.output, /info: powering off/);
        // reboot(2) in a PID namespace kills its init with SIGINT (poweroff); unshare
        // passes that on.
        assert.equal(status.signal, "SIGINT");
        assert.doesNotMatch(init.output, /unable to reboot/);
      },
    );
  } catch (e) {
    console.error(`--- icenet-init output ---\n${init.output}`);
    throw e;
  } finally {
    await init.stop();
    await box.remove();
  }
});
