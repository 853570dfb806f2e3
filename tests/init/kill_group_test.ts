/**
 * What a service leaves behind dies with it (issue 16, case 5: children of a crashed
 * or stopped service were left running). With cgroup v2 mounted each service runs in
 * its own cgroup and the whole cgroup is killed; without it, its own process group
 * (a child that calls setsid escapes that, and only that).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { type Init, running, type Sandbox, step, waitFor, withInit } from "./_harness.ts";

/** Init in a private mount namespace where /sys/fs/cgroup is an empty tmpfs. */
const NO_CGROUP = [
  "unshare",
  "--mount",
  "--propagation",
  "private",
  "sh",
  "-c",
  'mount -t tmpfs none /sys/fs/cgroup && exec "$@"',
  "sh",
];

/**
 * A service body that leaves children: one in the background, one orphaned (its
 * parent exits), one that ignores SIGTERM, and one in a new session (setsid). Their
 * pids go to <dir>/<name>.kids and <name>.setsid.
 */
function kids(box: Sandbox, name: string): string {
  const f = join(box.dir, name);
  return [
    `sleep 100 & echo $! >> ${f}.kids`,
    `sh -c 'sleep 100 & echo $! >> ${f}.kids'`,
    `sh -c 'trap "" TERM; exec sleep 100' & echo $! >> ${f}.kids`,
    `setsid sleep 100 & echo $! >> ${f}.setsid`,
    `ev ${name} forked`,
  ].join("\n");
}

async function pids(box: Sandbox, file: string): Promise<number[]> {
  await waitFor(`${file}`, async () => (await Deno.readTextFile(join(box.dir, file))).trim());
  return (await Deno.readTextFile(join(box.dir, file))).trim().split("\n").map(Number);
}

async function gone(pids: number[], what: string): Promise<void> {
  await waitFor(`${what}: ${pids.join(" ")} gone`, async () => {
    for (const p of pids) if (await running(p)) return false;
    return true;
  }, 3000);
}

/** The cgroup directory init says it uses, if any. */
function cgroupDir(init: Init): string | undefined {
  return init.output.match(/info: services run in cgroups under (\S+)/)?.[1];
}

/** cgroup v2 where init looks for it (pure or hybrid layout). */
const HOST_CGROUP2 = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"].some((d) => {
  try {
    return Deno.statSync(join(d, "cgroup.controllers")).isFile;
  } catch {
    return false;
  }
});

for (const mode of ["cgroup", "process group"] as const) {
  Deno.test({
    name: `icenet-init kills what a crashed or stopped service leaves (${mode})`,
    ignore: mode === "cgroup" && !HOST_CGROUP2,
  }, async (t) => {
    const leftovers: number[] = [];
    let cgdir: string | undefined;
    await withInit(async (box) => {
      await box.service("crash", {
        command: await box.script("crash", `${kids(box, "crash")}\nexit 3`),
        backoff: "5s", // one crash, then a long backoff to look at what is left
      });
      await box.service("stopme", {
        command: await box.script("stopme", `${kids(box, "stopme")}\nexec sleep 100`),
      });
    }, async (init, box) => {
      await init.waitStates(["crash"], ["backoff"]);
      await init.waitStates(["stopme"], ["ready"]);
      await box.at("stopme", "forked");
      cgdir = cgroupDir(init);
      const cg = mode === "cgroup";
      await step(t, init, "init says which", () => {
        if (cg) assert.ok(cgdir, "cgroup2 is mounted here: init must use it");
        else {
          assert.equal(cgdir, undefined);
          assert.match(
            init.output,
            /info: no cgroup2 mounted: each service runs in its own process group/,
          );
        }
      });
      if (cg) {
        await step(t, init, "the service runs in its own cgroup", async () => {
          const pid = (await init.status()).get("stopme")!.pid;
          const procs = await Deno.readTextFile(join(cgdir!, "stopme", "cgroup.procs"));
          assert.ok(procs.split("\n").includes(String(pid)), `${pid} not in ${procs}`);
        });
      }
      await step(t, init, "a crash kills its children", async () => {
        const all = [...await pids(box, "crash.kids")];
        if (cg) all.push(...await pids(box, "crash.setsid"));
        else leftovers.push(...await pids(box, "crash.setsid"));
        await gone(all, "crash's children");
        assert.equal((await init.status()).get("crash")!.state, "backoff");
      });
      await step(t, init, "a stop kills its children, even those ignoring SIGTERM", async () => {
        const all = [...await pids(box, "stopme.kids")];
        if (cg) all.push(...await pids(box, "stopme.setsid"));
        else leftovers.push(...await pids(box, "stopme.setsid"));
        assert.equal((await init.ctl("stop", "stopme")).code, 0);
        await init.waitStates(["stopme"], ["stopped"]);
        await gone(all, "stopme's children");
      });
      await step(t, init, "started again, it runs in the same group", async () => {
        assert.equal((await init.ctl("start", "stopme")).code, 0);
        const pid = (await init.waitStates(["stopme"], ["ready"])).get("stopme")!.pid;
        await box.at("stopme", "forked");
        await new Promise((r) => setTimeout(r, 300));
        const s = (await init.status()).get("stopme")!;
        assert.deepEqual([s.state, s.pid, s.restarts], ["ready", pid, 0], "it stays up");
        if (cg) {
          const procs = await Deno.readTextFile(join(cgdir!, "stopme", "cgroup.procs"));
          assert.ok(procs.split("\n").includes(String(pid)), `${pid} not in ${procs}`);
        }
        leftovers.push(...await pids(box, "stopme.setsid")); // killed when init stops
      });
    }, mode === "cgroup" ? {} : { wrap: NO_CGROUP });
    for (const p of leftovers) {
      try {
        Deno.kill(p, "SIGKILL");
      } catch { /* gone */ }
    }
    if (cgdir) {
      await t.step("init removes its cgroups when it exits", async () => {
        await assert.rejects(Deno.stat(cgdir!));
      });
    }
  });
}
