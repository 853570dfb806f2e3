/**
 * Reload with changed `listen` lines while the service runs: the sockets init passes
 * at the next start are those of the new file, index for index with their names
 * (issue 16, case 1: two lines down to one crashed the service with SIGSEGV on every
 * start; one line up to two never bound the new one).
 */
import assert from "node:assert/strict";
import { freePort, type Init, type Sandbox, step, waitFor, withInit } from "./_harness.ts";
import { hello, readAll, readInfo, server } from "./_server.ts";

/** Restart srv and wait for the new process's info (the old file is removed first). */
async function restart(init: Init, info: string): Promise<void> {
  const old = (await init.status()).get("srv")!.pid;
  await Deno.remove(info).catch(() => {});
  const r = await init.ctl("restart", "srv");
  assert.equal(r.code, 0, r.out + r.err);
  await waitFor("srv ready with a new pid", async () => {
    const s = (await init.status()).get("srv")!;
    return s.state === "ready" && s.pid !== old;
  });
}

async function refused(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return false;
  } catch (e) {
    return e instanceof Deno.errors.ConnectionRefused;
  }
}

/** Start srv with `first` listen lines, then run `body` (it may rewrite the file). */
async function withListen(
  first: string[],
  body: (init: Init, write: (listen: string[]) => Promise<void>, info: string) => Promise<void>,
): Promise<void> {
  let command = "", info = "", box!: Sandbox;
  const write = (listen: string[]) => box.service("srv", { command, listen, backoff: "50ms" });
  await withInit(async (bx) => {
    box = bx;
    ({ command, info } = await server(box));
    await write(first);
  }, async (init) => {
    await init.waitStates(["srv"], ["ready"]);
    await body(init, write, info);
  });
}

Deno.test("icenet-init reload: two listen lines down to one on a new port", async (t) => {
  const [a, b, c] = [freePort(), freePort(), freePort()];
  await withListen(
    [`tcp 127.0.0.1:${a} name=a`, `tcp 127.0.0.1:${b} name=b`],
    async (init, write, info) => {
      await step(t, init, "two sockets at first", async () => {
        assert.equal((await readInfo(info)).LISTEN_FDNAMES, "a:b");
        assert.equal(await hello(a), "hello from a\n");
        assert.equal(await hello(b), "hello from b\n");
      });
      await step(
        t,
        init,
        "after reload and restart: one socket, its name, the old ports closed",
        async () => {
          await write([`tcp 127.0.0.1:${c} name=c`]);
          assert.equal((await init.ctl("reload")).code, 0);
          await restart(init, info);
          const i = await readInfo(info);
          assert.equal(i.LISTEN_FDS, "1");
          assert.equal(i.LISTEN_FDNAMES, "c");
          assert.equal(await hello(c), "hello from c\n");
          assert.ok(await refused(a), `port ${a} of a dropped line still accepts`);
          assert.ok(await refused(b), `port ${b} of a dropped line still accepts`);
          await new Promise((r) => setTimeout(r, 300));
          const s = (await init.status()).get("srv")!;
          assert.equal(s.state, "ready");
          assert.equal(s.last, "signal:15", "the only exit was the restart's SIGTERM");
          assert.equal(s.restarts, 0);
        },
      );
    },
  );
});

Deno.test("icenet-init reload: one listen line up to two, bound at reload", async (t) => {
  const [c, d] = [freePort(), freePort()];
  await withListen([`tcp 127.0.0.1:${c} name=c`], async (init, write, info) => {
    assert.equal((await readInfo(info)).LISTEN_FDNAMES, "c");
    await step(t, init, "the new port is bound at reload, the kept one renamed", async () => {
      await write([`tcp 127.0.0.1:${d} name=d`, `tcp 127.0.0.1:${c} name=c2`]);
      assert.equal((await init.ctl("reload")).code, 0);
      // Bound by init at once: a connection waits in the backlog for the next start.
      const early = await Deno.connect({ hostname: "127.0.0.1", port: d });
      await restart(init, info);
      const i = await readInfo(info);
      assert.equal(i.LISTEN_FDS, "2");
      assert.equal(i.LISTEN_FDNAMES, "d:c2");
      assert.deepEqual(i.types, ["tcp", "tcp"]);
      assert.equal(await readAll(early), "hello from d\n");
      assert.equal(await hello(c), "hello from c2\n");
      assert.equal(await hello(d), "hello from d\n");
    });
  });
});
