/**
 * mosquitto, per architecture, in a root of its packages (tests/pkgs/_root.ts): the
 * broker runs on loopback with the package's own configuration (its port changed to a
 * free one, so it drops to the base files' nobody as on a device), and its clients
 * pass messages through it: a live one to a waiting subscriber, a retained one to a
 * later subscriber, both through the shared libmosquitto.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readPackageMeta } from "../../lib/ice-pkg/package.ts";
import { elfInfo } from "../userland/_build.ts";
import { buildReal, packageIn } from "../rootfs/_real.ts";
import { BOARDS, makeRoot, run, SCRATCH } from "./_root.ts";
import { freePort, waitForPort } from "../_net.ts";

const PACKAGES = ["musl", "base-files", "mosquitto"];
const dec = new TextDecoder();

for (const b of BOARDS) {
  Deno.test(`${b.arch}: mosquitto passes messages from mosquitto_pub to mosquitto_sub`, async (t) => {
    const res = await buildReal(PACKAGES.map((p) => `pkg:${p}`), b.board);
    const files = PACKAGES.map((p) => packageIn(res.get(`pkg:${p}`)!.out!));
    const dir = await Deno.makeTempDir({ prefix: `icenet-mosquitto-${b.arch}-` });
    let broker: Deno.ChildProcess | undefined;
    try {
      const root = await makeRoot(b, files, dir);
      const port = freePort();
      const shipped = await Deno.readTextFile(join(root.tree, "etc/mosquitto/mosquitto.conf"));
      assert.match(shipped, /^listener 1883 127\.0\.0\.1$/m);
      await Deno.writeTextFile(
        join(root.work, "broker.conf"),
        shipped.replace(/^listener 1883 /m, `listener ${port} `),
      );
      const client = ["-h", "127.0.0.1", "-p", `${port}`];
      await t.step("the package depends on musl; the clients load libmosquitto", async () => {
        const meta = await readPackageMeta(files[2], { where: "mosquitto" });
        assert.deepEqual(meta.depends, ["musl"]);
        assert.ok(meta.conffiles.includes("etc/mosquitto/mosquitto.conf"));
        const elf = await elfInfo(join(root.tree, "usr/sbin/mosquitto"));
        assert.equal(elf.interp, b.loader);
        const r = await run(root.argv(["/usr/bin/mosquitto_sub", "--help"]));
        assert.match(r.out, /mosquitto_sub version 2\.0\.21 running on libmosquitto 2\.0\.21/);
      });
      await t.step("the broker starts on loopback", async () => {
        const argv = root.argv(["/usr/sbin/mosquitto", "-c", `${SCRATCH}/broker.conf`]);
        broker = new Deno.Command(argv[0], {
          args: argv.slice(1),
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        await waitForPort(port, 60_000); // the broker is up
      });
      await t.step("a published message reaches a waiting subscriber", async () => {
        const payload = `hello from ${b.arch} at ${Date.now()}`;
        const sa = root.argv([
          "/usr/bin/mosquitto_sub",
          ...client,
          "-t",
          "icenet/#",
          "-v",
          "-q",
          "1",
          "-C",
          "1",
          "-W",
          "60",
        ]);
        const sub = new Deno.Command(sa[0], {
          args: sa.slice(1),
          stdin: "null",
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        const done = sub.output();
        let finished = false;
        done.finally(() => finished = true);
        // The subscriber gets what is published after it subscribed: publish until it has one.
        const pub = root.argv(["/usr/bin/mosquitto_pub", ...client, "-q", "1", "-t"]);
        while (!finished) {
          const p = await run([...pub, "icenet/sensor", "-m", payload]);
          assert.equal(p.code, 0, p.err);
          await new Promise((ok) => setTimeout(ok, 500));
        }
        const s = await done;
        assert.equal(s.code, 0, dec.decode(s.stderr));
        assert.equal(dec.decode(s.stdout), `icenet/sensor ${payload}\n`);
      });
      await t.step("a retained message reaches a later subscriber", async () => {
        const p = await run(root.argv([
          "/usr/bin/mosquitto_pub",
          ...client,
          "-r",
          "-t",
          "icenet/state",
          "-m",
          "online",
        ]));
        assert.equal(p.code, 0, p.err);
        const s = await run(root.argv([
          "/usr/bin/mosquitto_sub",
          ...client,
          "-t",
          "icenet/state",
          "-C",
          "1",
          "-W",
          "30",
        ]));
        assert.equal(s.code, 0, s.err);
        assert.equal(s.out, "online\n");
      });
      await t.step("a client without a broker fails", async () => {
        const p = await run(root.argv([
          "/usr/bin/mosquitto_pub",
          "-h",
          "127.0.0.1",
          "-p",
          `${freePort()}`,
          "-t",
          "x",
          "-m",
          "y",
        ]));
        assert.notEqual(p.code, 0);
        assert.match(p.err, /Connection refused/);
      });
      await t.step("the broker logged its start, and no failed privilege drop", async () => {
        broker!.kill("SIGTERM");
        const out = await broker!.output();
        broker = undefined;
        const log = dec.decode(out.stderr);
        assert.match(log, /mosquitto version 2\.0\.21 starting/);
        assert.match(log, new RegExp(`Opening ipv4 listen socket on port ${port}`));
        assert.doesNotMatch(log, /Unable to drop privileges/);
      });
    } finally {
      if (broker) {
        broker.kill("SIGKILL");
        await broker.output();
      }
      await Deno.remove(dir, { recursive: true });
    }
  });
}
