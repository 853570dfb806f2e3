/**
 * sd_notify readiness is accepted only from the service's main process, as systemd's
 * default NotifyAccess=main (issue 16, case 3: any local user could send READY=1 to the
 * NOTIFY_SOCKET and move a service from starting to ready). Init checks the sender's
 * pid from SCM_CREDENTIALS.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { PYTHON, step, waitFor, withInit } from "./_harness.ts";

/** Sends READY=1 to NOTIFY_SOCKET (argv[1]); with "fork", from a child process. */
const SEND = `import os, socket, sys
def send():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.sendto(b"READY=1\\n", sys.argv[1])
if len(sys.argv) > 2 and sys.argv[2] == "fork":
    pid = os.fork()
    if pid == 0:
        send()
        os._exit(0)
    os.waitpid(pid, 0)
else:
    send()
`;

/**
 * The service: once `<go>.child` exists, a child process says READY=1 (then
 * `<go>.forked` appears); once `go` exists, the main process says it.
 */
const SERVICE = `import os, socket, subprocess, sys, time
def wait(path):
    while not os.path.exists(path):
        time.sleep(0.02)
wait(sys.argv[2] + ".child")
subprocess.run([sys.executable, sys.argv[1], os.environ["NOTIFY_SOCKET"], "fork"], check=True)
open(sys.argv[2] + ".forked", "w").close()
wait(sys.argv[2])
socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b"READY=1", os.environ["NOTIFY_SOCKET"])
time.sleep(100)
`;

Deno.test("icenet-init accepts READY=1 only from the service's main process", async (t) => {
  let send = "", go = "";
  await withInit(async (box) => {
    // nobody must reach the sender script and the notify socket's directory
    await Deno.chmod(box.dir, 0o755);
    await Deno.chmod(join(box.dir, "bin"), 0o755);
    send = join(box.dir, "bin", "send.py");
    go = join(box.dir, "go");
    await Deno.writeTextFile(send, SEND, { mode: 0o755 });
    await Deno.writeTextFile(join(box.dir, "bin", "svc.py"), SERVICE);
    await box.service("sd", {
      command: `${PYTHON} ${join(box.dir, "bin", "svc.py")} ${send} ${go}`,
      ready: "sd-notify",
    });
  }, async (init, box) => {
    const path = join(box.dir, "run", "notify", "sd");
    const state = async () => (await init.status()).get("sd")!.state;
    await init.waitStates(["sd"], ["starting"]);
    await step(t, init, "another user is refused", async () => {
      const r = await new Deno.Command("setpriv", {
        args: ["--reuid=65534", "--regid=65534", "--clear-groups", PYTHON, send, path],
      }).output();
      assert.equal(r.code, 0, `nobody could not send: ${new TextDecoder().decode(r.stderr)}`);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await state(), "starting");
    });
    await step(t, init, "root outside the service is refused", async () => {
      const r = await new Deno.Command(PYTHON, { args: [send, path] }).output();
      assert.equal(r.code, 0);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await state(), "starting");
      assert.match(
        init.output,
        /warning: sd: ignoring READY=1 from pid \d+, not its main process \d+/,
      );
    });
    await step(t, init, "a child of the service is not its main process", async () => {
      await Deno.writeTextFile(go + ".child", "");
      await waitFor("the child's message", () => Deno.stat(go + ".forked"));
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await state(), "starting");
    });
    await step(t, init, "the main process makes it ready", async () => {
      await Deno.writeTextFile(go, "");
      await init.waitStates(["sd"], ["ready"]);
    });
  });
});
