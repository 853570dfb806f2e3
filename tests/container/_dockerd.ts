/**
 * A private Docker daemon for tests: its own socket and exec root, and a data root
 * under the store (so the build image survives between runs), stopped by pid.
 * No Docker service runs on CI machines; this starts one and stops it again.
 */
import { join } from "node:path";
import { defaultStoreDir } from "../../lib/store.ts";

export interface Dockerd {
  host: string;
  stop(): Promise<void>;
}

export async function startDockerd(): Promise<Dockerd> {
  const run = await Deno.makeTempDir({ prefix: "icenet-dockerd-" });
  const sock = join(run, "docker.sock");
  const dataRoot = join(defaultStoreDir(), "docker");
  await Deno.mkdir(dataRoot, { recursive: true });
  // One daemon per data root: a second one would fight over containerd's database.
  const lock = await Deno.open(join(dataRoot, ".icenet-lock"), { create: true, write: true });
  await lock.lock(true);
  // The lock dies with the test process, the daemon does not: one left by a killed
  // test run (its pid file is in the data root) is stopped first.
  const pidFile = join(dataRoot, ".icenet-dockerd.pid");
  await stopStale(pidFile, dataRoot);
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      `exec dockerd "$@" > ${join(run, "dockerd.log")} 2>&1`,
      "dockerd",
      `--host=unix://${sock}`,
      `--data-root=${dataRoot}`,
      `--exec-root=${join(run, "exec")}`,
      `--pidfile=${pidFile}`,
      "--iptables=false",
      "--ip6tables=false",
      "--bridge=none",
      "--storage-driver=overlay2",
    ],
    stdout: "null",
    stderr: "null",
    stdin: "null",
  }).spawn();
  const host = `unix://${sock}`;
  for (let i = 0; i < 300; i++) {
    const r = await new Deno.Command("docker", {
      args: ["-H", host, "version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    if (r.success) break;
    if (i === 299) lock.close();
    if (i === 299) throw new Error(`dockerd did not start; see ${join(run, "dockerd.log")}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await Deno.remove(run, { recursive: true }).catch(() => {});
      lock.close();
    },
  };
}

/** Stop the daemon named by `pidFile` if it still runs on `dataRoot`. */
async function stopStale(pidFile: string, dataRoot: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(Deno.readTextFileSync(pidFile).trim());
    const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
    if (!cmdline.includes(`--data-root=${dataRoot}`)) return;
  } catch {
    return; // no pid file, or no such process
  }
  Deno.kill(pid, "SIGTERM");
  for (let i = 0; i < 200; i++) {
    try {
      Deno.statSync(`/proc/${pid}`);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  Deno.kill(pid, "SIGKILL");
}
