/**
 * The dm-verity tree of a root squashfs (lib/rootfs/verity.ts), checked with Debian's
 * own `veritysetup verify` (the userspace twin of the kernel's check): a built root
 * verifies, one flipped byte does not, two builds are byte-identical, and the kernel
 * table names the same geometry.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { sha256File } from "../../lib/hash.ts";
import { $ } from "../../lib/shell.ts";
import { flipByte } from "../_flip.ts";
import {
  appendHashTree,
  parseVerity,
  type Verity,
  VERITY_BLOCK,
  verityArgs,
  verityTable,
} from "../../lib/rootfs/verity.ts";

/** A squashfs of a few files (one bigger than a block), made reproducibly. */
async function squashfs(dir: string, name: string, hostname = "icenet"): Promise<string> {
  const tree = join(dir, `${name}-tree`);
  await Deno.mkdir(join(tree, "etc"), { recursive: true });
  await Deno.writeTextFile(join(tree, "etc/hostname"), `${hostname}\n`);
  // Incompressible data: several blocks of the image are this file's.
  const big = new Uint8Array(64 * 1024);
  for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) >>> 24 ^ (i & 0xff);
  await Deno.writeFile(join(tree, "big.bin"), big);
  const img = join(dir, `${name}.squashfs`);
  await $`mksquashfs ${tree} ${img} -noappend -all-root -quiet`
    .env({ SOURCE_DATE_EPOCH: "0" }).quiet();
  return img;
}

/** Exit code of `veritysetup verify` of `img` against `v`. */
async function verify(img: string, v: Verity): Promise<number> {
  const r = await $`veritysetup verify ${[
    "--no-superblock",
    `--hash=${v.algorithm}`,
    `--data-blocks=${v.dataBlocks}`,
    `--hash-offset=${v.hashOffset}`,
    `--salt=${v.salt}`,
    img,
    img,
    v.rootHash,
  ]}`.noThrow().quiet();
  return r.code;
}

Deno.test("a root's verity tree verifies with veritysetup, and one flipped byte does not", async () => {
  const dir = await Deno.makeTempDir({ prefix: "icenet-verity-" });
  try {
    const img = await squashfs(dir, "a");
    const v = await appendHashTree($, img);
    assert.equal(v.hashOffset % VERITY_BLOCK, 0);
    assert.equal(v.dataBlocks * VERITY_BLOCK, v.hashOffset);
    assert.equal((await Deno.stat(img)).size, v.hashOffset + v.hashBytes);
    assert.deepEqual(parseVerity("verity.json", JSON.stringify(v)), v);
    assert.equal(await verify(img, v), 0, "veritysetup verify of the built root");

    // Flip one byte of the last data block (the squashfs tables are there).
    await flipByte(img, v.hashOffset - VERITY_BLOCK + 100, 0x01);
    assert.notEqual(await verify(img, v), 0, "veritysetup verify of a root with a byte flipped");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("two hash trees of the same squashfs are byte-identical; another root gets another salt", async () => {
  const dir = await Deno.makeTempDir({ prefix: "icenet-verity-" });
  try {
    const a = await squashfs(dir, "a"), b = await squashfs(dir, "b");
    const [va, vb] = [await appendHashTree($, a), await appendHashTree($, b)];
    assert.deepEqual(va, vb);
    assert.equal(await sha256File(a), await sha256File(b));

    const c = await squashfs(dir, "c", "other");
    const vc = await appendHashTree($, c);
    assert.notEqual(vc.salt, va.salt);
    assert.notEqual(vc.rootHash, va.rootHash);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the kernel table maps the data blocks and points at the tree after them", () => {
  const v: Verity = {
    dataBlocks: 100,
    hashOffset: 409600,
    hashBytes: 8192,
    algorithm: "sha256",
    salt: "ab".repeat(32),
    rootHash: "cd".repeat(32),
  };
  const dev = "PARTUUID=1a2b3c4d-02";
  assert.equal(
    verityTable(v, dev),
    `0 800 verity 1 ${dev} ${dev} 4096 4096 100 100 sha256 ${"cd".repeat(32)} ${
      "ab".repeat(32)
    } 1 try_verify_in_tasklet`,
  );
  const [create, waitfor] = verityArgs(v, dev);
  assert.match(create, /^dm-mod\.create="icenet-root,,0,ro,0 800 verity /);
  assert.equal(waitfor, `dm-mod.waitfor=${dev}`);
  assert.throws(() => parseVerity("x/verity.json", "{}"), /^Error: x\/verity\.json: not a verity/);
});
