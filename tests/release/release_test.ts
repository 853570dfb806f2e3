// `deno task release`: the .img.xz, the .bmap bmaptool copies with, Raspberry Pi Imager's
// os_list entry, SHA256SUMS that sha256sum -c accepts — the same bytes in every run.
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { loadBoard } from "../../lib/board.ts";
import { sha256File } from "../../lib/hash.ts";
import { imagerDevices } from "../../lib/release/os_list.ts";
import { makeRelease } from "../../lib/release/release.ts";
import { makeTestImage } from "../flash/_image.ts";
import { attachLoop, backingFile, headSha256, runFlash } from "../flash/_loop.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

async function release(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "bin/release.ts"), ...args],
    stdout: "piped",
    stderr: "piped",
    env: { RUST_BACKTRACE: "0" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

async function dirHashes(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of [...Deno.readDirSync(dir)].sort((a, b) => a.name < b.name ? -1 : 1)) {
    out[e.name] = await sha256File(join(dir, e.name));
  }
  return out;
}

Deno.test("release rpi: xz, bmap, os_list and SHA256SUMS, checkable and reproducible", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const { path: image } = await makeTestImage(tmp);
    const [a, b] = [join(tmp, "a"), join(tmp, "b")];
    const args = ["rpi", "--image", image, "--url-base", "https://example.org/icenet"];
    const r = await release([...args, "--out", a]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await release([...args, "--out", b])).code, 0);
    const files = await dirHashes(a);
    assert.deepEqual(Object.keys(files), [
      "SHA256SUMS",
      "icenet-rpi.img.bmap",
      "icenet-rpi.img.xz",
      "icenet-rpi.os_list.json",
    ]);
    assert.deepEqual(await dirHashes(b), files, "a second run gives the same bytes");
    const check = await $`sha256sum -c SHA256SUMS`.cwd(a).text();
    assert.equal(
      check,
      "icenet-rpi.img.bmap: OK\nicenet-rpi.img.xz: OK\nicenet-rpi.os_list.json: OK",
    );
    // The .xz holds the image, whole.
    await $`xz -t ${join(a, "icenet-rpi.img.xz")}`;
    const unpacked = await $`xz -dc ${join(a, "icenet-rpi.img.xz")} | sha256sum`.text();
    assert.equal(unpacked.split(" ")[0], await sha256File(image));
    // Imager's entry: what it checks and where it offers the image.
    const list = JSON.parse(await Deno.readTextFile(join(a, "icenet-rpi.os_list.json")));
    const e = list.os_list[0];
    const xz = join(a, "icenet-rpi.img.xz");
    assert.deepEqual(e, {
      name: "IceNet-OS (rpi)",
      description: e.description,
      icon: "",
      url: "https://example.org/icenet/icenet-rpi.img.xz",
      extract_size: (await Deno.stat(image)).size,
      extract_sha256: await sha256File(image),
      image_download_size: (await Deno.stat(xz)).size,
      image_download_sha256: await sha256File(xz),
      release_date: "2025-01-01",
      devices: ["pi4-64bit", "pi3-64bit"],
    });
    assert.match(e.description, /Raspberry Pi 3\/4/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("bmaptool copy of the release writes the image, and the same blocks as flash", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const { path: image } = await makeTestImage(tmp);
    const size = (await Deno.stat(image)).size;
    const rel = join(tmp, "rel");
    assert.equal((await release(["rpi", "--image", image, "--out", rel])).code, 0);
    const xz = join(rel, "icenet-rpi.img.xz");
    // Onto zeros: bmaptool finds the .bmap beside the .xz; the device reads back as the image.
    {
      await using loop = await attachLoop(await backingFile(join(tmp, "z"), size, "zero"));
      const c = await $`bmaptool copy ${xz} ${loop.dev}`.stdout("piped").stderr("piped");
      assert.match(c.stderr, /discovered bmap file '.*icenet-rpi\.img\.bmap'/);
      assert.match(c.stderr, /copying time/);
      assert.equal(await headSha256(loop.dev, size), await sha256File(image));
    }
    // Onto the same old random bytes, bmaptool and flash leave identical devices:
    // both write exactly the mapped blocks and leave the rest.
    const devs: string[] = [];
    for (const tool of ["bmaptool", "flash"]) {
      const backing = await backingFile(join(tmp, tool), size, "random", 5);
      await using loop = await attachLoop(backing);
      if (tool === "bmaptool") {
        await $`bmaptool copy --bmap ${join(rel, "icenet-rpi.img.bmap")} ${image} ${loop.dev}`
          .quiet();
      } else {
        const r = await runFlash(["--image", image, "--yes", loop.dev]);
        assert.equal(r.code, 0, r.stderr);
      }
      devs.push(await headSha256(loop.dev, size));
    }
    assert.equal(devs[0], devs[1]);
    assert.notEqual(devs[0], await sha256File(image), "holes kept the old bytes");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("os_list devices follow each Pi board's device trees; zima gets no entry", async () => {
  assert.deepEqual(imagerDevices(await loadBoard(ROOT, "rpi")), ["pi4-64bit", "pi3-64bit"]);
  assert.deepEqual(imagerDevices(await loadBoard(ROOT, "rpi32")), ["pi3-32bit", "pi2-32bit"]);
  const tmp = await Deno.makeTempDir();
  try {
    const { path: image } = await makeTestImage(tmp);
    const files = await makeRelease({
      board: await loadBoard(ROOT, "zima"),
      image,
      name: "icenet-zima",
      out: join(tmp, "rel"),
      urlBase: "",
      icon: "",
      description: "test",
      epoch: 1735689600,
    });
    assert.deepEqual(files.map((f) => f.name), [
      "icenet-zima.img.bmap",
      "icenet-zima.img.xz",
      "SHA256SUMS",
    ]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
