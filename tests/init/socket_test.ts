/**
 * Socket activation: init binds the sockets and passes them as fds 3.. with
 * systemd's LISTEN_FDS / LISTEN_PID / LISTEN_FDNAMES, at boot or on the first
 * connection. The service is a real Python server using the passed fds.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { buildInit, freePort, Init, PYTHON, Sandbox, step, waitFor } from "./_harness.ts";

const SERVER = `import json, os, selectors, socket, sys
n = int(os.environ["LISTEN_FDS"])
names = os.environ["LISTEN_FDNAMES"].split(":")
socks = [socket.socket(fileno=3 + i) for i in range(n)]
info = {k: os.environ.get(k) for k in ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES")}
info["pid"] = os.getpid()
info["types"] = [("udp" if s.type == socket.SOCK_DGRAM else "unix" if s.family == socket.AF_UNIX else "tcp") for s in socks]
tmp = sys.argv[1] + ".tmp"
open(tmp, "w").write(json.dumps(info))
os.rename(tmp, sys.argv[1])
sel = selectors.DefaultSelector()
for s, name in zip(socks, names):
    sel.register(s, selectors.EVENT_READ, name)
while True:
    for key, _ in sel.select():
        s = key.fileobj
        if s.type == socket.SOCK_STREAM:
            c, _ = s.accept()
            c.sendall(("hello from %s\\n" % key.data).encode())
            c.close()
        else:
            data, addr = s.recvfrom(512)
`;

interface Info {
  LISTEN_FDS: string;
  LISTEN_PID: string;
  LISTEN_FDNAMES: string;
  pid: number;
  types: string[];
}

async function readAll(conn: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(256);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  conn.close();
  return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
}

async function withServer(
  keys: Record<string, string | string[]>,
  body: (init: Init, box: Sandbox, info: string) => Promise<void>,
): Promise<void> {
  await buildInit();
  const box = await Sandbox.create();
  const init = (async () => {
    await Deno.writeTextFile(join(box.dir, "bin", "server.py"), SERVER);
    const info = join(box.dir, "info.json");
    await box.service("srv", {
      command: `${PYTHON} ${join(box.dir, "bin", "server.py")} ${info}`,
      backoff: "50ms",
      ...keys,
    });
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

const readInfo = (path: string) =>
  waitFor("the server's info", async () => {
    try {
      return JSON.parse(await Deno.readTextFile(path)) as Info;
    } catch {
      return undefined;
    }
  });

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
