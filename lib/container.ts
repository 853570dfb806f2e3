/**
 * `--container`: run every stage inside a pinned Debian 12 build image (Docker or
 * Podman). The image is made without any registry: debootstrap --variant=minbase
 * into a directory (with the host's apt sources, so package versions match the
 * host's), `import` it, then tasks/container/Containerfile adds the project's host
 * packages; their versions are recorded in tasks/container/packages.lock. The
 * image id enters every stage key, in place of host tool identities. Stages run with
 * the caller's uid, no network, and the same bind mounts as the bubblewrap sandbox.
 */
import { join } from "node:path";
import { $ } from "./shell.ts";
import { hostSources } from "./fetch/debian.ts";
import { sha256 } from "./hash.ts";
import { hostPackages } from "./tools.ts";
import type { SandboxRequest } from "./sandbox.ts";
import { sandboxMounts } from "./sandbox.ts";

/** A container engine and the build image to run stages in. */
export interface Container {
  engine: "docker" | "podman";
  /** Image id (sha256:...). */
  image: string;
  /** Extra environment for the engine CLI (DOCKER_HOST, CONTAINERS_CONF). */
  env: Record<string, string>;
}

const CODE_ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const CONTAINERFILE = join(CODE_ROOT, "tasks", "container", "Containerfile");
export const PACKAGES_LOCK = join(CODE_ROOT, "tasks", "container", "packages.lock");
const SUITE = "bookworm";

/** Engine CLI environment: Podman gets our containers.conf (see the file for why). */
export function engineEnv(engine: Container["engine"]): Record<string, string> {
  const env: Record<string, string> = {};
  if (engine === "podman") {
    env.CONTAINERS_CONF = join(CODE_ROOT, "tasks", "container", "containers.conf");
  }
  const host = Deno.env.get("DOCKER_HOST");
  if (engine === "docker" && host) env.DOCKER_HOST = host;
  return env;
}

async function imageId(
  engine: string,
  env: Record<string, string>,
  tag: string,
): Promise<string | undefined> {
  const r = await $`${engine} image inspect --format ${"{{.Id}}"} ${tag}`.env(env).stdout("piped")
    .stderr("null")
    .noThrow();
  return r.code === 0 ? r.stdout.trim() : undefined;
}

/** The build image's tag: a content hash of the Containerfile, package list and base image. */
function buildTag(baseId: string): string {
  const text = Deno.readTextFileSync(CONTAINERFILE) + hostPackages().join(" ") + baseId;
  return `icenet-build:${sha256(text).slice(0, 16)}`;
}

const BASE = `icenet-base:${SUITE}`;

/** The build image if the engine already has it (nothing is built). */
export async function findBuildImage(engine: Container["engine"]): Promise<Container | undefined> {
  const env = engineEnv(engine);
  const baseId = await imageId(engine, env, BASE);
  const id = baseId && await imageId(engine, env, buildTag(baseId));
  return id ? { engine, image: id, env } : undefined;
}

/**
 * Make (or reuse) the build image; returns it with its id. Tags are content
 * hashes of the Containerfile and package list, so an edit makes a new image.
 */
export async function ensureBuildImage(
  engine: Container["engine"],
  log: (l: string) => void,
): Promise<Container> {
  const env = engineEnv(engine);
  const pkgs = hostPackages();
  const base = BASE;
  if (!(await imageId(engine, env, base))) {
    const root = await Deno.makeTempDir({ prefix: "icenet-debootstrap-" });
    try {
      const mirror = hostSources().find((s) => !/security/.test(s.suites))?.uris.split(/\s+/)[0];
      if (!mirror) throw new Error("container: no Debian mirror in the host's apt sources");
      log(`container: debootstrap --variant=minbase ${SUITE}`);
      await $`debootstrap --variant=minbase ${SUITE} ${root} ${mirror}`.stdout("piped").stderr(
        "piped",
      );
      // The host's sources (with security updates), so package versions match the host's.
      await Deno.writeTextFile(join(root, "etc/apt/sources.list"), "");
      for (const e of Deno.readDirSync("/etc/apt/sources.list.d")) {
        if (e.isFile) {
          await Deno.copyFile(
            `/etc/apt/sources.list.d/${e.name}`,
            join(root, "etc/apt/sources.list.d", e.name),
          );
        }
      }
      if (await Deno.stat("/etc/apt/sources.list").catch(() => undefined)) {
        await Deno.copyFile("/etc/apt/sources.list", join(root, "etc/apt/sources.list"));
      }
      await $`tar -C ${root} --numeric-owner -c . | ${engine} import - ${base}`.env(env).stdout(
        "null",
      );
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  }
  const tag = buildTag((await imageId(engine, env, base))!);
  let id = await imageId(engine, env, tag);
  if (!id) {
    log(`container: building ${tag}`);
    const ctx = await Deno.makeTempDir({ prefix: "icenet-ctx-" });
    try {
      await Deno.copyFile(CONTAINERFILE, join(ctx, "Containerfile"));
      await $`${engine} build --network host -t ${tag} -f ${
        join(ctx, "Containerfile")
      } --build-arg ${`BASE=${base}`} --build-arg ${`PACKAGES=${pkgs.join(" ")}`} ${ctx}`
        .env(env).stdout("piped").stderr("piped");
    } finally {
      await Deno.remove(ctx, { recursive: true });
    }
    id = (await imageId(engine, env, tag))!;
    const lock = await $`${engine} run --rm --network none ${tag} cat /icenet-packages.lock`.env(
      env,
    ).text();
    await Deno.writeTextFile(PACKAGES_LOCK, `# Packages in ${tag} (${id})\n${lock}\n`);
  }
  return { engine, image: id, env };
}

/** The engine command line that runs a sandbox request inside the build image. */
export function containerArgs(
  c: Container,
  req: SandboxRequest,
  reqFile: string,
  denoDir: string,
): string[] {
  const uid = Deno.uid() ?? 0, gid = Deno.gid() ?? 0;
  const a = ["run", "--rm", "--network", "none", "--user", `${uid}:${gid}`, "--workdir", req.work];
  const m = sandboxMounts(req, denoDir);
  for (const p of m.readOnly) a.push("--volume", `${p}:${p}:ro`);
  for (const p of m.readWrite) a.push("--volume", `${p}:${p}`);
  for (
    const [k, v] of Object.entries({ ...req.env, DENO_DIR: denoDir, NO_COLOR: "1", HOME: req.work })
  ) {
    a.push("--env", `${k}=${v}`);
  }
  a.push(c.image, ...m.command(reqFile));
  return a;
}
