import assert from "node:assert/strict";
import { boardNames, loadBoard } from "../../lib/board.ts";
import { SourceSchema } from "../../lib/fetch/source.ts";
import { KERNEL_SOURCE, KERNEL_VERSION, kernelSource } from "../../lib/kernel_source.ts";
import { KeyCaches, stageKey } from "../../lib/key.ts";
import { headersStage, KERNEL_ARCH } from "../../tasks/kernel-headers.ts";
import { kernelStage, lsmFromEnv } from "../../tasks/kernel.ts";

const root = new URL("../..", import.meta.url).pathname;

Deno.test("KERNEL_SOURCE is a valid Debian-provided pin of the 6.1 series", () => {
  const src = SourceSchema.parse(KERNEL_SOURCE);
  assert.match(KERNEL_VERSION, /^6\.1\.\d+$/);
  assert.ok(src.debian && "package" in src.debian);
  assert.equal(src.debian.package, "linux-source-6.1");
  assert.ok(src.debian.version.startsWith(`${KERNEL_VERSION}-`), src.debian.version);
  assert.equal(src.debian.member, "usr/src/linux-source-6.1.tar.xz");
  assert.ok(src.filename?.includes(src.debian.version), "the file name carries the version");
});

Deno.test("kernelStage() declares the board fragment, LSM fragments and the pin", async (t) => {
  for (const name of boardNames(root)) {
    await t.step(name, async () => {
      const board = await loadBoard(root, name);
      const plain = kernelStage(board, [], root);
      assert.deepEqual(plain.inputs, ["kernel/base.config", `kernel/${name}.config`]);
      assert.deepEqual(plain.params, { lsm: [], kernelName: board.boot.kernelName });
      assert.equal(plain.sources.linux.sha256, kernelSource(board).source.sha256);
      assert.ok(plain.tools.includes(`${board.cross}gcc`));
      const lsm = kernelStage(board, ["apparmor", "selinux"], root);
      assert.deepEqual(lsm.inputs.slice(2), [
        "kernel/lsm-apparmor.config",
        "kernel/lsm-selinux.config",
      ]);
    });
  }
});

Deno.test("kernel stage key ignores board fields the kernel does not use", async () => {
  const board = await loadBoard(root, "rpi");
  const caches = new KeyCaches();
  const key = async (b: typeof board, lsm: ("apparmor" | "selinux")[] = []) =>
    (await stageKey(kernelStage(b, lsm, root), b, root, {}, caches)).key;
  const k0 = await key(board);
  const other = structuredClone(board);
  other.qemu!.memory = "512M";
  other.partitions.list[1].size = "128M";
  other.cflags = "-O3";
  other.description = "changed";
  other.boot.firmwareFiles = ["bootcode.bin"];
  assert.equal(await key(other), k0, "qemu, partitions, cflags, description, boot files");
  const dtb = structuredClone(board);
  dtb.kernel.dtbs = dtb.kernel.dtbs.slice(1);
  assert.notEqual(await key(dtb), k0, "the device tree list");
  assert.notEqual(await key(board, ["apparmor"]), k0, "an LSM");
  const pinned = structuredClone(board);
  pinned.kernel.source = { ...KERNEL_SOURCE, version: "6.1.999", tree: "linux-6.1.999" };
  pinned.kernel.source.sha256 = "0".repeat(64);
  assert.notEqual(await key(pinned), k0, "the board's own kernel pin");
});

Deno.test("kernelSource() is the board's own pin, else the 6.1 default", async () => {
  const board = await loadBoard(root, "rpi");
  assert.equal(kernelSource(board).source, KERNEL_SOURCE);
  const own = { ...KERNEL_SOURCE, version: "6.12.57", tree: "linux-source-6.12" };
  const pin = kernelSource({ ...board, kernel: { ...board.kernel, source: own } });
  assert.equal(pin.version, "6.12.57");
  assert.equal(pin.tree, "linux-source-6.12");
  assert.equal(pin.source.sha256, KERNEL_SOURCE.sha256);
  assert.ok(!("tree" in pin.source), "the fetched source carries only source fields");
});

Deno.test("kernel-headers is shared by boards of one architecture", async () => {
  for (const name of boardNames(root)) {
    const b = await loadBoard(root, name);
    assert.deepEqual(headersStage(b).boardFields, ["arch"]);
    assert.equal(KERNEL_ARCH[b.arch], b.kernel.arch, name);
  }
});

Deno.test("lsmFromEnv() parses, sorts and rejects unknown LSMs", async (t) => {
  const cases: [string, string[]][] = [
    ["", []],
    ["selinux, apparmor", ["apparmor", "selinux"]],
    ["apparmor,apparmor", ["apparmor"]],
  ];
  for (const [value, want] of cases) {
    await t.step(JSON.stringify(value), () => assert.deepEqual(lsmFromEnv(value), want));
  }
  await t.step("unknown", () =>
    assert.throws(
      () => lsmFromEnv("smack"),
      /ICENET_KERNEL_LSM: unknown LSM "smack" \(have: apparmor, selinux\)/,
    ));
});
