/**
 * Shared pieces of the remote cache tests: Ed25519 key files as `deno task repo
 * keygen` writes them, a cache configured from a given environment, a build that
 * records its warnings, and synthetic stages whose runs are counted.
 */
import { join } from "node:path";
import { cacheFromConfig } from "../../lib/cache/config.ts";
import type { RemoteCache } from "../../lib/cache/remote.ts";
import { generateKeyFiles } from "../../lib/ice-pkg/keys.ts";
import type { Progress } from "../../lib/progress.ts";
import { build, type BuildResult } from "../../lib/runner.ts";
import { defineStage, type Stage } from "../../lib/stage.ts";
import { Store } from "../../lib/store.ts";
import type { TestProject } from "../foundation/_project.ts";

/** A key pair written as files: `<dir>/<name>.key` (private) and `<dir>/<name>.pub`. */
export async function keyFiles(
  dir: string,
  name: string,
): Promise<{ priv: string; pub: string; keyId: string }> {
  const k = await generateKeyFiles();
  const priv = join(dir, `${name}.key`), pub = join(dir, `${name}.pub`);
  await Deno.writeTextFile(priv, k.privateFile, { mode: 0o600 });
  await Deno.writeTextFile(pub, k.publicLine);
  return { priv, pub, keyId: k.keyId };
}

/** A cache from these variables alone (not the process environment). */
export function cacheWith(
  vars: Record<string, string>,
  warnings: string[],
  flags: { cache?: string; "cache-push"?: boolean } = {},
): Promise<RemoteCache | undefined> {
  return cacheFromConfig(flags, (m) => warnings.push(m), { get: (n) => vars[n] });
}

/** Progress that keeps every message (warnings included). */
export class RecordingProgress implements Progress {
  messages: string[] = [];
  started: string[] = [];
  start(id: string, doing = "building") {
    this.started.push(`${id}: ${doing}`);
  }
  line() {}
  finish() {}
  message(text: string) {
    this.messages.push(text);
  }
  summary() {}
  /** Messages about the cache. */
  get cacheWarnings(): string[] {
    return this.messages.filter((m) => m.startsWith("cache: "));
  }
}

/** Build `targets` of a test project into `store` with `cache`. */
export async function buildWith(
  p: TestProject,
  stages: Stage[],
  targets: string[],
  store: Store,
  cache: RemoteCache | undefined,
  progress = new RecordingProgress(),
): Promise<BuildResult & { progress: RecordingProgress }> {
  const r = await build({
    root: p.root,
    board: p.board,
    stages,
    targets,
    store,
    progress,
    cache,
    jobs: 2,
  });
  return { ...r, progress };
}

/** A fresh, empty store beside the project's (a "wiped" local store). */
export function freshStore(p: TestProject, name: string): Store {
  return new Store(join(p.root, name));
}

/** How many times each synthetic stage ran. */
export type Runs = Record<string, number>;

/**
 * Two stages with every kind of entry an output can have: `tree` (a file, an
 * executable, an empty file, a read-only dir, a symlink, a sparse file with holes, a
 * file of `bigMiB` MiB) and `top`, which needs it. A different `salt` gives other keys.
 */
export function treeStages(runs: Runs, bigMiB = 0, salt = ""): Stage[] {
  return [
    defineStage({
      name: "tree",
      params: { bigMiB, salt },
      async run({ out, log }) {
        runs.tree = (runs.tree ?? 0) + 1;
        log("tree: writing every kind of entry");
        if (salt) await Deno.writeTextFile(join(out, "salt"), salt);
        await Deno.writeTextFile(join(out, "hello.txt"), "hello\n");
        await Deno.writeTextFile(join(out, "run.sh"), "#!/bin/sh\necho hi\n", { mode: 0o755 });
        await Deno.chmod(join(out, "run.sh"), 0o755);
        await Deno.writeFile(join(out, "empty"), new Uint8Array());
        await Deno.mkdir(join(out, "etc", "ro"), { recursive: true });
        await Deno.writeTextFile(join(out, "etc", "ro", "conf"), "x=1\n");
        await Deno.chmod(join(out, "etc", "ro"), 0o555);
        await Deno.symlink("../hello.txt", join(out, "etc", "link"));
        // Sparse: data at 0 and at 8 MiB, holes elsewhere, 16 MiB long.
        using f = await Deno.open(join(out, "disk.img"), { write: true, create: true });
        await f.write(new Uint8Array(65536).fill(1));
        await f.seek(8 * 1024 * 1024, Deno.SeekMode.Start);
        await f.write(new Uint8Array(65536).fill(2));
        await f.truncate(16 * 1024 * 1024);
        if (bigMiB) {
          const big = new Uint8Array(bigMiB * 1024 * 1024);
          for (let i = 0; i < big.length; i += 4096) big[i] = (i / 4096) & 0xff;
          await Deno.writeFile(join(out, "big.bin"), big);
        }
      },
    }),
    defineStage({
      name: "top",
      needs: ["tree"],
      async run({ out, deps }) {
        runs.top = (runs.top ?? 0) + 1;
        const text = await Deno.readTextFile(join(deps.tree, "hello.txt"));
        await Deno.writeTextFile(join(out, "data"), text.toUpperCase());
      },
    }),
  ];
}

/** Every entry's bytes and mode under a tree (for bit-for-bit comparisons). */
export async function treeDigest(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const { sha256 } = await import("../../lib/hash.ts");
  const walk = (rel: string) => {
    for (
      const e of [...Deno.readDirSync(join(dir, rel))].sort((a, b) => a.name < b.name ? -1 : 1)
    ) {
      const path = rel ? `${rel}/${e.name}` : e.name;
      const st = Deno.lstatSync(join(dir, path));
      if (st.isSymlink) out[path] = `-> ${Deno.readLinkSync(join(dir, path))}`;
      else if (st.isDirectory) {
        out[path] = `dir ${(st.mode! & 0o7777).toString(8)}`;
        walk(path);
      } else {
        out[path] = `${(st.mode! & 0o7777).toString(8)} ${
          sha256(Deno.readFileSync(join(dir, path)))
        }`;
      }
    }
  };
  walk("");
  return out;
}
