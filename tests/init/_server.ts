/**
 * A real socket-activated server for the tests: Python using the fds init passes
 * (LISTEN_FDS from 3), answering each TCP/unix connection with "hello from <name>".
 */
import { join } from "node:path";
import { PYTHON, type Sandbox, waitFor } from "./_harness.ts";

/** The server; argv[1] is where it writes what it got from init, as JSON. */
export const SERVER = `import json, os, selectors, socket, sys
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

/** What the server wrote about itself. */
export interface Info {
  LISTEN_FDS: string;
  LISTEN_PID: string;
  LISTEN_FDNAMES: string;
  pid: number;
  types: string[];
}

/** Write the server into the sandbox; returns its `command` and its info file. */
export async function server(box: Sandbox): Promise<{ command: string; info: string }> {
  const py = join(box.dir, "bin", "server.py");
  await Deno.writeTextFile(py, SERVER);
  const info = join(box.dir, "info.json");
  return { command: `${PYTHON} ${py} ${info}`, info };
}

/** Read a connection to its end. */
export async function readAll(conn: Deno.Conn): Promise<string> {
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

/** Connect to 127.0.0.1:port and read the greeting. */
export async function hello(port: number): Promise<string> {
  return await readAll(await Deno.connect({ hostname: "127.0.0.1", port }));
}

/** Wait for the server's info file. */
export const readInfo = (path: string): Promise<Info> =>
  waitFor("the server's info", async () => {
    try {
      return JSON.parse(await Deno.readTextFile(path)) as Info;
    } catch {
      return undefined;
    }
  });
