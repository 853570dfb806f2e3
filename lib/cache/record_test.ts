import assert from "node:assert/strict";
import { join } from "node:path";
import { generateKeyFiles } from "../ice-pkg/keys.ts";
import {
  type CacheRecord,
  loadSigner,
  loadTrusted,
  signRecord,
  UntrustedRecord,
  verifyRecord,
} from "./record.ts";

const rec: CacheRecord = {
  key: "1".repeat(64),
  stage: "musl",
  board: "zima",
  outputHash: "2".repeat(64),
  manifest: { hash: "3".repeat(64), size: 1234 },
  log: { hash: "4".repeat(64), size: 99 },
};
const subject = { key: rec.key, stage: rec.stage, board: rec.board };

async function keys(dir: string, name: string) {
  const k = await generateKeyFiles();
  await Deno.writeTextFile(join(dir, `${name}.key`), k.privateFile);
  await Deno.writeTextFile(join(dir, `${name}.pub`), k.publicLine);
  return {
    signer: await loadSigner(join(dir, `${name}.key`), "TEST_KEY"),
    pub: join(dir, `${name}.pub`),
  };
}

Deno.test("verifyRecord() accepts only a record signed by a trusted key for this key, stage and board", async (t) => {
  const dir = await Deno.makeTempDir();
  try {
    const ours = await keys(dir, "ours");
    const theirs = await keys(dir, "theirs");
    const trusted = await loadTrusted([ours.pub]);
    const signed = await signRecord(rec, ours.signer);
    const edit = (f: (j: Record<string, unknown>) => void) => {
      const j = JSON.parse(new TextDecoder().decode(signed));
      f(j);
      return new TextEncoder().encode(JSON.stringify(j));
    };
    await t.step("signed by a trusted key", async () => {
      assert.deepEqual(await verifyRecord(signed, trusted, subject), rec);
    });
    await t.step("a trusted key found in a directory of *.pub", async () => {
      assert.deepEqual(await verifyRecord(signed, await loadTrusted([dir]), subject), rec);
    });
    const rows: [string, Uint8Array, typeof subject, RegExp][] = [
      ["unsigned", edit((j) => (delete j.signature, delete j.keyId)), subject, /^unsigned record$/],
      [
        "signed by a key not trusted",
        await signRecord(rec, theirs.signer),
        subject,
        new RegExp(`^signed by key ${theirs.signer.keyId}, which is not in ICENET_CACHE_KEYS$`),
      ],
      [
        "output hash changed",
        edit((j) => j.outputHash = "5".repeat(64)),
        subject,
        /^bad signature/,
      ],
      [
        "manifest digest changed",
        edit((j) => (j.manifest as { size: number }).size++),
        subject,
        /^bad signature/,
      ],
      ["log dropped", edit((j) => delete j.log), subject, /^bad signature/],
      ["garbage signature", edit((j) => j.signature = "!!"), subject, /^bad signature/],
      [
        "another key's record",
        signed,
        { ...subject, key: "9".repeat(64) },
        /^record is for key 1{64}, not 9{64}$/,
      ],
      [
        "another board's record",
        signed,
        { ...subject, board: "rpi" },
        /^record is for board zima, not rpi$/,
      ],
      ["not JSON", new TextEncoder().encode("<html>"), subject, /^record is not JSON$/],
      ["not a record", new TextEncoder().encode("{}"), subject, /^not an icenet cache record$/],
    ];
    for (const [name, bytes, want, err] of rows) {
      await t.step(name, async () => {
        await assert.rejects(verifyRecord(bytes, trusted, want), (e: Error) => {
          assert.ok(e instanceof UntrustedRecord);
          assert.match(e.message, err);
          return true;
        });
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadTrusted() and loadSigner() name the file and variable of a bad key", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "bad.pub"), "ssh-ed25519 AAAA");
    await assert.rejects(
      loadTrusted([join(dir, "bad.pub")]),
      /ICENET_CACHE_KEYS: .*bad\.pub: not an "ed25519 <base64>" public key/,
    );
    await assert.rejects(
      loadTrusted([join(dir, "missing.pub")]),
      /ICENET_CACHE_KEYS: .*missing\.pub/,
    );
    await assert.rejects(
      loadSigner(join(dir, "bad.pub"), "ICENET_CACHE_SIGNING_KEY"),
      /bad\.pub: not an ice-pkg private key file/,
    );
    await assert.rejects(
      loadSigner(join(dir, "none.key"), "ICENET_CACHE_SIGNING_KEY"),
      /^Error: ICENET_CACHE_SIGNING_KEY=.*none\.key: cannot read/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
