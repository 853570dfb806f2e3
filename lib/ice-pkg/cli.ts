/**
 * The `ice-pkg` command line: argument parsing, dispatch, text or JSON output, and
 * exit codes. `runCli(args, io)` returns the exit code instead of exiting, so tests
 * run it in-process.
 *
 * ```ts
 * const code = await runCli(["--root", "/mnt", "install", "foo"], { out: console.log, err: console.error });
 * ```
 */
import process from "node:process";
import { ExitCode, IcePkgError } from "./errors.ts";
import { openEnv, type Options, type Output } from "./env.ts";
import { ICE_PKG_VERSION } from "./version_info.ts";
import { ownerLine } from "./owner.ts";

/** Usage text, including the exit codes scripts can rely on. */
export const USAGE = `ice-pkg ${ICE_PKG_VERSION} — IceNet-OS package manager

usage: ice-pkg [options] <command> [args]

commands:
  update                 fetch and verify the repository indexes
  search TERM            search available packages
  info NAME              show a package
  install NAME[op VER].. install packages and their dependencies
  remove NAME..          remove packages (--force, --purge-deps)
  autoremove             remove dependencies no longer needed
  upgrade                upgrade all packages
  list                   list installed packages
  files NAME             list a package's files
  owner PATH             which package owns PATH
  verify [NAME..]        re-hash installed files; report changed and missing ones
  history                list transactions
  rollback N             undo transaction N (uses packages in the cache)
  clean                  delete cached packages that are not installed

options:
  --root DIR             operate on the system under DIR (default /)
  --repo URL|DIR         use this repository too (repeatable)
  --json                 machine-readable output on stdout
  --allow-insecure       accept unsigned, badly signed, expired or older indexes
  --allow-expired        use an expired, future-dated or overlong index (recovery,
                         or a clock not yet set: the refusal says which)
  --force                remove packages even if others depend on them
  --purge-deps           with remove: also remove dependencies no longer needed
  --lock-wait SECONDS    wait this long for another ice-pkg on the same root (default 3)
  --version, --help

exit codes:
  0 success   1 error   2 usage   3 unsatisfiable or conflicting request
  4 integrity/security refusal (signature, expiry, hash, hostile archive, reserved path)
  5 root locked by another ice-pkg   6 verify found problems
`;

interface Parsed {
  opts: Options;
  cmd: string;
  args: string[];
}

function parse(argv: string[]): Parsed {
  const opts: Options = {
    root: "/",
    json: false,
    allowInsecure: false,
    allowExpired: false,
    force: false,
    purgeDeps: false,
    repos: [],
    lockWait: 3000,
    command: argv.join(" "),
  };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new IcePkgError(`${a} needs a value`, ExitCode.Usage);
      return v;
    };
    // `deno task ice-pkg -- args` passes the "--" through.
    if (a === "--") continue;
    else if (a === "--root") opts.root = value();
    else if (a === "--repo") opts.repos.push(value());
    else if (a === "--json") opts.json = true;
    else if (a === "--allow-insecure") opts.allowInsecure = true;
    else if (a === "--allow-expired") opts.allowExpired = true;
    else if (a === "--force") opts.force = true;
    else if (a === "--purge-deps") opts.purgeDeps = true;
    else if (a === "--lock-wait") opts.lockWait = Number(value()) * 1000;
    else if (a.startsWith("--")) {
      throw new IcePkgError(`unknown option ${a} (see --help)`, ExitCode.Usage);
    } else rest.push(a);
  }
  const [cmd, ...args] = rest;
  if (!cmd) throw new IcePkgError("no command (see --help)", ExitCode.Usage);
  return { opts, cmd, args };
}

function need(args: string[], n: number, what: string): void {
  if (args.length !== n) throw new IcePkgError(`usage: ice-pkg ${what}`, ExitCode.Usage);
}

/** Run one command line; returns the exit code. */
export async function runCli(argv: string[], io: Output): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    io.out(USAGE);
    return 0;
  }
  if (argv.includes("--version")) {
    io.out(`ice-pkg ${ICE_PKG_VERSION}`);
    return 0;
  }
  try {
    const { opts, cmd, args } = parse(argv);
    const env = await openEnv(opts, io, !MUTATING.includes(cmd));
    try {
      const r = await dispatch(env, cmd, args);
      if (opts.json) io.out(JSON.stringify(r.json, null, 1));
      else for (const l of r.text) io.out(l);
      return r.code ?? 0;
    } finally {
      env.close();
    }
  } catch (e) {
    io.err(`ice-pkg: ${describe(e)}`);
    return e instanceof IcePkgError ? e.code : ExitCode.Error;
  }
}

