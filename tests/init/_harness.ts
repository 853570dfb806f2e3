/**
 * Test harness for icenet-init: builds the real binary (host compiler, `make -C init`),
 * writes service files and shell scripts into a temporary directory, runs init in
 * `--supervise` mode (or as PID 1 inside `unshare --fork --pid --mount-proc`) and talks
 * to it through the real icenetctl.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** The project root. */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The host build of icenet-init. */
export const INIT = join(ROOT, "init/build/icenet-init");

let built: Promise<void> | undefined;

/** Build init with the host compiler, once per test process. */
export function buildInit(): Promise<void> {
  built ??= (async () => {
    const r = await new Deno.Command("make", { args: ["-s", "-C", join(ROOT, "init")] })
      .output();
    if (!r.success) throw new Error(`make -C init failed:\n${new TextDecoder().decode(r.stderr)}`);
  })();
  return built;
}

/** One line of `icenetctl status`. */
export interface Status {
  name: string;
  state: string;
  pid: number;
  upMs: number;
  restarts: number;
  last: string;
  startMs: number;
  readyMs: number;
  reason: string;
}

const STATUS_RE =
  /^(\S+) (\S+) pid=(\d+) up=(\d+)ms restarts=(\d+) last=(\S+) start=(-?\d+)ms ready=(-?\d+)ms(?: reason="(.*)")?$/;

/** Parse `icenetctl status` output into a map by service name. */
export function parseStatus(text: string): Map<string, Status> {
  const m = new Map<string, Status>();
  for (const line of text.split("\n")) {
    if (!line) continue;
    const r = line.match(STATUS_RE);
    if (!r) throw new Error(`bad status line: ${line}`);
    m.set(r[1], {
      name: r[1],
      state: r[2],
      pid: +r[3],
      upMs: +r[4],
      restarts: +r[5],
      last: r[6],
      startMs: +r[7],
      readyMs: +r[8],
      reason: r[9] ?? "",
    });
  }
  return m;
}

/** Poll `fn` every `every` ms until it returns a truthy value; throw after `ms`. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  ms = 10000,
  every = 20,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end) {
      throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${last}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, every));
  }
}

/** Events written by the scripts: "<ns since epoch> <name> <event>" lines. */
export interface Event {
  t: number;
  name: string;
  event: string;
}

/** A scratch directory with services/, log/, run/ and an events file. */
export class Sandbox {
  constructor(readonly dir: string) {}

  /** Make a fresh sandbox under the system temp dir (short paths: unix sockets). */
  static async create(): Promise<Sandbox> {
    const dir = await Deno.makeTempDir({ prefix: "icenet-init-" });
    for (const d of ["services", "log", "run", "bin"]) await Deno.mkdir(join(dir, d));
    return new Sandbox(dir);
  }

  get services(): string {
    return join(this.dir, "services");
  }
  get logDir(): string {
    return join(this.dir, "log");
  }
  get control(): string {
    return join(this.dir, "run", "control");
  }
  get eventsFile(): string {
    return join(this.dir, "events");
  }

  /** Write /services/<name> from key = value pairs (arrays repeat the key). */
  async service(name: string, keys: Record<string, string | string[]>): Promise<void> {
    const lines: string[] = [];
    for (const [k, v] of Object.entries(keys)) {
      for (const one of Array.isArray(v) ? v : [v]) lines.push(`${k} = ${one}`);
    }
    // Written under a dot name (init skips those) and renamed: init never reads half a file.
    const tmp = join(this.services, `.${name}.tmp`);
    await Deno.writeTextFile(tmp, lines.join("\n") + "\n");
    await Deno.rename(tmp, join(this.services, name));
  }

  /**
   * Write an executable /bin/sh script; `ev <name> <event>` inside it appends a
   * timestamped line to the events file. Returns its path.
   */
  async script(name: string, body: string): Promise<string> {
    const path = join(this.dir, "bin", name);
    const text =
      `#!/bin/sh\nev() { echo "$(date +%s%N) $1 $2" >> '${this.eventsFile}'; }\n${body}\n`;
    await Deno.writeTextFile(path, text, { mode: 0o755 });
    return path;
  }

  /** The boot gate's config file (`--boot-conf`): <dir>/boot.conf. */
  get bootConf(): string {
    return join(this.dir, "boot.conf");
  }

  /** Write <dir>/boot.conf from lines. */
  async writeBootConf(lines: string[]): Promise<void> {
    await Deno.writeTextFile(this.bootConf, lines.join("\n") + "\n");
  }

  /** The events written so far, in file order. */
  async events(): Promise<Event[]> {
    let text = "";
    try {
      text = await Deno.readTextFile(this.eventsFile);
    } catch {
      return [];
    }
    return text.split("\n").filter((l) => l).map((l) => {
      const [t, name, event] = l.split(" ");
      return { t: Number(BigInt(t) / 1000n) / 1000, name, event };
    });
  }

  /** Time (ms since the epoch) of the first event `name event`, waiting up to 10 s for it. */
  async at(name: string, event: string): Promise<number> {
    const e = await waitFor(
      `event "${name} ${event}" in ${this.eventsFile}`,
      async () => (await this.events()).find((e) => e.name === name && e.event === event),
    );
    return e.t;
  }

