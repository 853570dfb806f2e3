/**
 * `--sandbox`: run a stage in a bubblewrap sandbox (like Bazel's), so a stage that
 * reads an undeclared file fails instead of silently caching a wrong result.
 *
 * The stage's run() executes in a child Deno process (lib/sandbox_child.ts) that
 * sees only: the host's /usr read-only (the toolchain; Debian is merged-/usr) and a
 * few files of /etc the tools need; the build system's own code (lib/, tasks/,
 * boards/, recipes, deno.json) read-only; the stage's declared input files, its
 * sources and its dependencies' outputs read-only; its scratch and output
 * directories read-write; a private /tmp, /proc and /dev. No network.
 */
import { dirname, join } from "node:path";
import type { Board } from "./board.ts";
import type { Param } from "./stage.ts";

/** What the sandboxed child needs to rebuild the stage context. */
export interface SandboxRequest {
  /** Module that defines the stage (its first code file). */
  module: string;
  stage: string;
  board: Board;
  root: string;
  deps: Record<string, string>;
  sources: Record<string, string>;
  inputs: Record<string, string>;
  params: Record<string, Param>;
  out: string;
  work: string;
  jobs: number;
  env: Record<string, string>;
  /** Where the child writes `{ info }` when run() succeeds. */
  result: string;
  /**
   * ICENET_* settings of the parent (store, repository key, image), applied in the
   * child before it loads the stage module, so it builds the same stage objects.
   * Stage commands still get only `env`.
   */
  loaderEnv: Record<string, string>;
}

/** Files of /etc that compilers and shells look up. */
const ETC = [
  "alternatives",
  "ld.so.cache",
  "ld.so.conf",
  "ld.so.conf.d",
  "passwd",
  "group",
  "nsswitch.conf",
];

/** The build system's own code, visible to every stage. */
const CODE = ["lib", "tasks", "deno.json", "deno.lock"];
const CODE_ROOT = dirname(dirname(new URL(import.meta.url).pathname));

/** What a stage may see: read-only and read-write paths, and the child's command. */
export interface Mounts {
  readOnly: string[];
  readWrite: string[];
  command(reqFile: string): string[];
}

/** The paths a request may see (shared by bubblewrap and container runs). */
export function sandboxMounts(req: SandboxRequest, denoDir: string): Mounts {
  const ro: string[] = [];
  const deno = Deno.realPathSync(Deno.execPath());
  ro.push(deno, denoDir); // the runtime and its module cache
  // The build system's code, and the project's (the same tree, except in tests that
  // build a copy of the checkout).
  for (const base of new Set([CODE_ROOT, req.root])) {
    for (const c of CODE) if (exists(join(base, c))) ro.push(join(base, c));
  }
  ro.push(join(req.root, "boards"), ...recipeFiles(req.root), ...imageFiles(req));
  ro.push(...Object.values(req.inputs), ...Object.values(req.sources), ...Object.values(req.deps));
  ro.push(req.module);
  return {
    readOnly: [...new Set(ro)],
    // The build's own directory (scratch, output, request and result files).
    readWrite: [dirname(req.out)],
    command: (reqFile) => [
      deno,
      "run",
      "-A",
      "--cached-only",
      "--quiet",
      `--config=${join(CODE_ROOT, "deno.json")}`,
      join(CODE_ROOT, "lib", "sandbox_child.ts"),
      reqFile,
    ],
  };
}

/** The bwrap command line for a request (written to `reqFile`). */
export function bwrapArgs(req: SandboxRequest, reqFile: string, denoDir: string): string[] {
  const a = [
    "--unshare-all",
    "--die-with-parent",
    "--new-session",
    "--ro-bind",
    "/usr",
    "/usr",
    ...["bin", "sbin", "lib", "lib64"].flatMap((d) => ["--symlink", `usr/${d}`, `/${d}`]),
    "--proc",
    "/proc",
    "--dev",
    "/dev",
    "--tmpfs",
    "/tmp",
  ];
  for (const e of ETC) if (exists(`/etc/${e}`)) a.push("--ro-bind", `/etc/${e}`, `/etc/${e}`);
  const m = sandboxMounts(req, denoDir);
  for (const p of m.readOnly) if (!p.startsWith("/usr/")) a.push("--ro-bind", p, p);
  for (const p of m.readWrite) a.push("--bind", p, p);
  a.push("--chdir", req.work, "--setenv", "DENO_DIR", denoDir, "--setenv", "NO_COLOR", "1");
  return [...a, "--", ...m.command(reqFile)];
}

/**
 * Image definitions (the rootfs and image stages are made from one: images/*.yaml, or
 * the file ICENET_IMAGE names). Their content is in the stage's params, so in the key.
 */
function imageFiles(req: SandboxRequest): string[] {
  const out: string[] = [];
  if (exists(join(req.root, "images"))) out.push(join(req.root, "images"));
  const named = req.loaderEnv.ICENET_IMAGE;
  if (named?.endsWith(".yaml")) {
    const file = named.startsWith("/") ? named : join(req.root, named);
    if (exists(file)) out.push(file);
  }
  return out;
}

/** Recipe files (the registry reads them to know the package stages). */
function recipeFiles(root: string): string[] {
  const out: string[] = [];
  try {
    for (const e of Deno.readDirSync(join(root, "pkgs"))) {
      const f = join(root, "pkgs", e.name, "recipe.yaml");
      if (exists(f)) out.push(f);
    }
  } catch { /* no recipes */ }
  return out;
}

function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** DENO_DIR of this process (where npm packages and compiled modules are cached). */
export function denoDir(): string {
  return Deno.env.get("DENO_DIR") ||
    join(Deno.env.get("XDG_CACHE_HOME") || join(Deno.env.get("HOME") ?? "/root", ".cache"), "deno");
}
