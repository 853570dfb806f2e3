/**
 * The Wi-Fi firmware and regulatory packages of the Pi (kind `deb`), built for the rpi
 * board and unpacked: every file name brcmfmac requests for the Pi 3B (BCM43430) and
 * the Pi 3B+/4/CM4 (BCM43455) resolves, through the package's symlinks, to a regular
 * file with the bytes of Debian's own file (the .deb extracted here independently with
 * dpkg-deb), and regulatory.db comes with the upstream DER PKCS#7 signature, which
 * verifies against the regdb certificates the mainline kernel builds in.
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { sha256File } from "../../lib/hash.ts";
import { defaultDownloadDir, fetchSource } from "../../lib/fetch/mod.ts";
import { KERNEL_SOURCE, KERNEL_TREE } from "../../lib/kernel_source.ts";
import { loadRecipe } from "../../lib/recipe/load.ts";
import { defaultStoreDir } from "../../lib/store.ts";
import { buildReal, packageIn, ROOT, unpackPackages } from "../rootfs/_real.ts";
import { run } from "../userland/_build.ts";

const BRCM = "lib/firmware/brcm";

/** What brcmfmac asks for per board: firmware, CLM blob, board nvram -> the .deb's file. */
const REQUESTS: [board: string, request: string, debFile: string][] = [
  ["Pi 3B", "brcmfmac43430-sdio.bin", "lib/firmware/cypress/cyfmac43430-sdio.bin"],
  ["Pi 3B", "brcmfmac43430-sdio.clm_blob", "lib/firmware/cypress/cyfmac43430-sdio.clm_blob"],
  [
    "Pi 3B",
    "brcmfmac43430-sdio.raspberrypi,3-model-b.txt",
    `${BRCM}/brcmfmac43430-sdio.raspberrypi,3-model-b.txt`,
  ],
  ["Pi 3B+/4/CM4", "brcmfmac43455-sdio.bin", "lib/firmware/cypress/cyfmac43455-sdio.bin"],
  [
    "Pi 3B+/4/CM4",
    "brcmfmac43455-sdio.clm_blob",
    "lib/firmware/cypress/cyfmac43455-sdio.clm_blob",
  ],
  [
    "Pi 3B+",
    "brcmfmac43455-sdio.raspberrypi,3-model-b-plus.txt",
    `${BRCM}/brcmfmac43455-sdio.raspberrypi,3-model-b-plus.txt`,
  ],
  [
    "Pi 4B",
    "brcmfmac43455-sdio.raspberrypi,4-model-b.txt",
    `${BRCM}/brcmfmac43455-sdio.raspberrypi,4-model-b.txt`,
  ],
  // The CM4's compatible has no nvram of its own: the generic name is the Pi 4B's.
  ["CM4", "brcmfmac43455-sdio.txt", `${BRCM}/brcmfmac43455-sdio.raspberrypi,4-model-b.txt`],
];

/** The recipe's .deb from the download dir (fetched and checked like any source). */
async function extractDeb(pkg: string, dir: string): Promise<void> {
  const r = await loadRecipe(ROOT, pkg);
  const store = defaultStoreDir();
  const deb = await fetchSource(r.sources.main, {
    downloadDir: defaultDownloadDir(store),
    storeDir: store,
  });
  const x = await run(["dpkg-deb", "-x", deb, dir]);
  assert.equal(x.code, 0, x.stderr);
}

/**
 * The regdb certificates of the kernel source the boards build
 * (net/wireless/certs/*.hex, C arrays of DER bytes) as one PEM file under `dir`,
 * Debian's own left out: CONFIG_CFG80211_USE_KERNEL_REGDB_KEYS builds these in.
 */
async function mainlineRegdbCerts(dir: string): Promise<string> {
  const store = defaultStoreDir();
  const tarball = await fetchSource(KERNEL_SOURCE, {
    downloadDir: defaultDownloadDir(store),
    storeDir: store,
  });
  const src = join(dir, "kernel");
  await Deno.mkdir(src);
  const x = await run(["tar", "-xJf", tarball, "-C", src, "--wildcards", "*/net/wireless/certs/*"]);
  assert.equal(x.code, 0, x.stderr);
  const certs = join(src, KERNEL_TREE, "net/wireless/certs");
  const pem: string[] = [];
  for (const e of [...Deno.readDirSync(certs)].map((e) => e.name).sort()) {
    if (!e.endsWith(".hex") || e === "debian.hex") continue;
    const hex = (await Deno.readTextFile(join(certs, e))).match(/0x[0-9a-f]{2}/gi) ?? [];
    const der = join(src, e.replace(/\.hex$/, ".der"));
    await Deno.writeFile(der, new Uint8Array(hex.map((b) => parseInt(b, 16))));
    const r = await run(["openssl", "x509", "-inform", "DER", "-in", der]);
    assert.equal(r.code, 0, `${e}: ${r.stderr}`);
    pem.push(r.stdout);
  }
  assert.ok(pem.length >= 2, `only ${pem.length} mainline regdb certificates in ${certs}`);
  const out = join(dir, "mainline-regdb.pem");
  await Deno.writeTextFile(out, pem.join(""));
  return out;
}

