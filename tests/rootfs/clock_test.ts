/**
 * The clock kept across boots: base-files' keeper (/usr/lib/icenet/clock) run for real
 * with busybox only (Debian's busybox-static 1.35, the project's busybox version, as the
 * only programs on PATH), and early boot's restore (icenet-preinit, host build). What
 * cannot run on a shared host is setting its clock: the restore is run with --dry-run,
 * which takes every decision and prints the time it would set (the e2e boot of the rpi
 * image checks the real thing).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { debianBusybox } from "./_busybox_static.ts";
import { buildInit, ROOT } from "../init/_harness.ts";

const SCRIPT = new URL("../../pkgs/base-files/files/usr/lib/icenet/clock", import.meta.url)
  .pathname;
const DAY = 86400;

function iso(t: number): string {
  return new Date(t * 1000).toISOString().replace(/\.000Z$/, "Z");
}

Deno.test("clock: restore never goes back, save keeps the last time, keep saves on SIGTERM", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "icenet-clock-" });
  try {
    const bin = await debianBusybox(join(dir, "busybox"));
    const file = join(dir, "clock");
    const ref = join(dir, "os-release");
    Deno.writeTextFileSync(ref, "NAME=IceNet-OS\n");
    const env = { PATH: bin, ICENET_CLOCK_FILE: file, ICENET_CLOCK_REF: ref };
    // A program with only `env`: its exit code and its output, stdout then stderr.
    const run = async (program: string, args: string[]) => {
      const p = await new Deno.Command(program, {
        args,
        env,
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const dec = new TextDecoder();
      return { code: p.code, out: dec.decode(p.stdout) + dec.decode(p.stderr) };
    };
    const clock = (...args: string[]) => run(join(bin, "sh"), [SCRIPT, ...args]);
    await buildInit();
    // Early boot's restore (icenet-preinit), which the keeper's saved time feeds.
    const restore = () =>
      run(join(ROOT, "init/build/icenet-preinit"), ["--clock-restore", "--dry-run"]);
    const now = () => Math.floor(Date.now() / 1000);
    const setRef = (time: number) => Deno.utimeSync(ref, time, time);
    const saved = () => Number(Deno.readTextFileSync(file).trim());

    await t.step("busybox date reads @seconds (the form date -s gets)", async () => {
      const p = await new Deno.Command(join(bin, "date"), {
        args: ["-u", "-d", "@1735689600", "+%Y-%m-%dT%H:%M:%SZ"],
        stdout: "piped",
      }).output();
      assert.equal(new TextDecoder().decode(p.stdout), "2025-01-01T00:00:00Z\n");
    });

    await t.step("restore: no saved time, the build date ahead of the clock", async () => {
      const build = now() + DAY;
      setRef(build);
      const r = await restore();
      assert.equal(r.code, 0, r.out);
      assert.match(
        r.out,
        new RegExp(
          `^would set the clock from \\S+ to ${iso(build)} \\(the image's build date\\)\n$`,
        ),
      );
    });

    await t.step("restore: a saved time later than the build date wins", async () => {
      const build = now() + DAY;
      setRef(build);
      Deno.writeTextFileSync(file, `${build + DAY}\n`);
      const r = await restore();
      assert.match(r.out, new RegExp(`to ${iso(build + DAY)} \\(the time saved at ${file}\\)`));
    });

    await t.step("restore: a malformed saved time is ignored", async () => {
      const build = now() + DAY;
      setRef(build);
      Deno.writeTextFileSync(file, "17356x\n");
      const r = await restore();
      assert.match(r.out, new RegExp(`to ${iso(build)} \\(the image's build date\\)`));
    });

    await t.step("restore: a clock ahead of both is left alone", async () => {
      setRef(now() - DAY);
      Deno.writeTextFileSync(file, `${now() - 60}\n`);
      const r = await restore();
      assert.deepEqual(r, { code: 0, out: "" });
    });

    await t.step("save writes the time atomically", async () => {
      Deno.removeSync(file);
      const r = await clock("save");
      assert.equal(r.code, 0, r.out);
      assert.ok(Math.abs(saved() - now()) <= 2, `saved ${saved()}`);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
        "busybox",
        "clock",
        "os-release",
      ]);
    });

    await t.step(
      "save does not move the saved time back unless synchronised or forced",
      async () => {
        const later = now() + DAY;
        Deno.writeTextFileSync(file, `${later}\n`);
        const adj = await new Deno.Command(join(bin, "adjtimex"), { stdout: "piped" }).output();
        const synced = !/status:\s+\d*\s*\(.*UNSYNC/.test(new TextDecoder().decode(adj.stdout)) ||
          Number(new TextDecoder().decode(adj.stdout).match(/maxerror:\s+(\d+)/)![1]) < 16e6;
        const r = await clock("save");
        assert.equal(r.code, 0, r.out);
        if (synced) assert.ok(saved() < later, "a synchronised clock is saved");
        else {
          assert.equal(saved(), later);
          assert.match(
            r.out,
            /not saving .* behind the saved .* not synchronised \(clock save --force overrides\)/,
          );
        }
        assert.equal((await clock("save", "--force")).code, 0);
        assert.ok(Math.abs(saved() - now()) <= 2);
      },
    );

    await t.step("keep saves every interval and once more on SIGTERM (shutdown)", async () => {
      Deno.removeSync(file);
      const child = new Deno.Command(join(bin, "sh"), {
        args: [SCRIPT, "keep"],
        env: { ...env, ICENET_CLOCK_INTERVAL: "1" },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      for (
        let i = 0;
        i < 50 && (() => {
          try {
            return !Deno.statSync(file).isFile;
          } catch {
            return true;
          }
        })();
        i++
      ) await new Promise((r) => setTimeout(r, 100));
      const first = Deno.statSync(file).mtime!.getTime();
      await new Promise((r) => setTimeout(r, 2200));
      assert.ok(Deno.statSync(file).mtime!.getTime() > first, "not saved again after the interval");
      Deno.removeSync(file);
      child.kill("SIGTERM");
      const st = await child.output();
      assert.equal(st.code, 0, new TextDecoder().decode(st.stderr));
      assert.ok(Math.abs(saved() - now()) <= 2, "not saved on SIGTERM");
    });

    await t.step("usage errors exit 2", async () => {
      assert.equal((await clock("frobnicate")).code, 2);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
