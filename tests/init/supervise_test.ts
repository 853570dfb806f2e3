/**
 * icenet-init in `--supervise` mode with real shell services: parallel start,
 * dependency order, readiness, restarts with backoff, shutdown order, logs, icenetctl.
 * Ordering is asserted from timestamps the scripts write, with generous margins.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  buildInit,
  INIT,
  Init,
  ROOT,
  rssKb,
  Sandbox,
  step,
  waitFor,
  zombieChildren,
} from "./_harness.ts";

async function withInit(
  setup: (box: Sandbox) => Promise<void>,
  body: (init: Init, box: Sandbox) => Promise<void>,
): Promise<void> {
  await buildInit();
  const box = await Sandbox.create();
  let init: Init | undefined;
  try {
    await setup(box);
    init = box.start();
    await body(init, box);
  } catch (e) {
    if (init) console.error(`--- icenet-init output ---\n${init.output}`);
    throw e;
  } finally {
    await init?.stop();
    await box.remove();
  }
}

Deno.test("icenet-init starts independent services in parallel", async () => {
  await withInit(async (box) => {
    for (const n of ["p1", "p2", "p3", "p4"]) {
      const s = await box.script(n, `ev ${n} start; sleep 1; ev ${n} end`);
      await box.service(n, { command: s, type: "oneshot" });
    }
  }, async (init, box) => {
    await init.waitStates(["p1", "p2", "p3", "p4"], ["done"]);
    const starts = await Promise.all(["p1", "p2", "p3", "p4"].map((n) => box.at(n, "start")));
    const ends = await Promise.all(["p1", "p2", "p3", "p4"].map((n) => box.at(n, "end")));
    // Sequential starts would put each start after the previous end (1 s apart).
    assert.ok(
      Math.max(...starts) < Math.min(...ends),
      `starts ${starts} not all before ends ${ends}`,
    );
  });
});

Deno.test("icenet-init starts a service only after what it depends on is ready", async (t) => {
  await withInit(async (box) => {
    // db: oneshot (ready = done); cache: notify-fd after 0.4 s; app depends on both;
    // late is ordered `after` app.
    await box.service("db", {
      command: await box.script("db", "ev db start; sleep 0.4; ev db end"),
      type: "oneshot",
    });
    await box.service("cache", {
      command: await box.script(
        "cache",
        'ev cache start; sleep 0.4; ev cache ready; echo ready >&"$ICENET_NOTIFY_FD"; exec sleep 100',
      ),
      ready: "notify-fd",
    });
    await box.service("app", {
      command: await box.script(
        "app",
        'ev app start; echo ready >&"$ICENET_NOTIFY_FD"; exec sleep 100',
      ),
      depends: "db cache",
      ready: "notify-fd",
    });
    await box.service("late", {
      command: await box.script("late", "ev late start; exec sleep 100"),
      after: "app",
    });
  }, async (init, box) => {
    const st = await init.waitStates(["app", "late"], ["ready"]);
    await step(t, init, "depends waits for a oneshot to finish", async () => {
      assert.ok(await box.at("app", "start") >= await box.at("db", "end"));
    });
    await step(t, init, "depends waits for notify-fd readiness", async () => {
      assert.ok(await box.at("app", "start") >= await box.at("cache", "ready"));
      const cache = st.get("cache")!;
      assert.ok(
        cache.readyMs - cache.startMs >= 350,
        `cache ready after ${cache.readyMs - cache.startMs} ms`,
      );
    });
    await step(t, init, "after orders without a hard dependency", async () => {
      assert.ok(await box.at("late", "start") >= await box.at("app", "start"));
      assert.ok(st.get("late")!.startMs >= st.get("app")!.readyMs);
    });
  });
});

Deno.test("icenet-init understands sd_notify READY=1 on NOTIFY_SOCKET", async () => {
  await withInit(async (box) => {
    const notify = `import os, socket, time
time.sleep(0.4)
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.sendto(b"STATUS=warming up\\nREADY=1\\n", os.environ["NOTIFY_SOCKET"])
time.sleep(100)`;
    await Deno.writeTextFile(join(box.dir, "bin", "notify.py"), notify);
    await box.service("sd", {
      command: `/usr/bin/python3 ${join(box.dir, "bin", "notify.py")}`,
      ready: "sd-notify",
    });
    await box.service("after-sd", {
      command: await box.script("after-sd", "ev after-sd start; exec sleep 100"),
      depends: "sd",
    });
  }, async (init) => {
    const early = (await init.status()).get("sd")!;
    assert.ok(["starting", "stopped"].includes(early.state), `sd is ${early.state} at once`);
    const st = await init.waitStates(["sd", "after-sd"], ["ready"]);
    const sd = st.get("sd")!;
    assert.ok(sd.readyMs - sd.startMs >= 350, `ready after ${sd.readyMs - sd.startMs} ms`);
    assert.ok(st.get("after-sd")!.startMs >= sd.readyMs);
  });
});

Deno.test("icenet-init restarts a crashing service with growing delays", async (t) => {
  await withInit(async (box) => {
    await box.service("crash", {
      command: await box.script("crash", "ev crash start; exit 3"),
      backoff: "100ms",
      backoff_max: "800ms",
    });
    await box.service("flaky", {
      // runs 300 ms then fails: longer than backoff_reset, so the delay stays minimal
      command: await box.script("flaky", "sleep 0.3; exit 1"),
      backoff: "50ms",
      backoff_reset: "200ms",
    });
  }, async (init, box) => {
    await waitFor("6 crashes", async () => (await box.events()).length >= 6, 15000);
    await step(t, init, "delays double up to backoff_max", () => {
      const delays = [
        ...init.output.matchAll(/crash: exited with status 3, restarting in (\d+) ms/g),
      ]
        .map((m) => +m[1]);
      assert.deepEqual(delays.slice(0, 5), [100, 200, 400, 800, 800]);
    });
    await step(t, init, "the gaps between starts are at least the delays", async () => {
      const ts = (await box.events()).map((e) => e.t);
      const want = [100, 200, 400, 800];
      for (let i = 0; i < want.length; i++) {
        assert.ok(ts[i + 1] - ts[i] >= want[i], `gap ${i}: ${ts[i + 1] - ts[i]} < ${want[i]}`);
      }
    });
    await step(t, init, "a run longer than backoff_reset resets the delay", async () => {
      await waitFor("3 flaky exits", () => init.output.split("flaky: exited").length > 3);
      const delays = [
        ...init.output.matchAll(/flaky: exited with status 1, restarting in (\d+) ms/g),
      ]
        .map((m) => +m[1]);
      assert.deepEqual(delays.slice(0, 3), [50, 50, 50]);
    });
    await step(t, init, "status counts restarts and keeps the last exit", async () => {
      const s = (await init.status()).get("crash")!;
      assert.ok(s.restarts >= 5, `restarts=${s.restarts}`);
      assert.equal(s.last, "exit:3");
    });
  });
});

Deno.test("icenet-init follows each restart policy", async () => {
  await withInit(async (box) => {
    await box.service("onf-ok", { command: "/bin/true", restart: "on-failure" });
    await box.service("onf-bad", { command: "/bin/false", restart: "on-failure", backoff: "20ms" });
    await box.service("never-bad", { command: "/bin/false", restart: "never" });
    await box.service("always-ok", { command: "/bin/true", restart: "always", backoff: "20ms" });
    await box.service("oneshot-bad", { command: "/bin/false", type: "oneshot" });
  }, async (init) => {
    const st = await waitFor("policies applied", async () => {
      const s = await init.status();
      return s.get("onf-bad")!.restarts >= 2 && s.get("always-ok")!.restarts >= 2 &&
          s.get("onf-ok")!.state === "done" && s.get("never-bad")!.state === "failed" &&
          s.get("oneshot-bad")!.state === "failed"
        ? s
        : undefined;
    });
    assert.equal(st.get("onf-ok")!.restarts, 0);
    assert.equal(st.get("never-bad")!.reason, "exited with status 1");
    assert.equal(st.get("never-bad")!.restarts, 0);
    assert.equal(st.get("oneshot-bad")!.last, "exit:1");
  });
});

Deno.test("icenet-init reports failed, missing and cyclic dependencies and boots the rest", async () => {
  await withInit(async (box) => {
    const ok = await box.script("ok", "exec sleep 100");
    await box.service("broken", { command: "/bin/false", type: "oneshot" });
    await box.service("needs-broken", { command: ok, depends: "broken" });
    await box.service("needs-ghost", { command: ok, depends: "ghost" });
    await box.service("cyc-a", { command: ok, depends: "cyc-b" });
    await box.service("cyc-b", { command: ok, depends: "cyc-a" });
    await box.service("bad-file", { command: ok, colour: "blue" });
    await box.service("fine", { command: ok });
  }, async (init, box) => {
    const st = await init.waitStates(
      ["broken", "needs-broken", "needs-ghost", "cyc-a", "cyc-b", "bad-file", "fine"],
      ["failed", "ready"],
    );
    const reason = (n: string) => `${st.get(n)!.state}: ${st.get(n)!.reason}`;
    assert.equal(reason("broken"), "failed: exited with status 1");
    assert.equal(reason("needs-broken"), "failed: dependency 'broken' failed");
    assert.equal(reason("needs-ghost"), "failed: depends on missing service 'ghost'");
    assert.equal(reason("cyc-a"), "failed: dependency cycle: cyc-a -> cyc-b -> cyc-a");
    assert.equal(reason("cyc-b"), "failed: dependency cycle: cyc-a -> cyc-b -> cyc-a");
    assert.equal(reason("bad-file"), `failed: invalid service file ${box.services}/bad-file`);
    assert.equal(st.get("fine")!.state, "ready");
    assert.match(init.output, /error: needs-ghost: depends on missing service 'ghost'/);
    assert.match(
      init.output,
      new RegExp(`error: ${box.services}/bad-file:2: unknown key 'colour'`),
    );
    assert.match(init.output, /error: dependency cycle: cyc-a -> cyc-b -> cyc-a/);
  });
});

Deno.test("icenet-init stops services in reverse dependency order and escalates to SIGKILL", async () => {
  await buildInit();
  const box = await Sandbox.create();
  try {
    const stopper = (n: string) =>
      box.script(n, `trap 'ev ${n} term; exit 0' TERM; ev ${n} start; sleep 100 & wait`);
    await box.service("base", { command: await stopper("base") });
    await box.service("mid", {
      // ignores SIGTERM: init must send SIGKILL after stop_timeout
      command: await box.script(
        "mid",
        "trap 'ev mid term' TERM; ev mid start; while :; do sleep 0.05; done",
      ),
      depends: "base",
      stop_timeout: "500ms",
    });
    await box.service("top", { command: await stopper("top"), depends: "mid" });
    const init = box.start();
    await init.waitStates(["base", "mid", "top"], ["ready"]);
    await waitFor("top started", async () => (await box.events()).some((e) => e.name === "top"));
    await init.kill("SIGTERM");
    const st = await init.wait();
    assert.equal(st.code, 0, init.output);
    const top = await box.at("top", "term"),
      mid = await box.at("mid", "term"),
      base = await box.at("base", "term");
    assert.ok(top <= mid, `top stopped at ${top}, mid got TERM at ${mid}`);
    assert.ok(base - mid >= 300, `base got TERM ${base - mid} ms after mid: no SIGKILL wait`);
    assert.match(init.output, /mid: still running 500 ms after SIGTERM, sending SIGKILL/);
    assert.match(init.output, /mid: stopped \(killed by signal 9\)/);
    assert.match(init.output, /top: stopped \(exited with status 0\)/);
  } finally {
    await box.remove();
  }
});

Deno.test("icenet-init reaps orphans left by services", async () => {
  await withInit(async (box) => {
    // The subshell exits at once, leaving 5 sleeps whose parent becomes init.
    await box.service("orphans", {
      command: await box.script(
        "orphans",
        "for i in 1 2 3 4 5; do (sleep 0.2 &) ; done; exec sleep 100",
      ),
    });
  }, async (init) => {
    await init.waitStates(["orphans"], ["ready"]);
    await new Promise((r) => setTimeout(r, 800));
    assert.deepEqual(await zombieChildren(init.child.pid), []);
    // They really were init's: it counts them only after reaping.
    assert.equal(init.output.includes("orphans: started"), true);
  });
});

Deno.test("icenet-init's memory does not grow over 1,000 crashes", async () => {
  await withInit(async (box) => {
    await box.service("crasher", {
      command: "/bin/false",
      backoff: "1ms",
      backoff_max: "1ms",
      log: "none",
    });
  }, async (init) => {
    const restarts = async () => (await init.status()).get("crasher")!.restarts;
    // Polled slowly: on a loaded machine each icenetctl run competes with the crashes.
    await waitFor("100 crashes", async () => await restarts() >= 100, 60000, 250);
    const before = await rssKb(init.child.pid);
    const from = await restarts();
    await waitFor("1,000 more crashes", async () => await restarts() >= from + 1000, 180000, 250);
    const after = await rssKb(init.child.pid);
    assert.ok(after - before <= 16, `VmRSS grew from ${before} kB to ${after} kB`);
  });
});

Deno.test("icenet-init writes service logs with a size cap and one rotated file", async () => {
  await withInit(async (box) => {
    await box.service("chatty", {
      command: await box.script(
        "chatty",
        'i=0; while [ $i -lt 100 ]; do echo "line $i 0123456789012345678901234567890123456789"; i=$((i+1)); done; echo done; exec sleep 100',
      ),
      log_max: "1K",
    });
  }, async (_init, box) => {
    const log = join(box.logDir, "chatty.log");
    await waitFor("the last line", async () => (await Deno.readTextFile(log)).includes("done\n"));
    const cur = await Deno.stat(log), old = await Deno.stat(log + ".1");
    assert.ok(cur.size <= 1024 && old.size <= 1024, `sizes ${cur.size}, ${old.size}`);
    assert.ok(old.size > 512, `rotated file has ${old.size} bytes`);
    // 5 kB were written: the oldest lines are gone, the newest are kept in order.
    const both = await Deno.readTextFile(log + ".1") + await Deno.readTextFile(log);
    assert.doesNotMatch(both, /line 0 /);
    assert.match(both, /line 99 [0-9]+\ndone\n$/);
  });
});

Deno.test("icenet-init runs a service with its env, cwd and user", async () => {
  await withInit(async (box) => {
    // nobody must reach the script and the events file
    await Deno.chmod(box.dir, 0o755);
    await Deno.chmod(join(box.dir, "bin"), 0o755);
    await Deno.writeTextFile(box.eventsFile, "", { mode: 0o666 });
    await Deno.chmod(box.eventsFile, 0o666);
    await box.service("who", {
      command: await box.script(
        "who",
        `ev who "$(id -u):$(id -g):$(pwd):$GREETING"; exec sleep 100`,
      ),
      env: ["GREETING=hello", "PATH=/usr/bin:/bin"],
      cwd: "/tmp",
      user: "nobody",
      group: "nogroup",
    });
  }, async (init, box) => {
    await init.waitStates(["who"], ["ready"]);
    const e = await waitFor("who's event", async () => (await box.events())[0]);
    assert.equal(e.event, "65534:65534:/tmp:hello");
  });
});

Deno.test("icenetctl shows the truth and controls services", async (t) => {
  await withInit(async (box) => {
    await box.service("web", { command: await box.script("web", "exec sleep 100") });
    await box.service("job", { command: "/bin/true", type: "oneshot" });
  }, async (init, box) => {
    let st = await init.waitStates(["web", "job"], ["ready", "done"]);
    await step(t, init, "status pid is the running process", async () => {
      const web = st.get("web")!;
      assert.equal(web.state, "ready");
      // The pid is the service's own process: its script execs sleep (under load the
      // exec may come a moment after "ready", which means started).
      await waitFor("the service to exec sleep", async () => {
        const cmdline = await Deno.readTextFile(`/proc/${web.pid}/cmdline`);
        return cmdline.split("\0")[0] === "sleep" || undefined;
      });
      assert.equal(st.get("job")!.state, "done");
      assert.equal(st.get("job")!.last, "exit:0");
    });
    await step(t, init, "stop ends the process", async () => {
      const pid = st.get("web")!.pid;
      const r = await init.ctl("stop", "web");
      assert.equal(r.code, 0);
      st = await init.waitStates(["web"], ["stopped"]);
      assert.equal(st.get("web")!.pid, 0);
      await waitFor("sleep gone", async () => {
        try {
          await Deno.stat(`/proc/${pid}`);
          return false;
        } catch {
          return true;
        }
      });
    });
    await step(t, init, "start brings it back with a new pid", async () => {
      assert.equal((await init.ctl("start", "web")).code, 0);
      st = await init.waitStates(["web"], ["ready"]);
      assert.ok(st.get("web")!.pid > 0);
    });
    await step(t, init, "restart changes the pid", async () => {
      const pid = st.get("web")!.pid;
      assert.equal((await init.ctl("restart", "web")).code, 0);
      st = await waitFor("new pid", async () => {
        const s = await init.status();
        return s.get("web")!.state === "ready" && s.get("web")!.pid !== pid ? s : undefined;
      });
    });
    await step(t, init, "reload starts new services and removes deleted ones", async () => {
      await box.service("extra", { command: await box.script("extra", "exec sleep 100") });
      await Deno.remove(join(box.services, "job"));
      const r = await init.ctl("reload");
      assert.equal(r.code, 0, r.out);
      st = await init.waitStates(["extra"], ["ready"]);
      assert.equal(st.has("job"), false);
    });
    await step(t, init, "errors name the service and exit 1", async () => {
      const r = await init.ctl("stop", "nosuch");
      assert.equal(r.code, 1);
      assert.equal(r.out, "error: no service 'nosuch'\n");
      const u = await init.ctl("frobnicate");
      assert.equal(u.code, 1);
      assert.match(u.out, /^error: unknown command 'frobnicate'/);
    });
    await step(t, init, "the control socket is root-only", async () => {
      const s = await Deno.stat(box.control);
      assert.equal(s.mode! & 0o777, 0o600);
    });
    await step(t, init, "others cannot connect to it", async () => {
      await Deno.chmod(box.dir, 0o755);
      await Deno.chmod(join(box.dir, "run"), 0o755);
      const r = await new Deno.Command("setpriv", {
        args: [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          INIT,
          "ctl",
          "-s",
          box.control,
          "status",
        ],
      }).output();
      assert.equal(r.code, 111);
      assert.match(
        new TextDecoder().decode(r.stderr),
        /unable to connect to .*: Permission denied/,
      );
    });
    await step(t, init, "the icenetctl name works like icenet-init ctl", async () => {
      const r = await new Deno.Command(join(ROOT, "init/build/icenetctl"), {
        args: ["-s", box.control, "status", "web"],
      }).output();
      assert.equal(r.code, 0);
      assert.match(new TextDecoder().decode(r.stdout), /^web ready pid=\d+ /);
    });
  });
});
