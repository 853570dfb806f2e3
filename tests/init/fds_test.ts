/**
 * A service gets fds 0-2, its sockets from 3 and its notify fd, nothing else: not the
 * fds init itself inherited when it started (issue 16, case 6).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { freePort, PYTHON, step, waitFor, withInit } from "./_harness.ts";

/** Writes the fds it has open above 2 to argv[1] as JSON, then says ready if asked. */
const FDS = `import json, os, sys, time
fds = []
for fd in range(3, 1024):
    try:
        os.fstat(fd)
        fds.append(fd)
    except OSError:
        pass
open(sys.argv[1] + ".tmp", "w").write(json.dumps(fds))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
if "ICENET_NOTIFY_FD" in os.environ:
    os.write(int(os.environ["ICENET_NOTIFY_FD"]), b"ready\\n")
time.sleep(100)
`;

// Init starts with fds 7 and 9 open and not close-on-exec, as a careless parent leaves them.
const LEAKY = ["sh", "-c", 'exec 7</dev/null 9>>/dev/null; exec "$@"', "sh"];

Deno.test("icenet-init passes no inherited fd to its services", async (t) => {
  const [port, port2] = [freePort(), freePort()];
  const out = (box: string, n: string) => join(box, `${n}.fds`);
  let dir = "";
  await withInit(async (box) => {
    dir = box.dir;
    const py = join(box.dir, "bin", "fds.py");
    await Deno.writeTextFile(py, FDS);
    const cmd = (n: string) => `${PYTHON} ${py} ${out(box.dir, n)}`;
    await box.service("plain", { command: cmd("plain") });
    await box.service("sock", { command: cmd("sock"), listen: `tcp 127.0.0.1:${port}` });
    await box.service("nfd", { command: cmd("nfd"), ready: "notify-fd" });
    await box.service("both", {
      command: cmd("both"),
      listen: `tcp 127.0.0.1:${port2}`,
      ready: "notify-fd",
    });
  }, async (init) => {
    await init.waitStates(["plain", "sock", "nfd", "both"], ["ready"]);
    const fds = (n: string) =>
      waitFor(`${n}'s fds`, async () => {
        try {
          return JSON.parse(await Deno.readTextFile(out(dir, n))) as number[];
        } catch {
          return undefined;
        }
      });
    await step(t, init, "init itself has the inherited fds", () => {
      const own = [...Deno.readDirSync(`/proc/${init.child.pid}/fd`)].map((e) => +e.name);
      assert.ok(own.includes(7) && own.includes(9), `init's fds: ${own}`);
    });
    await step(t, init, "a plain service gets none", async () => {
      assert.deepEqual(await fds("plain"), []);
    });
    await step(t, init, "a socket service gets its socket only", async () => {
      assert.deepEqual(await fds("sock"), [3]);
    });
    await step(t, init, "a notify-fd service gets its notify fd only", async () => {
      assert.deepEqual(await fds("nfd"), [3]);
      assert.deepEqual(await fds("both"), [3, 4]);
    });
  }, { wrap: LEAKY });
});