  /**
   * Start init on this sandbox (`binary`: another build, e.g. the static one; `wrap`: a
   * command prefix that ends by exec'ing init, e.g. to give it an inherited fd; `args`:
   * more options for init).
   */
  start(opts: { pid1?: boolean; binary?: string; wrap?: string[]; args?: string[] } = {}): Init {
    const bin = opts.binary ?? INIT;
    const args = [
      "--supervise",
      this.services,
      "--log-dir",
      this.logDir,
      "--run-dir",
      join(this.dir, "run"),
      ...(opts.args ?? []),
    ];
    const [prog, ...rest] = [
      ...(opts.wrap ?? []),
      ...(opts.pid1 ? ["unshare", "--fork", "--pid", "--mount-proc"] : []),
      bin,
      ...args,
    ];
    const cmd = new Deno.Command(prog, { args: rest, stdout: "piped", stderr: "piped" });
    return new Init(this, cmd.spawn(), !!opts.pid1);
  }

  async remove(): Promise<void> {
    await Deno.remove(this.dir, { recursive: true });
  }
}

/** A running icenet-init. Its output is collected all along (so its pipe never fills). */
export class Init {
  #out = "";
  #done: Promise<Deno.CommandStatus>;
  #exited = false;

  constructor(readonly box: Sandbox, readonly child: Deno.ChildProcess, readonly pid1: boolean) {
    const collect = async (s: ReadableStream<Uint8Array>) => {
      const d = new TextDecoder();
      for await (const c of s) this.#out += d.decode(c, { stream: true });
    };
    const a = collect(child.stdout), b = collect(child.stderr);
    this.#done = (async () => {
      const st = await child.status;
      this.#exited = true;
      await Promise.all([a, b]);
      return st;
    })();
  }

  /** Everything init printed so far. */
  get output(): string {
    return this.#out;
  }

  /** Host pid of init itself (inside unshare: unshare's child). */
  async initPid(): Promise<number> {
    if (!this.pid1) return this.child.pid;
    return await waitFor("init's pid", async () => {
      const kids = await Deno.readTextFile(
        `/proc/${this.child.pid}/task/${this.child.pid}/children`,
      );
      return Number(kids.trim().split(" ")[0]) || 0;
    });
  }

  /** Run icenetctl; returns exit code and output. Waits (5 s) for the socket to appear. */
  async ctl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    const d = new TextDecoder();
    for (let tries = 0;; tries++) {
      const r = await new Deno.Command(INIT, {
        args: ["ctl", "-s", this.box.control, ...args],
      }).output();
      const res = { code: r.code, out: d.decode(r.stdout), err: d.decode(r.stderr) };
      if (!res.err.includes("unable to connect") || tries === 250 || this.#exited) return res;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** `icenetctl status` parsed. */
  async status(): Promise<Map<string, Status>> {
    const r = await this.ctl("status");
    if (r.code !== 0) throw new Error(`icenetctl status: ${r.code} ${r.out}${r.err}`);
    return parseStatus(r.out);
  }

  /** Wait until every named service is in one of `states`. */
  waitStates(names: string[], states: string[], ms = 10000): Promise<Map<string, Status>> {
    return waitFor(`${names.join(", ")} in ${states.join("|")}`, async () => {
      const st = await this.status();
      return names.every((n) => states.includes(st.get(n)?.state ?? "")) ? st : undefined;
    }, ms);
  }

  /** Send a signal to init. */
  async kill(sig: Deno.Signal): Promise<void> {
    Deno.kill(await this.initPid(), sig);
  }

  /** Wait for exit (the process status and output). */
  wait(): Promise<Deno.CommandStatus> {
    return this.#done;
  }

  /** Stop init (SIGTERM) and wait for it, whatever state it is in. */
  async stop(): Promise<Deno.CommandStatus> {
    if (this.#exited) return await this.wait();
    try {
      await this.kill("SIGTERM");
    } catch { /* already gone */ }
    return await this.wait();
  }
}

/** VmRSS of a process in kB. */
export async function rssKb(pid: number): Promise<number> {
  const s = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(s.match(/VmRSS:\s+(\d+) kB/)![1]);
}

/** Children of a process that are zombies (state Z). */
export async function zombieChildren(pid: number): Promise<number[]> {
  const zs: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${e.name}/stat`);
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (rest[0] === "Z" && Number(rest[1]) === pid) zs.push(Number(e.name));
    } catch { /* exited meanwhile */ }
  }
  return zs;
}

/** A free TCP port on 127.0.0.1 (bound by the OS, then released). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Python, used by the services that speak sockets (accept, sd_notify). */
export const PYTHON = "/usr/bin/python3";

/** t.step that prints init's output when the step fails (a failed step does not throw). */
export async function step(
  t: Deno.TestContext,
  init: Init,
  name: string,
  fn: () => Promise<void> | void,
): Promise<void> {
  await t.step(name, async () => {
    try {
      await fn();
    } catch (e) {
      console.error(`--- icenet-init output (step "${name}") ---\n${init.output}`);
      throw e;
    }
  });
}

/** A process exists and is not a zombie. */
export async function running(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/**
 * Make a sandbox, let `setup` write services into it, start init (`opts` as in
 * Sandbox.start), run `body`; init's output is printed if anything throws. Init is
 * stopped and the sandbox removed in any case.
 */
export async function withInit(
  setup: (box: Sandbox) => Promise<void>,
  body: (init: Init, box: Sandbox) => Promise<void>,
  opts: {
    pid1?: boolean;
    wrap?: string[] | ((box: Sandbox) => string[]);
    args?: string[] | ((box: Sandbox) => string[]);
  } = {},
): Promise<void> {
  await buildInit();
  const box = await Sandbox.create();
  let init: Init | undefined;
  try {
    await setup(box);
    const of = (v?: string[] | ((box: Sandbox) => string[])) =>
      typeof v === "function" ? v(box) : v;
    init = box.start({ ...opts, wrap: of(opts.wrap), args: of(opts.args) });
    await body(init, box);
  } catch (e) {
    if (init) console.error(`--- icenet-init output ---\n${init.output}`);
    throw e;
  } finally {
    await init?.stop();
    await box.remove();
  }
}
