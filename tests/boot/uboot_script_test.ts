/**
 * boot.scr as the image holds it: the legacy script image is byte for byte what
 * Debian's mkimage (u-boot-tools) makes of the same text, and the script reads and
 * writes the state files the updater writes. Its behaviour under U-Boot is proven by
 * tests/e2e/uboot_ab_test.ts.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { legacyImage, scriptImage } from "../../lib/boot/uboot_image.ts";
import { abBootScript } from "../../lib/boot/uboot_script.ts";
import { which } from "../../lib/tools.ts";

const ROWS: [string, "arm" | "arm64", string][] = [
  ["arm64, the A/B script", "arm64", abBootScript({ kernel: "kernel8.img", bootCommand: "booti" })],
  ["arm, the A/B script", "arm", abBootScript({ kernel: "kernel7.img", bootCommand: "bootz" })],
  ["a length not a multiple of 4", "arm", "echo hello\n"],
];

Deno.test("scriptImage() writes what mkimage -T script writes", {
  ignore: !which("mkimage"),
}, async (t) => {
  const tmp = await Deno.makeTempDir();
  try {
    for (const [name, arch, text] of ROWS) {
      await t.step(name, async () => {
        const src = join(tmp, "boot.cmd");
        const out = join(tmp, "boot.scr");
        await Deno.writeTextFile(src, text);
        await $`mkimage -A ${arch} -O linux -T script -C none -n ${"IceNet-OS A/B boot"} -d ${src} ${out}`
          .env({ SOURCE_DATE_EPOCH: "1735689600" }).quiet();
        const ours = scriptImage(text, { arch, name: "IceNet-OS A/B boot", time: 1735689600 });
        assert.deepEqual(ours, await Deno.readFile(out));
      });
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("abBootScript() reads both state copies and writes both, the first first", () => {
  const text = abBootScript({ kernel: "kernel8.img", bootCommand: "booti" });
  const loads = [...text.matchAll(/load \$\{icenet_part\} \S+ (icenet\.env\S*)/g)].map((m) => m[1]);
  assert.deepEqual(loads, ["icenet.env", "icenet.env.bak"]);
  const writes = [...text.matchAll(/fatwrite \$\{icenet_part\} \S+ (icenet\.env\S*)/g)].map((m) =>
    m[1]
  );
  assert.deepEqual(writes, ["icenet.env", "icenet.env.bak"]);
  assert.match(text, /\nbooti \$\{kernel_addr_r\} - \$\{icenet_fdt\}\n$/);
  assert.match(text, /slot-\$\{icenet_s\}\/kernel8\.img/);
});

Deno.test("legacyImage() writes what mkimage -T kernel writes", {
  ignore: !which("mkimage"),
}, async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const bin = join(tmp, "u-boot.bin");
    const data = new Uint8Array(1001).map((_, i) => i * 7);
    await Deno.writeFile(bin, data);
    await $`mkimage -A arm -O linux -T kernel -C none -a 0x8000 -e 0x8000 -n u-boot -d ${bin} ${bin}.img`
      .env({ SOURCE_DATE_EPOCH: "0" }).quiet();
    const ours = legacyImage(data, {
      arch: "arm",
      type: "kernel",
      load: 0x8000,
      entry: 0x8000,
      name: "u-boot",
    });
    assert.deepEqual(ours, await Deno.readFile(`${bin}.img`));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("scriptImage() refuses a name mkimage would cut", () => {
  assert.throws(
    () => scriptImage("true\n", { arch: "arm", name: "x".repeat(32) }),
    /is over 31 bytes/,
  );
});
