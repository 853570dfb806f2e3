// `deno task flash` refuses, names the device and what overrides it, and writes nothing:
// real loop devices that are too small, mounted (here or in another mount namespace),
// swap, read-only; the disk holding /; a regular file; no terminal and no --yes.
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { readHost, rootDisks } from "../../lib/flash/host.ts";
import { sha256File } from "../../lib/hash.ts";
import { makeTestImage } from "./_image.ts";
import { attachLoop, backingFile, headSha256, runFlash } from "./_loop.ts";

const MiB = 1 << 20;

/** ext4 that, mounted read-only, writes nothing: a read-write mount's lazy inode-table
 * init and journal write to the device in the background, which would look like flash
 * wrote (it failed CI once that way). A read-only mount is still a mount to refuse. */
async function mkfsNoLazyInit(path: string) {
  await $`mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 ${path}`;
}

/** A test image and a loop device of `bytes` (random, so any write would show). */
async function setup(tmp: string, bytes?: number) {
  const { path } = await makeTestImage(tmp);
  const size = (await Deno.stat(path)).size;
  const backing = await backingFile(join(tmp, "card"), bytes ?? size, "random");
  return { image: path, size, backing };
}

Deno.test("flash refuses a device smaller than the image, even with --force", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const { image, size, backing } = await setup(tmp, 8 * MiB);
    await using loop = await attachLoop(backing);
    const before = await sha256File(backing);
    for (const extra of [[], ["--force"]]) {
      const r = await runFlash(["--image", image, "--yes", ...extra, loop.dev]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `refused: ${loop.dev}: holds 8388608 bytes \\(8\\.0 MiB\\), less than the image's ${size} bytes`,
        ),
      );
    }
    assert.equal(await sha256File(backing), before, "nothing written");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("flash refuses a mounted device, naming the mount point and --force", async () => {
  const tmp = await Deno.makeTempDir();
  const mnt = join(tmp, "mnt");
  try {
    const { image, size, backing } = await setup(tmp);
    await mkfsNoLazyInit(backing);
    await using loop = await attachLoop(backing);
    await Deno.mkdir(mnt);
    await $`mount -t ext4 -o ro ${loop.dev} ${mnt}`;
    try {
      const before = await headSha256(loop.dev, size);
      const r = await runFlash(["--image", image, "--yes", loop.dev]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`refused: ${loop.dev}: ${loop.dev} is mounted on ${mnt}; unmount it .* --force`),
      );
      assert.equal(await headSha256(loop.dev, size), before, "nothing written");
    } finally {
      await $`umount ${mnt}`;
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("flash refuses a device mounted in another mount namespace (exclusive open)", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const { image, size, backing } = await setup(tmp);
    await mkfsNoLazyInit(backing);
    await using loop = await attachLoop(backing);
    const mnt = join(tmp, "mnt");
    await Deno.mkdir(mnt);
    // A private mount namespace: the mount is not in our /proc/self/mountinfo.
    const holder = new Deno.Command("unshare", {
      args: [
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
        `mount -o ro ${loop.dev} ${mnt} && echo up && exec sleep 60`,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    try {
      const reader = holder.stdout.getReader();
      const { value } = await reader.read();
      assert.equal(new TextDecoder().decode(value).trim(), "up");
      reader.releaseLock();
      assert.ok(!readHost().mounts.some((m) => m.mountPoint === mnt), "not visible here");
      const before = await headSha256(loop.dev, size);
      const r = await runFlash(["--image", image, "--yes", loop.dev]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `refused: ${loop.dev}: is in use \\(the kernel refused an exclusive open.*--force`,
        ),
      );
      assert.equal(await headSha256(loop.dev, size), before, "nothing written");
    } finally {
      holder.kill("SIGTERM"); // the sleep sh exec'd: its namespace, and the mount, go with it
      await holder.stdout.cancel().catch(() => {});
      await holder.status;
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("flash refuses a device in use as swap", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const { image, backing } = await setup(tmp);
    await using loop = await attachLoop(backing);
    await $`mkswap ${loop.dev}`.quiet();
    await $`swapon ${loop.dev}`;
    try {
      const r = await runFlash(["--image", image, "--yes", loop.dev]);
      assert.equal(r.code, 3, r.stderr);
      const name = loop.dev.replace("/dev/", "");
      assert.match(r.stderr, new RegExp(`refused: ${loop.dev}: /dev/${name} is in use as swap`));
    } finally {
      await $`swapoff ${loop.dev}`;
    }
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("flash refuses a read-only device", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const { image, backing } = await setup(tmp);
    await using loop = await attachLoop(backing, { readOnly: true });
    const r = await runFlash(["--image", image, "--yes", "--force", loop.dev]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`refused: ${loop.dev}: is read-only`));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("flash refuses the disk holding / (checked with --dry-run, which never writes)", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const { path: image } = await makeTestImage(tmp);
    // The root disk as util-linux sees it: findmnt's source, then lsblk's parent disk.
    const src = (await $`findmnt -n -o SOURCE /`.text()).trim();
    const disks = rootDisks(readHost());
    if (!src.startsWith("/dev/")) {
      assert.deepEqual(disks, [], `/ is on ${src}, no block device`);
      return;
    }
    const parent = (await $`lsblk -n -d -o PKNAME ${src}`.text()).trim();
    const disk = parent || src.replace("/dev/", "");
    assert.deepEqual(disks, [disk]);
    const r = await runFlash(["--image", image, "--yes", "--dry-run", `/dev/${disk}`]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `refused: /dev/${disk}: holds /: the system running now; pass --force only to overwrite it`,
      ),
    );
    assert.match(r.stderr, new RegExp(`refused: /dev/${disk}: /dev/\\S+ is mounted on /;`));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("flash writes a regular file only with --file", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const { image, size } = await setup(tmp);
    const out = join(tmp, "out.img");
    const r = await runFlash(["--image", image, "--yes", out]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, new RegExp(`refused: ${out}: does not exist; pass --file`));
    await Deno.writeTextFile(out, "old");
    const r2 = await runFlash(["--image", image, "--yes", out]);
    assert.match(
      r2.stderr,
      new RegExp(`refused: ${out}: is a regular file, not a block device; pass --file`),
    );
    assert.equal(await Deno.readTextFile(out), "old");
    const r3 = await runFlash(["--image", image, "--yes", "--file", out]);
    assert.equal(r3.code, 0, r3.stderr);
    assert.equal((await Deno.stat(out)).size, size);
    assert.equal(await sha256File(out), await sha256File(image));
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("flash without a terminal refuses unless --yes, and does not wait for input", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const { image, size, backing } = await setup(tmp);
    await using loop = await attachLoop(backing);
    const before = await headSha256(loop.dev, size);
    const r = await runFlash(["--image", image, loop.dev]);
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, new RegExp(`refused: ${loop.dev}: no terminal to ask on; pass --yes`));
    // A pipe that stays open and never answers: still refused at once.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../../bin/flash.ts", import.meta.url).pathname,
        "--image",
        image,
        loop.dev,
      ],
      stdin: "piped",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const timer = setTimeout(() => child.kill(), 30000);
    const status = await child.status;
    clearTimeout(timer);
    await child.stdin.close();
    assert.equal(status.code, 3);
    assert.equal(await headSha256(loop.dev, size), before, "nothing written");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("flash asks on a terminal: 'no' writes nothing, 'yes' writes with a progress bar", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const { image, size, backing } = await setup(tmp);
    await using loop = await attachLoop(backing);
    const before = await headSha256(loop.dev, size);
    const flash = `${Deno.execPath()} run -A ${
      new URL("../../bin/flash.ts", import.meta.url).pathname
    } --image ${image} ${loop.dev}`;
    // script(1) runs it on a pseudo-terminal and types our stdin into it.
    const ask = async (answer: string) =>
      await $`script -qec ${flash} /dev/null`.stdinText(answer).env({ NO_COLOR: "1" })
        .stdout("piped").stderr("piped").noThrow();
    const no = await ask("no\n");
    assert.equal(no.code, 3, no.stdout);
    assert.match(
      no.stdout,
      new RegExp(`everything on ${loop.dev} will be lost\\. Write the image\\? \\[yes/no\\]`),
    );
    assert.match(no.stdout, new RegExp(`cancelled; nothing written to ${loop.dev}`));
    assert.equal(await headSha256(loop.dev, size), before, "nothing written");
    const yes = await ask("yes\n");
    assert.equal(yes.code, 0, yes.stdout);
    // The bar is redrawn in place: carriage return, erase line (ESC [K), the bar.
    // deno-lint-ignore no-control-regex
    assert.match(yes.stdout, /\r\x1b\[Kwrite  \[#{24}\] 100% +[\d.]+\/[\d.]+ MiB +[\d.]+ MB\/s/);
    // deno-lint-ignore no-control-regex
    assert.match(yes.stdout, /\r\x1b\[Kverify \[#{24}\] 100%/);
    assert.match(yes.stdout, /read back and verified/);
    assert.notEqual(await headSha256(loop.dev, size), before);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("flash: usage errors exit 2, an unknown board fails naming it", async (t) => {
  for (const args of [[], ["rpi"], ["--bogus", "rpi", "/dev/null"]]) {
    await t.step(JSON.stringify(args), async () => {
      const r = await runFlash(args);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /usage: deno task flash <board> <device>/);
    });
  }
  await t.step("unknown board", async () => {
    const r = await runFlash(["no-such-board", "/dev/null"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^flash: .*no-such-board/m);
  });
});

Deno.test("flash will not write a compressed image raw", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const { path } = await makeTestImage(tmp);
    await $`xz -T0 -1 -k ${path}`;
    const r = await runFlash(["--image", `${path}.xz`, "--yes", "--file", join(tmp, "out")]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /test\.img\.xz: is xz-compressed; unpack it first/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
