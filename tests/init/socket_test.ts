/**
 * Socket activation: init binds the sockets and passes them as fds 3.. with
 * systemd's LISTEN_FDS / LISTEN_PID / LISTEN_FDNAMES, at boot or on the first
 * connection. The service is a real Python server using the passed fds.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildInit, freePort, Init, PYTHON, Sandbox, step, waitFor } from "./_harness.ts";
import { readAll, readInfo, server } from "./_server.ts";

async function withServer(
  keys: Record<string, string | string[]>,
  body: (init: Init, box: Sandbox, info: string) => Promise<void>,
): Promise<void> {
  await buildInit();
  const box = await Sandbox.create();
  const init = (async () => {
    const { command, info } = await server(box);
    await box.service("srv", { command, backoff: "50ms", ...keys });
    return { init: box.start(), info };
  })();
  const { init: i, info } = await init;
  try {
    await body(i, box, info);
  } catch (e) {
    console.error(`--- icenet-init output ---\n${i.output}`);
    throw e;
  } finally {
    await i.stop();
    await box.remove();
  }
}

Deno.test("icenet-init passes listening sockets with LISTEN_* at boot", async (t) => {
  const port = freePort();
  let unixPath = "";
  await withServer({
    listen: [
      `tcp 127.0.0.1:${port} name=web`,
      `unix /tmp/icenet-init-test-${port}.sock mode=0660 name=ctl`,
      `udp 127.0.0.1:${port}`,
    ],
  }, async (init, _box, infoPath) => {
    unixPath = `/tmp/icenet-init-test-${port}.sock`;
    const st = await init.waitStates(["srv"], ["ready"]);
    const info = await readInfo(infoPath);
    await step(t, init, "LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES follow systemd", () => {
      assert.equal(info.LISTEN_FDS, "3");
      assert.equal(info.LISTEN_PID, String(info.pid));
      assert.equal(info.pid, st.get("srv")!.pid);
      assert.equal(info.LISTEN_FDNAMES, "web:ctl:srv");
      assert.deepEqual(info.types, ["tcp", "unix", "udp"]);
    });
    await step(t, init, "the TCP socket accepts a connection", async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      assert.equal(await readAll(conn), "hello from web\n");
    });
    await step(t, init, "the unix socket has its mode and accepts a connection", async () => {
      assert.equal((await Deno.stat(unixPath)).mode! & 0o777, 0o660);
      const conn = await Deno.connect({ transport: "unix", path: unixPath });
      assert.equal(await readAll(conn), "hello from ctl\n");
    });
    await step(t, init, "the socket survives a crash of the service", async () => {
      Deno.kill(info.pid, "SIGKILL");
      await waitFor("a new server", async () => {
        const s = (await init.status()).get("srv")!;
        return s.state === "ready" && s.pid !== info.pid;
      });
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      assert.equal(await readAll(conn), "hello from web\n");
    });
  });
  await Deno.remove(unixPath).catch(() => {});
});

Deno.test("icenet-init starts a socket-activated service on the first connection", async (t) => {
  const port = freePort();
  await withServer({
    listen: `tcp 127.0.0.1:${port} name=web`,
    activate: "connect",
  }, async (init, box, infoPath) => {
    await box.service("client", { command: "/bin/sleep 100", depends: "srv" });
    assert.equal((await init.ctl("reload")).code, 0);
    await step(t, init, "nothing runs before a connection, dependents start", async () => {
      const st = await init.waitStates(["client"], ["ready"]);
      assert.equal(st.get("srv")!.state, "stopped");
      assert.equal(st.get("srv")!.pid, 0);
      await assert.rejects(Deno.stat(infoPath));
    });
    await step(t, init, "a connection starts it and is served", async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      assert.equal(await readAll(conn), "hello from web\n");
      const info = await readInfo(infoPath);
      assert.equal(info.LISTEN_FDS, "1");
      assert.equal(info.LISTEN_FDNAMES, "web");
      assert.equal(info.LISTEN_PID, String(info.pid));
      const st = await init.waitStates(["srv"], ["ready"]);
      assert.equal(st.get("srv")!.pid, info.pid);
    });
    await step(t, init, "after it exits the next connection starts it again", async () => {
      const old = (await readInfo(infoPath)).pid;
      await Deno.remove(infoPath);
      Deno.kill(old, "SIGTERM");
      await init.waitStates(["srv"], ["stopped"]);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      assert.equal(await readAll(conn), "hello from web\n");
      assert.notEqual((await readInfo(infoPath)).pid, old);
    });
  });
});

/** Start lines ("srv: started, pid N") in init's output. */
const starts = (out: string) => out.split("srv: started, pid").length - 1;

