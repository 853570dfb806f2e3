/**
 * The boot health gate (issue 18): once every enabled service is up, init runs the
 * health command, then on_good or on_bad, once; `icenetctl boot` shows the verdict. Run
 * in `--supervise` mode with `--boot-conf`, on real processes; the watchdog is never
 * touched in that mode.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Init, running, type Sandbox, step, waitFor, withInit } from "./_harness.ts";

/** One line of `icenetctl boot`: its subject, its state word (if any) and its k=v fields. */
interface BootLine {
  state: string;
  fields: Record<string, string>;
}

/** `icenetctl boot` parsed by subject (boot, gate, watchdog). */
export function parseBoot(text: string): Map<string, BootLine> {
  const m = new Map<string, BootLine>();
  for (const line of text.split("\n").filter((l) => l)) {
    const [subject, ...rest] = [...line.matchAll(/(\w+)=("(?:[^"\\]|\\.)*"|\S+)|(\S+)/g)];
    const out: BootLine = { state: "", fields: {} };
    for (const t of rest) {
      if (t[3]) out.state = t[3];
      else out.fields[t[1]] = t[2].startsWith('"') ? t[2].slice(1, -1) : t[2];
    }
    m.set(subject[0], out);
  }
  return m;
}

async function boot(init: Init): Promise<Map<string, BootLine>> {
  const r = await init.ctl("boot");
  assert.equal(r.code, 0, r.out + r.err);
  return parseBoot(r.out);
}

/** Wait until the gate is in `state` (and its on_good/on_bad has finished). */
function gateIs(init: Init, state: string, ms = 10000): Promise<BootLine> {
  return waitFor(`gate ${state}`, async () => {
    const g = (await boot(init)).get("gate")!;
    const act = g.fields.on_good ?? g.fields.on_bad;
    return g.state === state && act !== "running" ? g : undefined;
  }, ms);
}

/** on_good / on_bad scripts that record their run (and the reason) as events. */
async function verdictScripts(box: Sandbox): Promise<string[]> {
  const good = await box.script("good", "ev gate good");
  const bad = await box.script(
    "bad",
    `ev gate bad; printf '%s' "$ICENET_BOOT_REASON" > '${join(box.dir, "reason")}'`,
  );
  return [`on_good = ${good}`, `on_bad = ${bad}`];
}

const BOOT_CONF = (box: Sandbox) => ["--boot-conf", box.bootConf];

async function count(box: Sandbox, name: string, event: string): Promise<number> {
  return (await box.events()).filter((e) => e.name === name && e.event === event).length;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("the boot gate runs health, then on_good once, after every service is up", async (t) => {
  let box!: Sandbox;
  await withInit(async (b) => {
    box = b;
    // ready 400 ms after it starts, on its notify fd
    await box.service("slow", {
      command: await box.script(
        "slow",
        'ev slow start; sleep 0.4; ev slow ready; echo >&"$ICENET_NOTIFY_FD"; exec sleep 100',
      ),
      ready: "notify-fd",
    });
    await box.service("fast", { command: await box.script("fast", "exec sleep 100") });
    await box.service("once", {
      command: await box.script("once", "exit 0"),
      type: "oneshot",
    });
    await box.writeBootConf([
      `health = ${await box.script("health", "ev health run; exit 0")} --verbose`,
      "timeout = 10s",
      ...await verdictScripts(box),
    ]);
  }, async (init) => {
    const g = await gateIs(init, "good");
    await step(t, init, "health ran after the last service was ready, then on_good", async () => {
      const ready = await box.at("slow", "ready");
      const health = await box.at("health", "run");
      const good = await box.at("gate", "good");
      assert.ok(health >= ready, `health at ${health}, slow ready at ${ready}`);
      assert.ok(good >= health);
      assert.equal(g.fields.on_good, "exit:0");
      assert.ok(Number(g.fields.at.replace("ms", "")) >= 400, `gate good at ${g.fields.at}`);
      assert.match(init.output, /info: boot gate: good after \d+ ms/);
    });
    await step(
      t,
      init,
      "on_good ran exactly once, on_bad never, even after a restart",
      async () => {
        assert.equal((await init.ctl("restart", "slow")).code, 0);
        await init.waitStates(["slow"], ["ready"]);
        assert.equal((await init.ctl("reload")).code, 0);
        await pause(500);
        assert.equal(await count(box, "gate", "good"), 1);
        assert.equal(await count(box, "health", "run"), 1);
        assert.equal(await count(box, "gate", "bad"), 0);
        assert.equal((await boot(init)).get("gate")!.state, "good");
      },
    );
    await step(t, init, "icenetctl boot: no slot, and the watchdog is not touched", async () => {
      const b = await boot(init);
      const slot = (await Deno.readTextFile("/proc/cmdline")).match(/icenet\.slot=(\S+)/);
      assert.equal(b.get("boot")!.fields.slot, slot ? slot[1] : "none");
      assert.equal(b.get("watchdog")!.state, "off");
      assert.equal(b.get("watchdog")!.fields.reason, "not PID 1 of the machine (--supervise)");
      const pid = await init.initPid();
      const fds = [...Deno.readDirSync(`/proc/${pid}/fd`)]
        .map((e) => Deno.readLinkSync(`/proc/${pid}/fd/${e.name}`));
      assert.ok(!fds.some((f) => f.startsWith("/dev/watchdog")), fds.join(" "));
    });
  }, { args: BOOT_CONF });
});

/** Run init with one boot.conf and the verdict scripts; `lines` go before them. */
function withGate(
  services: (box: Sandbox) => Promise<void>,
  lines: (box: Sandbox) => Promise<string[]> | string[],
  body: (init: Init, box: Sandbox) => Promise<void>,
): Promise<void> {
  return withInit(
    async (box) => {
      await services(box);
      await box.writeBootConf([...await lines(box), ...await verdictScripts(box)]);
    },
    body,
    { args: BOOT_CONF },
  );
}

async function reason(box: Sandbox): Promise<string> {
  return await Deno.readTextFile(join(box.dir, "reason"));
}

Deno.test("the boot gate says bad, once, when a service is not ready by the timeout", async (t) => {
  await withGate(
    async (box) => {
      await box.service("up", { command: await box.script("up", "exec sleep 100") });
      // never says it is ready, and has no start_timeout of its own
      await box.service("mute", {
        command: await box.script("mute", "ev mute start; exec sleep 100"),
        ready: "notify-fd",
        start_timeout: "0",
      });
    },
    async (box) => ["timeout = 1s", `health = ${await box.script("health", "ev health run")}`],
    async (init, box) => {
      const g = await gateIs(init, "bad");
      await step(t, init, "on_bad ran at the timeout, with the reason", async () => {
        const waited = await box.at("gate", "bad") - await box.at("mute", "start");
        assert.ok(waited >= 950 && waited < 5000, `on_bad ${waited} ms after the start`);
        const why = "not every service up within 1000 ms (timeout): 'mute' is starting";
        assert.equal(await reason(box), why);
        assert.equal(g.fields.reason, why);
        assert.equal(g.fields.on_bad, "exit:0");
        assert.match(init.output, /warning: boot gate: bad: not every service up within 1000 ms/);
      });
      await step(
        t,
        init,
        "once: a later ready changes nothing; no health, no on_good",
        async () => {
          await init.ctl("stop", "mute");
          await pause(300);
          assert.equal(await count(box, "gate", "bad"), 1);
          assert.equal(await count(box, "gate", "good"), 0);
          assert.equal(await count(box, "health", "run"), 0);
        },
      );
    },
  );
});

Deno.test("the boot gate says bad when the health command fails or hangs", async (t) => {
  const services = async (box: Sandbox) => {
    await box.service("web", { command: await box.script("web", "exec sleep 100") });
  };
  await withGate(services, async (box) => [
    `health = ${await box.script("health", "ev health run; echo unhealthy >&2; exit 3")}`,
  ], async (init, box) => {
    const g = await gateIs(init, "bad");
    await step(t, init, "a failing health command: on_bad", async () => {
      assert.equal(await reason(box), "health command failed (exit:3)");
      assert.equal(g.fields.reason, "health command failed (exit:3)");
      assert.equal(await count(box, "gate", "good"), 0);
      assert.match(init.output, /unhealthy/, "its output goes to init's");
    });
  });
  await withGate(services, async (box) => [
    "health_timeout = 300ms",
    `health = ${await box.script(
      "health",
      `ev health run; sleep 100 & echo $! > '${join(box.dir, "hang.pid")}'; wait`,
    )}`,
  ], async (init, box) => {
    await gateIs(init, "bad");
    await step(
      t,
      init,
      "a hanging health command: killed with what it started, on_bad",
      async () => {
        assert.equal(await reason(box), "health command not done within 300 ms (health_timeout)");
        const waited = await box.at("gate", "bad") - await box.at("health", "run");
        assert.ok(waited >= 250 && waited < 3000, `on_bad ${waited} ms after health started`);
        const pid = Number(await Deno.readTextFile(join(box.dir, "hang.pid")));
        assert.ok(pid > 0, "the health command's child wrote its pid");
        await waitFor(`its child ${pid} killed`, async () => !await running(pid), 3000);
      },
    );
  });
});

Deno.test("the boot gate says bad at once when a service fails", async (t) => {
  await withGate(
    async (box) => {
      // dies before it is ready, and is not restarted
      await box.service("broken", {
        command: await box.script("broken", "ev broken start; exit 1"),
        ready: "notify-fd",
        restart: "never",
      });
    },
    () => ["timeout = 30s"],
    async (init, box) => {
      const g = await gateIs(init, "bad", 5000);
      await step(t, init, "not waiting for the timeout", async () => {
        assert.equal(g.fields.reason, "service 'broken' failed: exited with status 1");
        assert.equal(await reason(box), "service 'broken' failed: exited with status 1");
        assert.ok(await box.at("gate", "bad") - await box.at("broken", "start") < 3000);
      });
    },
  );
  await withGate(
    async (box) => {
      await box.service("typo", { command: "/bin/true", restart: "sometimes" });
    },
    () => ["timeout = 30s"],
    async (init) => {
      const g = await gateIs(init, "bad", 5000);
      await step(t, init, "an invalid service file is a failed service", () => {
        assert.match(g.fields.reason, /^service 'typo' failed: invalid service file .*typo$/);
      });
    },
  );
});

Deno.test("a bad boot.conf is reported line by line and makes the gate bad", async (t) => {
  await withGate(
    async (box) => {
      await box.service("web", { command: await box.script("web", "exec sleep 100") });
    },
    () => ["# the gate", "timeout = soon", "helth = /bin/true", "watchdog = 1500ms"],
    async (init, box) => {
      const g = await gateIs(init, "bad");
      await step(t, init, "each bad line as file:line", () => {
        const f = box.bootConf;
        for (
          const m of [
            `${f}:2: timeout: bad duration 'soon' (like 30s, 2m; not 0)`,
            `${f}:3: unknown key 'helth' (health, timeout, health_timeout, on_good, on_bad, watchdog)`,
            `${f}:4: watchdog: bad value '1500ms' (whole seconds from 1s to 1h, like 15s, or off)`,
          ]
        ) assert.ok(init.output.includes(`icenet-init: error: ${m}\n`), m);
      });
      await step(t, init, "on_bad (from the good lines) ran, with the reason", async () => {
        assert.equal(g.fields.reason, `invalid ${box.bootConf}`);
        assert.equal(await reason(box), `invalid ${box.bootConf}`);
      });
    },
  );
});

Deno.test("an unreadable boot.conf makes the gate bad", async (t) => {
  await withInit(async (box) => {
    await box.service("web", { command: await box.script("web", "exec sleep 100") });
    await Deno.mkdir(box.bootConf);
  }, async (init, box) => {
    await step(t, init, "bad at once, saying why", async () => {
      const g = await gateIs(init, "bad");
      assert.equal(g.fields.reason, `unable to read ${box.bootConf}: Is a directory`);
      // the default on_bad: no icenet-update on this host
      assert.equal(g.fields.on_bad, "exit:127");
    });
  }, { args: BOOT_CONF, wrap: ["env", "PATH=/usr/bin:/bin"] });
});

Deno.test("without boot.conf the gate runs only if the image has icenet-update", async (t) => {
  // no icenet-update on PATH: the gate is off, as on images without the updater
  await withInit(async (box) => {
    await box.service("web", { command: await box.script("web", "exec sleep 100") });
  }, async (init, box) => {
    await step(t, init, "gate off, saying why", async () => {
      await init.waitStates(["web"], ["ready"]);
      const g = (await boot(init)).get("gate")!;
      assert.equal(g.state, "off");
      assert.equal(g.fields.reason, `no ${box.bootConf}, and no icenet-update to run`);
    });
  }, { args: BOOT_CONF, wrap: ["env", "PATH=/usr/bin:/bin"] });
  // an icenet-update on PATH: the defaults, `icenet-update mark-good`
  await withInit(async (box) => {
    await box.service("web", { command: await box.script("web", "exec sleep 100") });
    await box.script("icenet-update", 'ev update "$1"');
  }, async (init, box) => {
    await step(t, init, "icenet-update mark-good ran", async () => {
      await gateIs(init, "good");
      await box.at("update", "mark-good");
      assert.equal(await count(box, "update", "mark-bad"), 0);
    });
  }, {
    args: BOOT_CONF,
    wrap: (box) => ["env", `PATH=${join(box.dir, "bin")}:${Deno.env.get("PATH")}`],
  });
  // no --boot-conf at all (--supervise alone): no gate
  await withInit(async () => {}, async (init) => {
    await step(t, init, "--supervise without --boot-conf: off", async () => {
      const g = (await boot(init)).get("gate")!;
      assert.equal(g.state, "off");
      assert.equal(g.fields.reason, "no --boot-conf");
    });
  });
});

Deno.test("a shutdown before the verdict runs neither on_good nor on_bad", async (t) => {
  await withGate(
    async (box) => {
      await box.service("mute", {
        command: await box.script("mute", "ev mute start; exec sleep 100"),
        ready: "notify-fd",
        start_timeout: "0",
      });
    },
    () => ["timeout = 30s"],
    async (init, box) => {
      await box.at("mute", "start");
      assert.equal((await boot(init)).get("gate")!.state, "waiting");
      await init.stop();
      await step(t, init, "stopped without a verdict", async () => {
        assert.equal(await count(box, "gate", "bad"), 0);
        assert.equal(await count(box, "gate", "good"), 0);
        assert.doesNotMatch(init.output, /boot gate: (good|bad)/);
      });
    },
  );
});
