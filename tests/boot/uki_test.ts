// The UKI builder on the real systemd EFI stub (zima's pinned systemd-boot-efi, through
// the fetcher and its Debian provider) and a stand-in kernel: the sections objdump sees,
// their alignment, the PE header fields, reproducibility, and sbsign/sbverify on it.
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { loadBoard } from "../../lib/board.ts";
import { peChecksum, readPe } from "../../lib/boot/pe.ts";
import { buildUki, ukiLayout } from "../../lib/boot/uki.ts";
import { defaultDownloadDir, fetchSource } from "../../lib/fetch/mod.ts";
import { extractDeb } from "../../lib/image/deb.ts";
import { bootKind } from "../../lib/boot/registry.ts";
import { loadKeySet, makeKeySet } from "../../lib/secureboot/keys.ts";
import { signEfi } from "../../lib/secureboot/sign.ts";
import { defaultStoreDir } from "../../lib/store.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const STUB = "usr/lib/systemd/boot/efi/linuxx64.efi.stub";

async function stub(tmp: string): Promise<string> {
  const board = await loadBoard(ROOT, "zima");
  const store = defaultStoreDir();
  const deb = await fetchSource(bootKind(board).sources(board)["systemd-boot-efi"], {
    downloadDir: defaultDownloadDir(store),
    storeDir: store,
  });
  await extractDeb(deb, join(tmp, "deb"), [`./${STUB}`]);
  return join(tmp, "deb", STUB);
}

/** objdump -h's sections: name -> [size, vma]. */
async function objdumpSections(file: string): Promise<Map<string, [number, number]>> {
  const out = await $`objdump -h ${file}`.text();
  const m = new Map<string, [number, number]>();
  for (const l of out.matchAll(/^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)/gm)) {
    m.set(l[1], [parseInt(l[2], 16), parseInt(l[3], 16)]);
  }
  return m;
}

Deno.test("buildUki() adds .osrel, .cmdline, .linux after the stub's sections, aligned and reproducibly", async (t) => {
  const tmp = await Deno.makeTempDir();
  try {
    const stubFile = await stub(tmp);
    const kernel = join(tmp, "bzImage");
    // A stand-in kernel of an awkward size (nothing boots here; tests/e2e boots the real one).
    await Deno.writeFile(kernel, new Uint8Array(300_001).map((_, i) => i * 7));
    const parts = {
      stub: stubFile,
      kernel,
      cmdline: "console=ttyS0,115200 root=PARTUUID=x ro icenet.slot=a",
      osRelease: 'NAME="IceNet-OS"\nID=icenet\nVERSION_ID=1\n',
    };
    const a = join(tmp, "a.efi"), b = join(tmp, "b.efi");
    const layout = await buildUki(parts, a, join(tmp, "wa"));
    await new Promise((r) => setTimeout(r, 1100)); // objcopy's clock moves on
    await buildUki(parts, b, join(tmp, "wb"));

    await t.step("objdump -h: each part a section at the planned address", async () => {
      const seen = await objdumpSections(a);
      const stubEnd = Math.max(
        ...readPe(await Deno.readFile(stubFile)).sections.map((s) => s.rva + s.virtualSize),
      );
      let prevEnd = stubEnd;
      for (const s of layout) {
        const [size, vma] = seen.get(s.name)!;
        assert.equal(BigInt(vma), s.vma, s.name);
        assert.equal(size >= s.size, true, `${s.name}: ${size} < ${s.size}`);
        assert.equal(vma % 4096, 0, `${s.name} at 0x${vma.toString(16)}: not page aligned`);
        assert.ok(vma >= prevEnd, `${s.name} overlaps the section before it`);
        prevEnd = vma + s.size;
      }
      assert.deepEqual(layout.map((s) => s.name), [".osrel", ".cmdline", ".linux"]);
      assert.equal(layout[2].size, 300_001);
    });
    await t.step("the sections hold the parts", async () => {
      const get = (sec: string) => $`objcopy -O binary --only-section=${sec} ${a} /dev/stdout`;
      assert.equal(await get(".cmdline").text(), parts.cmdline);
      assert.equal(await get(".osrel").text(), parts.osRelease.trimEnd());
      assert.deepEqual(await get(".linux").bytes(), await Deno.readFile(kernel));
    });
    await t.step(
      "two builds are bit-identical: the stub's time stamp, a correct checksum",
      async () => {
        assert.deepEqual(await Deno.readFile(a), await Deno.readFile(b));
        const bytes = await Deno.readFile(a);
        const pe = readPe(bytes);
        assert.equal(pe.timestamp, readPe(await Deno.readFile(stubFile)).timestamp);
        assert.equal(pe.checksum, peChecksum(bytes));
      },
    );
    await t.step("sbsign signs it reproducibly; sbverify checks it", async () => {
      await makeKeySet(join(tmp, "keys"));
      const { db } = await loadKeySet(join(tmp, "keys"));
      await signEfi(db, a, join(tmp, "a.signed"));
      await new Promise((r) => setTimeout(r, 1100));
      await signEfi(db, b, join(tmp, "b.signed"));
      assert.deepEqual(
        await Deno.readFile(join(tmp, "a.signed")),
        await Deno.readFile(join(tmp, "b.signed")),
      );
      await $`sbverify --cert ${db.cert} ${join(tmp, "a.signed")}`.quiet();
    });
    await t.step("a multi-line command line is refused", async () => {
      await assert.rejects(
        buildUki({ ...parts, cmdline: "a\nb" }, join(tmp, "c.efi"), join(tmp, "wc")),
        /must be one line/,
      );
    });
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("ukiLayout() starts after the stub's last section and aligns each part", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const bytes = await Deno.readFile(await stub(tmp));
    const [o, c, l] = ukiLayout(bytes, [
      { name: ".osrel", size: 10 },
      { name: ".cmdline", size: 4097 },
      { name: ".linux", size: 1 },
    ]);
    // peChecksum() agrees with the checksum the stub's linker wrote.
    assert.equal(peChecksum(bytes), readPe(bytes).checksum);
    assert.equal(c.vma - o.vma, 0x1000n);
    assert.equal(l.vma - c.vma, 0x2000n);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("readPe() refuses what is not a PE file", () => {
  assert.throws(
    () =>
      readPe(
        new TextEncoder().encode(
          "not an EFI program at all, no MZ here....................................",
        ),
      ),
    /no MZ/,
  );
});