Deno.test("icenet-init stops a socket-activated service that exits without accepting", async (t) => {
  const rows: { name: string; keys: Record<string, string>; max: number }[] = [
    { name: "default limit: 20 starts in 2 s", keys: {}, max: 20 },
    { name: "trigger_limit = 3/10s", keys: { trigger_limit: "3/10s" }, max: 3 },
  ];
  for (const row of rows) {
    const port = freePort();
    await withServer({
      // exits 0 at once: the connection stays pending and would trigger it again
      command: "/bin/true",
      listen: `tcp 127.0.0.1:${port}`,
      activate: "connect",
      ...row.keys,
    }, async (init) => {
      await init.waitStates(["srv"], ["stopped"]);
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await step(t, init, `${row.name}: failed with the reason in status`, async () => {
          const st = await init.waitStates(["srv"], ["failed"], 5000);
          const srv = st.get("srv")!;
          assert.match(
            srv.reason,
            new RegExp(`^trigger limit hit: ${row.max} starts within \\d+ ms \\(trigger_limit\\)$`),
          );
          assert.equal(srv.restarts, row.max - 1, "each start after the first is a restart");
        });
        await step(t, init, `${row.name}: no start after that`, async () => {
          const n = starts(init.output);
          assert.equal(n, row.max);
          await new Promise((r) => setTimeout(r, 2500));
          assert.equal(starts(init.output), n);
          assert.equal((await init.status()).get("srv")!.state, "failed");
        });
        await step(t, init, `${row.name}: icenetctl start arms it again`, async () => {
          assert.equal((await init.ctl("start", "srv")).code, 0);
          await waitFor("more starts", () => starts(init.output) > row.max);
          await init.waitStates(["srv"], ["failed"], 5000);
        });
      } finally {
        conn.close();
      }
    });
  }
});

Deno.test("icenet-init replaces a stale unix socket but never another file", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "icenet-init-unix-" });
  const file = join(dir, "data"), stale = join(dir, "stale.sock");
  await Deno.writeTextFile(file, "precious\n");
  // A socket file whose listener is gone, as a crashed daemon leaves it.
  const py = `import socket; socket.socket(socket.AF_UNIX).bind(${JSON.stringify(stale)})`;
  assert.ok((await new Deno.Command(PYTHON, { args: ["-c", py] }).output()).success);
  assert.ok((await Deno.lstat(stale)).isSocket, "the stale socket file exists");
  try {
    await withServer({ listen: [`unix ${stale} name=s`, `unix ${file} name=f`] }, async (init) => {
      const st = await init.waitStates(["srv"], ["failed"]);
      await step(t, init, "the service fails with the reason", () => {
        assert.equal(st.get("srv")!.reason, `unable to bind ${file}: File exists`);
        assert.match(init.output, new RegExp(`error: srv: unable to bind ${file}: File exists`));
      });
      await step(t, init, "the file is untouched", async () => {
        assert.equal(await Deno.readTextFile(file), "precious\n");
      });
    });
    await withServer({ listen: `unix ${stale} name=s` }, async (init) => {
      await step(t, init, "a stale socket is replaced", async () => {
        await init.waitStates(["srv"], ["ready"]);
        const conn = await Deno.connect({ transport: "unix", path: stale });
        assert.equal(await readAll(conn), "hello from s\n");
      });
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
