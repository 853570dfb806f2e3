// Block maps against Debian's bmap-tools: our bmap of an image is the bytes `bmaptool
// create` writes for it, `bmaptool copy` accepts it, and parseBmap() reads bmaptool's.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import $ from "dax";
import {
  blockMap,
  blockRanges,
  bmapXml,
  humanSize,
  mappedBytes,
  parseBmap,
} from "../../lib/image/bmap.ts";
import { sha256File } from "../../lib/hash.ts";
import { makeTestImage, noise, SMALL_GPT, SMALL_MBR } from "../flash/_image.ts";

// bmaptool runs on the system's Python (its #! line), whatever python3 is first on PATH.
const PY = "/usr/bin/python3";

Deno.test("blockRanges() widens extents to whole blocks and merges touching ones", async (t) => {
  const rows: [string, [number, number][], [number, number][]][] = [
    ["aligned", [[0, 8192]], [[0, 1]]],
    ["unaligned ends widen", [[100, 4097]], [[0, 1]]],
    ["touching merge", [[0, 4096], [4096, 8192]], [[0, 1]]],
    ["same block merge", [[0, 10], [20, 30]], [[0, 0]]],
    ["gap kept", [[0, 4096], [8192, 12288]], [[0, 0], [2, 2]]],
    ["empty skipped", [[4096, 4096]], []],
  ];
  for (const [name, extents, want] of rows) {
    await t.step(name, () => {
      const got = blockRanges(extents.map(([start, end]) => ({ start, end })), 4096);
      assert.deepEqual(got.map((r) => [r.first, r.last]), want);
    });
  }
});

Deno.test("humanSize() formats as bmaptool's human_size(), ties to even", async () => {
  const sizes = [1, 300, 512, 1536, 12.25 * 1048576, 12.75 * 1048576, 0.15 * 1048576, 128 << 20];
  const py = await $`${PY} -c ${`from bmaptools.BmapHelpers import human_size\nfor s in ${
    JSON.stringify(sizes)
  }: print(human_size(s))`}`.text();
  assert.deepEqual(sizes.map(humanSize), py.split("\n"));
});

Deno.test("bmapXml() writes what `bmaptool create` writes, for MBR, GPT and odd sizes", async (t) => {
  const tmp = await Deno.makeTempDir();
  const images: [string, () => Promise<string>][] = [
    ["mbr", async () => (await makeTestImage(join(tmp, "m"), { layout: SMALL_MBR })).path],
    ["gpt", async () => (await makeTestImage(join(tmp, "g"), { layout: SMALL_GPT })).path],
    ["partial last block", async () => {
      const f = join(tmp, "odd.img");
      using h = await Deno.open(f, { write: true, create: true });
      await h.truncate(3 * 4096 + 100);
      await h.seek(2 * 4096 + 50, Deno.SeekMode.Start);
      await h.write(noise(4096, 9));
      return f;
    }],
  ];
  for (const [name, make] of images) {
    await t.step(name, async () => {
      await Deno.mkdir(join(tmp, name[0]), { recursive: true });
      const img = await make();
      const ours = bmapXml(await blockMap(img));
      const theirs = join(tmp, "theirs.bmap");
      await $`bmaptool create -o ${theirs} ${img}`.quiet();
      assert.equal(ours, await Deno.readTextFile(theirs));
      // And bmaptool copies with ours: the copy is the image, byte for byte.
      await Deno.writeTextFile(join(tmp, "ours.bmap"), ours);
      await $`bmaptool copy --bmap ${join(tmp, "ours.bmap")} ${img} ${join(tmp, "copy")}`.quiet();
      assert.equal(await sha256File(join(tmp, "copy")), await sha256File(img));
      await Deno.remove(join(tmp, "copy"));
    });
  }
  await Deno.remove(tmp, { recursive: true });
});

Deno.test("parseBmap() reads bmaptool's bmap and refuses a damaged one, naming the element", async (t) => {
  const tmp = await Deno.makeTempDir();
  const { path } = await makeTestImage(tmp);
  await $`bmaptool create -o ${join(tmp, "t.bmap")} ${path}`.quiet();
  const text = await Deno.readTextFile(join(tmp, "t.bmap"));
  await t.step("same map as ours", async () => {
    const map = parseBmap(text, "t.bmap");
    assert.deepEqual(map, await blockMap(path));
    assert.ok(mappedBytes(map) < map.imageSize / 2);
  });
  const sum = /<BmapFileChecksum> (\w+) /.exec(text)![1];
  // An edit with the file checksum made right again, to reach the checks behind it.
  const resum = (t: string) => {
    const z = t.replace(sum, "0".repeat(64));
    return z.replace("0".repeat(64), createHash("sha256").update(z).digest("hex"));
  };
  const bad: [string, string, RegExp][] = [
    [
      "edited range",
      text.replace(/<Range chksum="(\w+)"> 0 /, '<Range chksum="$1"> 1 '),
      /t\.bmap: <BmapFileChecksum> says \w+ but the file hashes to \w+/,
    ],
    [
      "version 3",
      resum(text.replace('<bmap version="2.0">', '<bmap version="3.0">')),
      /t\.bmap: bmap version 3\.0 is not supported/,
    ],
    [
      "sha1",
      resum(text.replace("<ChecksumType> sha256 ", "<ChecksumType> sha1 ")),
      /t\.bmap: <ChecksumType> sha1: only sha256/,
    ],
    [
      "count",
      resum(
        text.replace(/<MappedBlocksCount> (\d+)/, (_, n) => `<MappedBlocksCount> ${Number(n) + 1}`),
      ),
      /t\.bmap: <MappedBlocksCount> \d+ but the ranges map \d+ blocks/,
    ],
    [
      "no size",
      resum(text.replace(/<ImageSize>[^<]*<\/ImageSize>/, "")),
      /t\.bmap: <ImageSize> is missing/,
    ],
  ];
  for (const [name, t2, msg] of bad) {
    await t.step(name, () => assert.throws(() => parseBmap(t2, "t.bmap"), msg));
  }
  await Deno.remove(tmp, { recursive: true });
});
