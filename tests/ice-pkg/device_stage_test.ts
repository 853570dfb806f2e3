/**
 * The ice-pkg stage (the device program) builds from declared sources alone, as on a
 * fresh machine: an empty store and a DENO_DIR that holds only what `deno install`
 * puts there (the build system's own npm packages, no esbuild). Then again under
 * --sandbox, with no network: the same output, bit for bit.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { defaultDownloadDir } from "../../lib/fetch/mod.ts";
import { defaultStoreDir } from "../../lib/store.ts";
import { CodeGraphs } from "../../lib/code_graph.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

async function run(args: string[], env: Record<string, string>) {
  const o = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { ...env, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr);
  assert.equal(o.code, 0, text);
  return text;
}

Deno.test("ice-pkg stage: builds with an empty store and a fresh DENO_DIR, and under --sandbox", async () => {
  const base = await Deno.makeTempDir({ prefix: "icenet-icepkg-stage-" });
  const env = {
    DENO_DIR: join(base, "deno"),
    ICENET_HOME: join(base, "store"),
    // Downloads are shared with the user's store: they are checked by sha256.
    ICENET_SOURCES: defaultDownloadDir(defaultStoreDir()),
  };
  await run(["install", "--quiet"], env);
  const outputs: string[] = [];
  for (const extra of [[], ["--sandbox"]]) {
    const text = await run(
      ["run", "-A", "bin/cli.ts", "stage", "ice-pkg", "--board", "zima", "--force", ...extra],
      env,
    );
    const out = text.match(/ice-pkg@zima: (\/\S+\/objects\/[0-9a-f]{64}\/out)/)?.[1];
    assert.ok(out, text);
    outputs.push(out);
  }
  assert.equal(outputs[0], outputs[1], "the sandboxed build differs from the host build");
  // Nothing was downloaded into the caller's cache during the stage.
  await assert.rejects(Deno.stat(join(env.DENO_DIR, "dl")));
  // The bundle runs on its own: no config, no cache, no network.
  const help = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-config",
      "--cached-only",
      "-A",
      `${outputs[0]}/usr/lib/ice-pkg/ice-pkg.js`,
      "--help",
    ],
    env: { DENO_DIR: join(base, "empty"), NO_COLOR: "1" },
    clearEnv: true,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.match(
    new TextDecoder().decode(help.stdout) + new TextDecoder().decode(help.stderr),
    /^ice-pkg \d/m,
  );
  await Deno.remove(base, { recursive: true });
});

Deno.test("ice-pkg stage: the device program imports no npm package (none is declared)", async () => {
  const graph = await new CodeGraphs().closure(join(ROOT, "lib/ice-pkg/main.ts"));
  assert.deepEqual(
    graph.npm,
    [],
    "lib/ice-pkg imports npm packages: declare their tarballs as sources of tasks/ice-pkg.ts " +
      "and unpack them into a node_modules beside the program's copy",
  );
  assert.ok(
    graph.files.every((f) => f.startsWith(join(ROOT, "lib/ice-pkg/"))),
    graph.files.join("\n"),
  );
});