/** `path` inside `tree` with its symlinks followed (a link leaving the tree fails). */
async function resolveIn(tree: string, path: string): Promise<string> {
  const real = await Deno.realPath(join(tree, path));
  const rel = relative(await Deno.realPath(tree), real);
  assert.ok(!rel.startsWith(".."), `${path} resolves outside the package: ${real}`);
  return real;
}

Deno.test("rpi: brcmfmac finds its Pi firmware, and regulatory.db its upstream signature", async (t) => {
  const res = await buildReal(["pkg:firmware-brcm80211", "pkg:wireless-regdb"], "rpi");
  const dir = await Deno.makeTempDir({ prefix: "icenet-firmware-" });
  try {
    const files = {
      fw: packageIn(res.get("pkg:firmware-brcm80211")!.out!),
      regdb: packageIn(res.get("pkg:wireless-regdb")!.out!),
    };
    const tree = join(dir, "root");
    await Deno.mkdir(tree);
    await unpackPackages(Object.values(files), tree);
    const deb = { fw: join(dir, "fw-deb"), regdb: join(dir, "regdb-deb") };
    await extractDeb("firmware-brcm80211", deb.fw);
    await extractDeb("wireless-regdb", deb.regdb);

    for (const [board, request, debFile] of REQUESTS) {
      await t.step(`${board}: ${request}`, async () => {
        const real = await resolveIn(tree, `${BRCM}/${request}`);
        assert.ok((await Deno.lstat(real)).isFile, `${request} is not a regular file`);
        assert.equal((await Deno.lstat(real)).mode! & 0o777, 0o644);
        assert.equal(await sha256File(real), await sha256File(join(deb.fw, debFile)));
      });
    }

    await t.step("noarch packages, the licenses kept", async () => {
      assert.match(files.fw, /firmware-brcm80211-20230210-r\d+\.noarch\.ice$/);
      assert.match(files.regdb, /wireless-regdb-2026\.05\.30-r\d+\.noarch\.ice$/);
      for (const p of ["firmware-brcm80211", "wireless-regdb"]) {
        const c = `usr/share/doc/${p}/copyright`;
        const d = p === "wireless-regdb" ? deb.regdb : deb.fw;
        assert.equal(await sha256File(join(tree, c)), await sha256File(join(d, c)));
      }
    });

    await t.step(
      "regulatory.db and .p7s are the upstream ones, signed by a key mainline Linux builds in",
      async () => {
        for (const f of ["regulatory.db", "regulatory.db.p7s"]) {
          const got = join(tree, "lib/firmware", f);
          assert.ok((await Deno.lstat(got)).isFile, `${f} is not a regular file`);
          assert.equal(
            await sha256File(got),
            await sha256File(join(deb.regdb, "lib/firmware", `${f}-upstream`)),
          );
        }
        // regulatory.db's magic "RGDB" (net/wireless/reg.c), version 20.
        const db = await Deno.readFile(join(tree, "lib/firmware/regulatory.db"));
        assert.deepEqual([...db.subarray(0, 8)], [0x52, 0x47, 0x44, 0x42, 0, 0, 0, 20]);
        // The signature verifies against the regdb certificates mainline Linux builds in
        // (net/wireless/certs of the kernel source the boards build; Debian's own
        // benh@debian.org certificate left out), and only for these bytes.
        const certs = await mainlineRegdbCerts(dir);
        const verify = async (content: string) =>
          await run([
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            join(tree, "lib/firmware/regulatory.db.p7s"),
            "-content",
            content,
            "-CAfile",
            certs,
            "-purpose",
            "any",
            "-out",
            "/dev/null",
          ]);
        const ok = await verify(join(tree, "lib/firmware/regulatory.db"));
        assert.equal(ok.code, 0, ok.stderr);
        const bad = join(dir, "tampered.db");
        db[db.length - 1] ^= 1;
        await Deno.writeFile(bad, db);
        assert.notEqual((await verify(bad)).code, 0, "a changed regulatory.db verified");
        const signer = await run([
          "openssl",
          "pkcs7",
          "-inform",
          "DER",
          "-print_certs",
          "-noout",
          "-in",
          join(tree, "lib/firmware/regulatory.db.p7s"),
        ]);
        assert.equal(signer.code, 0, signer.stderr);
        // Chen-Yu Tsai (wens) signs the database since Seth Forshee (sforshee) handed it over.
        assert.match(signer.stdout, /subject=CN\s*=\s*(wens|sforshee)\n/);
        // Not Debian's signature: that one needs Debian's kernel certificate.
        assert.notEqual(
          await sha256File(join(tree, "lib/firmware/regulatory.db.p7s")),
          await sha256File(join(deb.regdb, "lib/firmware/regulatory.db.p7s-debian")),
        );
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
