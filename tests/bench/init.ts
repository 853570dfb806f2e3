/**
 * `deno task bench init`: icenet-init figures, printed, not asserted.
 *   init_binary_size  static musl x86_64 binary (the init stage for zima through the
 *                     runner; Debian's musl-gcc if that build fails, said on stderr)
 *   init_rss          VmRSS of init as PID 1 of a PID namespace supervising 20 services
 *   init_start_50     50 trivial services in dependency chains 5 deep: ms from init's
 *                     start until the last is ready (init's own clock, from status)
 * Size and RSS are followed by `<name>_prev` lines: the figures of PREVIOUS.
 */
import { join } from "node:path";
import { buildStages } from "../e2e/_build.ts";
import { buildInit, parseStatus, ROOT, rssKb, Sandbox, waitFor } from "../init/_harness.ts";

/**
 * The figures before issue 18 (hardware watchdog, boot health gate, icenetctl boot),
 * printed next to the current ones: this bench at commit 70d4d41 (before issue 16, at
 * e85cb3e: 83576 B, 192 kB).
 */
const PREVIOUS = { init_binary_size: 87672, init_rss: 200 };

async function staticInit(): Promise<string> {
  try {
    const r = await buildStages("zima", ["init"]);
    return join(r.get("init")!.out!, "sbin", "icenet-init");
  } catch (e) {
    console.error(
      `bench init: init stage failed, using Debian's musl-gcc: ${(e as Error).message}`,
    );
  }
  const out = await new Deno.Command("make", {
    args: ["-s", "-C", join(ROOT, "init"), "CC=musl-gcc", "LDFLAGS=-static", "BUILD=build/musl"],
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return join(ROOT, "init/build/musl/icenet-init");
}

async function run(
  binary: string,
  setup: (box: Sandbox) => Promise<string[]>,
  measure: (pid: number, status: () => Promise<ReturnType<typeof parseStatus>>) => Promise<void>,
): Promise<void> {
  const box = await Sandbox.create();
  const names = await setup(box);
  const init = box.start({ pid1: true, binary });
  try {
    const status = async () => {
      const r = await init.ctl("status");
      return parseStatus(r.out);
    };
    await waitFor("all services ready", async () => {
      const st = await status();
      return names.every((n) => st.get(n)?.state === "ready");
    }, 60000);
    await measure(await init.initPid(), status);
  } finally {
    await init.stop();
    await box.remove();
  }
}

export default async function bench(): Promise<void> {
  // icenetctl talks to the measured init: the host build (a fresh clone has none yet).
  await buildInit();
  const binary = await staticInit();
  console.log(`bench: init_binary_size ${(await Deno.stat(binary)).size} B`);
  console.log(`bench: init_binary_size_prev ${PREVIOUS.init_binary_size} B`);

  await run(binary, async (box) => {
    const names = Array.from({ length: 20 }, (_, i) => `s${String(i).padStart(2, "0")}`);
    for (const n of names) await box.service(n, { command: "/bin/sleep 1000" });
    return names;
  }, async (pid) => {
    await new Promise((r) => setTimeout(r, 300)); // let the first log lines settle
    console.log(`bench: init_rss ${await rssKb(pid)} kB`);
    console.log(`bench: init_rss_prev ${PREVIOUS.init_rss} kB`);
  });

  await run(binary, async (box) => {
    const names: string[] = [];
    for (let level = 0; level < 5; level++) {
      for (let i = 0; i < 10; i++) {
        const n = `l${level}s${i}`;
        await box.service(n, {
          command: "/bin/sleep 1000",
          ...(level ? { depends: `l${level - 1}s${i}` } : {}),
          log: "none",
        });
        names.push(n);
      }
    }
    return names;
  }, async (_pid, status) => {
    const st = await status();
    const last = Math.max(...[...st.values()].map((s) => s.readyMs));
    console.log(`bench: init_start_50 ${last} ms`);
  });
}

if (import.meta.main) await bench();
