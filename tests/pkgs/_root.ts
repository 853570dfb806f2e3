/**
 * A root made of `.ice` packages for the package smoke tests, and how to run its
 * programs: bubblewrap "chroot" into it, natively on x86_64, under qemu-user (copied
 * into the root as /qemu) for aarch64 and armv7; a pseudo-terminal for the
 * full-screen ones.
 */
import { join } from "node:path";
import { unpackPackages } from "../rootfs/_real.ts";

const dec = new TextDecoder();

/** Where a root sees the test's scratch directory (`Root.work`), also its HOME. */
export const SCRATCH = "/scratch";

/** The boards, one per architecture, and the qemu-user program for foreign ones. */
export const BOARDS = [
  { board: "zima", arch: "x86_64", qemu: undefined, loader: "/lib/ld-musl-x86_64.so.1" },
  {
    board: "rpi",
    arch: "aarch64",
    qemu: "qemu-aarch64-static",
    loader: "/lib/ld-musl-aarch64.so.1",
  },
  { board: "rpi32", arch: "armv7", qemu: "qemu-arm-static", loader: "/lib/ld-musl-armhf.so.1" },
] as const;

/** A root of packages, and the command line that runs a program in it. */
export interface Root {
  tree: string;
  /** Host directory bound at SCRATCH in the root (files the test reads back). */
  work: string;
  argv(cmd: string[]): string[];
}

/** How a root's programs run besides the defaults. */
export interface RootOptions {
  /**
   * One /tmp for every program run in the root (a host directory under `dir`), not a
   * fresh tmpfs each: a daemon and a client run after it meet there (wpa_cli's
   * reply socket).
   */
  sharedTmp?: boolean;
  /**
   * A network namespace of their own (loopback only): no program under test can
   * touch the host's interfaces, e.g. a Wi-Fi daemon asked for wlan0.
   */
  unshareNet?: boolean;
}

/** Unpack `files` into a root under `dir` (with /qemu in it for a foreign architecture). */
export async function makeRoot(
  b: typeof BOARDS[number],
  files: string[],
  dir: string,
  opts: RootOptions = {},
): Promise<Root> {
  const tree = join(dir, "root"), work = join(dir, "work");
  await Deno.mkdir(tree, { recursive: true });
  await Deno.mkdir(work, { recursive: true });
  await unpackPackages(files, tree);
  if (b.qemu) {
    const which = await new Deno.Command("sh", { args: ["-c", `command -v ${b.qemu}`] }).output();
    await Deno.copyFile(dec.decode(which.stdout).trim(), join(tree, "qemu"));
    await Deno.chmod(join(tree, "qemu"), 0o755);
  }
  await Deno.mkdir(join(tree, SCRATCH.slice(1)), { recursive: true });
  const tmp = join(dir, "tmp");
  if (opts.sharedTmp) await Deno.mkdir(tmp, { recursive: true });
  return {
    tree,
    work,
    argv: (cmd) => [
      "bwrap",
      "--bind",
      tree,
      "/",
      "--bind",
      work,
      SCRATCH,
      "--dev",
      "/dev",
      "--proc",
      "/proc",
      ...(opts.sharedTmp ? ["--bind", tmp, "/tmp"] : ["--tmpfs", "/tmp"]),
      ...(opts.unshareNet ? ["--unshare-net"] : []),
      "--unshare-pid",
      "--die-with-parent",
      "--setenv",
      "TERM",
      "xterm",
      "--setenv",
      "HOME",
      SCRATCH,
      ...(b.qemu ? ["/qemu"] : []),
      ...cmd,
    ],
  };
}

/** Run `argv` (stdin: the text given, else nothing); its exit code and output. */
export async function run(argv: string[], stdin?: string) {
  const p = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = p.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const r = await p.output();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/** A program started in the background (a daemon), until `stop`. */
export interface Started {
  /** End it (SIGTERM to bubblewrap, which takes the sandbox down); its exit code and output. */
  stop(): Promise<{ code: number; out: string; err: string }>;
}

/** Start `argv` in the background, its output collected until it is stopped. */
export function start(argv: string[]): Started {
  const p = new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const done = p.output();
  return {
    async stop() {
      try {
        p.kill("SIGTERM");
      } catch { /* it has exited */ }
      const r = await done;
      return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
    },
  };
}

/** Wait until `path` exists (a daemon's socket), at most `seconds`. */
export async function waitFor(path: string, seconds: number): Promise<boolean> {
  for (let i = 0; i < seconds * 10; i++) {
    if (await Deno.lstat(path).then(() => true, () => false)) return true;
    await new Promise((ok) => setTimeout(ok, 100));
  }
  return false;
}

/**
 * Run `cmd` on a pseudo-terminal (util-linux `script`), typing `keys` after `delay`
 * seconds (the program must be up and in raw mode first); returns what it drew.
 */
export async function onTerminal(root: Root, cmd: string[], keys: string, delay: number) {
  const quoted = root.argv(cmd).map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  const feed = `sleep ${delay}; printf '${keys}'; sleep ${delay}`;
  return await run([
    "sh",
    "-c",
    `(${feed}) | script -qfec "stty cols 100 rows 30; exec ${
      quoted.replaceAll('"', '\\"')
    }" /dev/null`,
  ]);
}
