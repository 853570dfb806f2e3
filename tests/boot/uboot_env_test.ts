/**
 * The U-Boot environment writer against U-Boot's own tools: Debian's mkenvimage
 * (u-boot-tools) writes the same bytes, and fw_printenv (libubootenv-tool) reads
 * ours back; both are skipped, saying so, when the tool is missing.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { crc32 } from "../../lib/boot/_crc32.ts";
import { decodeUbootEnv, encodeUbootEnv, UBOOT_ENV_SIZE } from "../../lib/boot/uboot_env.ts";
import { which } from "../../lib/tools.ts";

const STATES: [string, Record<string, string>][] = [
  ["no state", {}],
  ["a trial of b", { icenet_good: "a", icenet_trial: "b", icenet_tries: "1" }],
  ["b committed", { icenet_good: "b" }],
  ["a value with spaces and =", { bootargs: "console=ttyS1,115200 root=PARTUUID=1-02" }],
];

Deno.test("crc32() is zlib's CRC-32", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array()), 0);
});

Deno.test("encodeUbootEnv() round-trips through decodeUbootEnv()", async (t) => {
  for (const [name, vars] of STATES) {
    await t.step(name, () => {
      const bytes = encodeUbootEnv(vars);
      assert.equal(bytes.length, UBOOT_ENV_SIZE);
      assert.deepEqual(decodeUbootEnv(bytes), vars);
    });
  }
});

Deno.test("encodeUbootEnv() writes what mkenvimage writes (zero padding, as U-Boot's env export)", {
  ignore: !which("mkenvimage"),
}, async (t) => {
  const tmp = await Deno.makeTempDir();
  try {
    for (const [name, vars] of STATES) {
      await t.step(name, async () => {
        const txt = join(tmp, "env.txt");
        const out = join(tmp, "env.bin");
        await Deno.writeTextFile(
          txt,
          Object.keys(vars).sort().map((k) => `${k}=${vars[k]}\n`).join(""),
        );
        await $`mkenvimage -p 0 -s ${UBOOT_ENV_SIZE} -o ${out} ${txt}`.quiet();
        assert.deepEqual(encodeUbootEnv(vars), await Deno.readFile(out));
      });
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("fw_printenv reads what encodeUbootEnv() writes", {
  ignore: !which("fw_printenv"),
}, async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const env = join(tmp, "icenet.env");
    await Deno.writeFile(env, encodeUbootEnv(STATES[1][1]));
    await Deno.writeTextFile(
      join(tmp, "fw_env.config"),
      `${env} 0x0 0x${UBOOT_ENV_SIZE.toString(16)}\n`,
    );
    const out = await $`fw_printenv -c ${join(tmp, "fw_env.config")}`.text();
    assert.deepEqual(out.split("\n").sort(), [
      "icenet_good=a",
      "icenet_trial=b",
      "icenet_tries=1",
    ]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("decodeUbootEnv() refuses a damaged file, naming the CRCs", () => {
  const bytes = encodeUbootEnv({ icenet_good: "b" });
  bytes[10] ^= 1;
  assert.throws(
    () => decodeUbootEnv(bytes, "icenet.env"),
    /^Error: icenet\.env: CRC mismatch \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)/,
  );
});

Deno.test("encodeUbootEnv() refuses what U-Boot could not read back", async (t) => {
  const rows: [string, Record<string, string>, RegExp][] = [
    ["a name with =", { "a=b": "c" }, /bad variable name "a=b"/],
    ["an empty name", { "": "c" }, /bad variable name ""/],
    ["a NUL in a value", { a: "b\0c" }, /a: value holds a NUL/],
    ["too big", { a: "x".repeat(UBOOT_ENV_SIZE) }, /bytes do not fit in 16384/],
  ];
  for (const [name, vars, re] of rows) {
    await t.step(name, () => assert.throws(() => encodeUbootEnv(vars), re));
  }
});
