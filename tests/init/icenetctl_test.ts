/**
 * icenetctl on the edges (issue 16, case 6): a busy or refusing control socket gives a
 * message and an exit code, never death by SIGPIPE; extra arguments are refused with
 * the usage, before anything is sent.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { INIT, type Init, step, waitFor, withInit } from "./_harness.ts";

async function ctlAs(init: Init, pre: string[], ...args: string[]) {
  const [cmd, ...rest] = [...pre, INIT, "ctl", "-s", init.box.control, ...args];
  const r = await new Deno.Command(cmd, { args: rest }).output();
  const d = new TextDecoder();
  return { code: r.code, signal: r.signal, out: d.decode(r.stdout), err: d.decode(r.stderr) };
}

Deno.test("icenetctl answers clearly on a busy or refusing socket", async (t) => {
  await withInit(async (box) => {
    await box.service("web", { command: await box.script("web", "exec sleep 100") });
  }, async (init, box) => {
    await init.waitStates(["web"], ["ready"]);
    await step(t, init, "busy: every client slot held by a silent client", async () => {
      const idle: Deno.UnixConn[] = [];
      for (let i = 0; i < 8; i++) {
        idle.push(await Deno.connect({ transport: "unix", path: box.control }));
      }
      try {
        await new Promise((r) => setTimeout(r, 200)); // init accepts them all
        for (let i = 0; i < 40; i++) {
          const r = await ctlAs(init, [], "status");
          assert.equal(r.signal, null, `run ${i}: killed by ${r.signal}`);
          assert.deepEqual(
            [r.code, r.out, r.err],
            [1, "error: busy: 8 clients are connected, try again\n", ""],
            `run ${i}`,
          );
        }
      } finally {
        for (const c of idle) c.close();
      }
      assert.equal((await init.ctl("status", "web")).code, 0, "free again");
    });
    await step(t, init, "refused: another user on a socket opened to all", async () => {
      await Deno.chmod(box.dir, 0o755);
      await Deno.chmod(join(box.dir, "run"), 0o755);
      await Deno.chmod(box.control, 0o666);
      const nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
      for (let i = 0; i < 40; i++) {
        const r = await ctlAs(init, nobody, "stop", "web");
        assert.equal(r.signal, null, `run ${i}: killed by ${r.signal}`);
        assert.deepEqual(
          [r.code, r.out, r.err],
          [1, "error: permission denied: only root may control icenet-init\n", ""],
          `run ${i}`,
        );
      }
      assert.equal((await init.status()).get("web")!.state, "ready");
    });
  });
});

Deno.test("icenetctl refuses extra arguments with its usage", async (t) => {
  await withInit(async (box) => {
    await box.service("web", { command: await box.script("web", "exec sleep 100") });
    await box.service("db", { command: await box.script("db", "exec sleep 100") });
  }, async (init) => {
    const st = await init.waitStates(["web", "db"], ["ready"]);
    // poweroff last: before the fix it powered off
    for (
      const args of [
        ["stop", "web", "db"],
        ["restart", "web", "now"],
        ["start"],
        ["status", "web", "db"],
        ["reload", "now"],
        ["poweroff", "now"],
      ]
    ) {
      await step(t, init, args.join(" "), async () => {
        const r = await ctlAs(init, [], ...args);
        assert.equal(r.code, 100, `exit ${r.code}: ${r.out}${r.err}`);
        assert.equal(r.out, "");
        assert.match(r.err, new RegExp(`^icenetctl: fatal: ${args[0]}: `));
        assert.match(r.err, /\nusage: icenetctl /);
      });
    }
    await step(t, init, "nothing was done", async () => {
      const now = await init.status();
      for (const n of ["web", "db"]) {
        assert.equal(now.get(n)!.state, "ready");
        assert.equal(now.get(n)!.pid, st.get(n)!.pid);
      }
    });
  });
});

Deno.test("icenet-init never deletes a file that is not a socket at its control path", async () => {
  let file = "";
  await withInit(async (box) => {
    file = box.control;
    await Deno.writeTextFile(file, "precious\n");
    await box.service("web", { command: await box.script("web", "exec sleep 100") });
  }, async (init) => {
    await waitFor("the warning", () => init.output.includes("unable to open the control socket"));
    assert.match(init.output, /warning: unable to open the control socket .*: File exists/);
    assert.equal(await Deno.readTextFile(file), "precious\n");
  });
});
