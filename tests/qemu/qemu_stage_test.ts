// The qemu stage: QEMU 10 from Debian's backports, shared by every board, keyed by its
// pin; its output (built through the store, as boots get it) runs raspi4b on this host.
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBoard } from "../../lib/board.ts";
import { SourceSchema } from "../../lib/fetch/source.ts";
import { KeyCaches, stageKey } from "../../lib/key.ts";
import { buildStage } from "../../lib/qemu/build_image.ts";
import { loadStages } from "../../lib/registry.ts";
import { QEMU_DEBIAN_VERSION, QEMU_OPTIONS, qemuSource, qemuStage } from "../../tasks/qemu.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

Deno.test("qemuSource() pins qemu-system-arm from backports for each host architecture", async (t) => {
  for (const arch of ["amd64", "arm64"]) {
    await t.step(arch, () => {
      const src = SourceSchema.parse(qemuSource(arch));
      assert.ok(src.debian && "package" in src.debian);
      assert.deepEqual(src.debian, {
        package: "qemu-system-arm",
        version: QEMU_DEBIAN_VERSION,
        arch,
      });
      assert.match(QEMU_DEBIAN_VERSION, /~bpo12\+\d+$/, "a bookworm-backports version");
      assert.equal(src.filename, `qemu-system-arm_10.0.2+ds-2+deb13u1~bpo12+1_${arch}.deb`);
    });
  }
  assert.throws(
    () => qemuSource("riscv64"),
    /^Error: stage qemu: no pinned qemu-system-arm for the host architecture riscv64 \(have: amd64, arm64\)$/,
  );
});

Deno.test("qemu stage: every board shares one key, which is the pin's", async () => {
  const caches = new KeyCaches();
  const key = async (board: string, hostArch = "x86_64") => {
    const b = await loadBoard(ROOT, board);
    return (await stageKey(qemuStage(hostArch), b, ROOT, {}, caches)).key;
  };
  const k = await key("rpi");
  assert.equal(await key("zima"), k);
  assert.equal(await key("rpi32"), k);
  assert.notEqual(await key("rpi", "aarch64"), k, "another host's pin");
});

Deno.test("qemu stage: boards with a machine on it have the stage, others not", async () => {
  const names = async (board: string) =>
    (await loadStages(await loadBoard(ROOT, board), ROOT)).map((s) => s.name);
  assert.ok((await names("rpi")).includes("qemu"));
  assert.ok(!(await names("zima")).includes("qemu"));
  assert.ok(!(await names("rpi32")).includes("qemu"));
});

Deno.test("qemu stage: its QEMU 10 runs raspi4b here with its options, quietly", async () => {
  const out = await buildStage(ROOT, await loadBoard(ROOT, "rpi"), "qemu", true);
  const facts = JSON.parse(await Deno.readTextFile(join(out, "qemu.json")));
  assert.equal(facts.version, "10.0.2");
  assert.ok(facts.machines.includes("raspi4b"), facts.machines.join(" "));
  assert.deepEqual(facts.options, QEMU_OPTIONS);
  // No kernel worth the name: QEMU starts the machine and we stop it after 3 s. Anything
  // on stderr (the host's QEMU 7.2 modules refused, a missing ROM) fails the test.
  const dir = await Deno.makeTempDir({ prefix: "icenet-qemu-stage-" });
  try {
    await Deno.writeFile(join(dir, "k"), new Uint8Array(4096));
    const child = new Deno.Command(join(out, "bin", "qemu-system-aarch64"), {
      args: [
        ...facts.options,
        ...["-M", "raspi4b", "-m", "2G", "-display", "none", "-monitor", "none"],
        ...["-serial", "null", "-serial", "null", "-kernel", join(dir, "k")],
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
    const r = await child.output();
    clearTimeout(timer);
    assert.equal(r.signal, "SIGKILL", `QEMU exited by itself: ${r.code}`);
    assert.equal(new TextDecoder().decode(r.stderr), "");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
