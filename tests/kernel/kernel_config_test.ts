import assert from "node:assert/strict";
import {
  checkConfig,
  formatMismatches,
  mergeConfig,
  parseConfig,
  parseFragment,
} from "../../lib/kernel_config.ts";

const root = new URL("../..", import.meta.url).pathname;

Deno.test("parseConfig() reads set, unset, numbers and strings", () => {
  const c = parseConfig(
    ".config",
    [
      "#",
      "# Automatically generated file; DO NOT EDIT.",
      "CONFIG_A=y",
      "# CONFIG_B is not set",
      "CONFIG_C=0x10",
      'CONFIG_D="x \\"y\\""',
      "CONFIG_E=-3",
      "",
    ].join("\n"),
  );
  assert.deepEqual(
    [...c.entries.values()].map((e) => [e.name, e.value, e.line]),
    [["A", "y", 3], ["B", "n", 4], ["C", "0x10", 5], ["D", '"x \\"y\\""', 6], ["E", "-3", 7]],
  );
});

Deno.test("parseConfig() names file and line of a bad line", async (t) => {
  const cases: [string, string, RegExp][] = [
    [
      "not a config line",
      "CONFIG_A=y\nSQUASHFS=y\n",
      /f\.config:2: not a config line: SQUASHFS=y$/,
    ],
    ["bad value", "CONFIG_A=yes\n", /f\.config:1: CONFIG_A: bad value yes/],
    ["unquoted string", "CONFIG_LSM=yama\n", /f\.config:1: CONFIG_LSM: bad value yama/],
    [
      "sloppy disable",
      "# CONFIG_A is off\n",
      /f\.config:1: write a disabled option as "# CONFIG_X is not set"$/,
    ],
  ];
  for (const [name, text, re] of cases) {
    await t.step(name, () => assert.throws(() => parseConfig("f.config", text), re));
  }
});

Deno.test("parseFragment() rejects an option set twice", () => {
  assert.throws(
    () => parseFragment("kernel/x.config", "CONFIG_A=y\n\n# CONFIG_A is not set\n"),
    /^Error: kernel\/x\.config:3: CONFIG_A already set on line 1$/,
  );
});

Deno.test("mergeConfig() replaces in place, appends new options, later fragments win", () => {
  const base = "CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=y\n";
  const f1 = parseFragment("f1", "CONFIG_B=y\nCONFIG_D=y\n# CONFIG_C is not set\n");
  const f2 = parseFragment("f2", 'CONFIG_D=n\nCONFIG_E="s"\n');
  assert.equal(
    mergeConfig(base, [f1, f2]),
    'CONFIG_A=y\nCONFIG_B=y\n# CONFIG_C is not set\n# CONFIG_D is not set\nCONFIG_E="s"\n',
  );
});

Deno.test("checkConfig() reports what olddefconfig dropped or changed", () => {
  const frag = parseFragment(
    "kernel/base.config",
    'CONFIG_SQUASHFS=y\n# CONFIG_IPV6 is not set\nCONFIG_NR_CPUS=4\nCONFIG_LSM="yama"\nCONFIG_SMP=y\n',
  );
  const final = parseConfig(
    ".config",
    'CONFIG_NR_CPUS=8\nCONFIG_LSM="yama"\nCONFIG_SMP=y\n# CONFIG_SQUASHFS is not set\n',
  );
  const bad = checkConfig([frag], final);
  assert.deepEqual(bad.map((b) => [b.wanted.name, b.got]), [["SQUASHFS", "n"], ["NR_CPUS", "8"]]);
  assert.equal(
    formatMismatches(bad),
    "kernel/base.config:1: CONFIG_SQUASHFS=y ended as n (a dependency is off: check with " +
      "make menuconfig, search /SQUASHFS)\nkernel/base.config:3: CONFIG_NR_CPUS=4 ended as 8",
  );
});

Deno.test("checkConfig() judges each option by the last fragment that set it", () => {
  const base = parseFragment("base", "CONFIG_A=y\n");
  const board = parseFragment("board", "# CONFIG_A is not set\n");
  assert.deepEqual(checkConfig([base, board], parseConfig(".config", "")), []);
  assert.equal(checkConfig([board, base], parseConfig(".config", "")).length, 1);
});

Deno.test("the checked-in fragments parse and set each option once", async (t) => {
  for (
    const e of [...Deno.readDirSync(`${root}/kernel`)].sort((a, b) => a.name < b.name ? -1 : 1)
  ) {
    if (!e.name.endsWith(".config")) continue;
    await t.step(e.name, () => {
      const f = parseFragment(
        `kernel/${e.name}`,
        Deno.readTextFileSync(`${root}/kernel/${e.name}`),
      );
      assert.ok(f.entries.size > 0);
    });
  }
});

Deno.test("kernel/base.config keeps the promised defaults", () => {
  const f = parseFragment("base", Deno.readTextFileSync(`${root}/kernel/base.config`)).entries;
  const want: Record<string, string> = {
    MODULES: "n",
    IPV6: "n",
    DEVTMPFS_MOUNT: "y",
    SQUASHFS: "y",
    OVERLAY_FS: "y",
    STACKPROTECTOR_STRONG: "y",
    HARDENED_USERCOPY: "y",
    SECURITY_DMESG_RESTRICT: "y",
    // The local console: a login on the screen with a USB keyboard.
    VT: "y",
    FRAMEBUFFER_CONSOLE: "y",
    USB_HID: "y",
  };
  for (const [k, v] of Object.entries(want)) assert.equal(f.get(k)?.value, v, k);
});