/**
 * An error as one line: ice-pkg's own and the system's (which name the file) as
 * their message; anything else is a bug, with its stack under ICE_PKG_DEBUG=1.
 */
function describe(e: unknown): string {
  if (e instanceof IcePkgError) return e.message;
  const err = e as Error;
  // node:fs errors carry the failed system call (and name the file in their message).
  const system = typeof (e as { syscall?: unknown })?.syscall === "string";
  if (system || process.env.ICE_PKG_DEBUG !== "1") {
    return `${err.message ?? e}${system ? "" : " (internal error; ICE_PKG_DEBUG=1 shows where)"}`;
  }
  return err.stack ?? String(e);
}

/** Commands that change the root (the others still run when recovery is impossible). */
const MUTATING = ["update", "install", "remove", "autoremove", "upgrade", "rollback", "clean"];

interface Result {
  text: string[];
  json: unknown;
  code?: number;
}

async function dispatch(
  env: Awaited<ReturnType<typeof openEnv>>,
  cmd: string,
  args: string[],
): Promise<Result> {
  // Only the modules a command needs are loaded (queries avoid zod and xz code).
  const ops = MUTATING.includes(cmd) ? await import("./ops.ts") : undefined!;
  const q = MUTATING.includes(cmd) ? undefined! : await import("./queries.ts");
  const tx = (r: Awaited<ReturnType<typeof ops.install>>): Result => ({
    text: [r.summary],
    json: r,
  });
  switch (cmd) {
    case "update": {
      need(args, 0, "update");
      const r = await ops.update(env);
      return {
        text: [
          ...r.map((x) => `${x.url}: serial ${x.serial}, ${x.packages} packages`),
          ops.summary(env),
        ],
        json: r,
      };
    }
    case "install":
      return tx(await ops.install(env, args));
    case "remove":
      if (!args.length) throw new IcePkgError("usage: ice-pkg remove NAME..", ExitCode.Usage);
      return tx(await ops.remove(env, args));
    case "autoremove":
      need(args, 0, "autoremove");
      return tx(await ops.remove(env, [], true));
    case "upgrade":
      need(args, 0, "upgrade");
      return tx(await ops.upgrade(env));
    case "rollback": {
      need(args, 1, "rollback N");
      const n = Number(args[0]);
      if (!Number.isInteger(n)) {
        throw new IcePkgError(`rollback: ${args[0]}: not a transaction number`, ExitCode.Usage);
      }
      return tx(await ops.rollback(env, n));
    }
    case "clean": {
      need(args, 0, "clean");
      const r = ops.clean(env);
      return { text: [`removed ${r.length} cached packages`], json: r };
    }
    case "list": {
      const r = q.list(env);
      return {
        text: r.map((p) => `${p.name}-${p.version}${p.explicit ? "" : " (dependency)"}`),
        json: r,
      };
    }
    case "search": {
      need(args, 1, "search TERM");
      const r = q.search(env, args[0]);
      return {
        text: r.map((p) =>
          `${p.name}-${p.version}${p.installed ? " [installed]" : ""} - ${p.description}`
        ),
        json: r,
      };
    }
    case "info": {
      need(args, 1, "info NAME");
      const r = q.info(env, args[0]);
      return {
        text: Object.entries(r).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(" ") : v}`),
        json: r,
      };
    }
    case "files": {
      need(args, 1, "files NAME");
      const r = q.files(env, args[0]);
      return { text: r.map((f) => `/${f.path}`), json: r };
    }
    case "owner": {
      need(args, 1, "owner PATH");
      const r = q.owner(env, args[0]);
      return { text: [ownerLine(r.path, r.owners)], json: r };
    }
    case "verify": {
      const r = await q.verify(env, args);
      return {
        text: r.length
          ? r.map((p) => `${p.package}: /${p.path}: ${p.problem}`)
          : ["OK: all files verified"],
        json: r,
        code: r.length ? ExitCode.VerifyFailed : 0,
      };
    }
    case "history": {
      const r = q.history(env);
      return {
        text: r.map((t) =>
          `${t.id} ${t.time} ${t.command}: ` +
          t.changes.map((c) => `${c.name} ${c.oldVersion ?? "-"} -> ${c.newVersion ?? "-"}`).join(
            ", ",
          )
        ),
        json: r,
      };
    }
    default:
      throw new IcePkgError(`unknown command ${cmd} (see --help)`, ExitCode.Usage);
  }
}
