// Secure Boot key sets: certificates as a function of the keys, the development set made
// once under the store and said out loud, ICENET_SECUREBOOT_KEYS, and the enrolment files
// (real openssl, sbsiglist, sbvarsign).
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import { OWNER_GUID, writeEnrolFiles } from "../../lib/secureboot/enrol.ts";
import {
  dbKey,
  KEY_NAMES,
  loadKeySet,
  makeKeySet,
  secureBootKeys,
} from "../../lib/secureboot/keys.ts";

async function withEnv<T>(name: string, value: string | undefined, f: () => Promise<T>) {
  const before = Deno.env.get(name);
  if (value === undefined) Deno.env.delete(name);
  else Deno.env.set(name, value);
  try {
    return await f();
  } finally {
    if (before === undefined) Deno.env.delete(name);
    else Deno.env.set(name, before);
  }
}

Deno.test("makeKeySet(): RSA-2048 keys and self-signed certificates that the keys alone decide", async (t) => {
  const tmp = await Deno.makeTempDir();
  try {
    const a = join(tmp, "a"), b = join(tmp, "b");
    await makeKeySet(a);
    await Deno.mkdir(b);
    for (const n of KEY_NAMES) await Deno.copyFile(join(a, `${n}.key`), join(b, `${n}.key`));
    await makeKeySet(b);
    for (const n of KEY_NAMES) {
      await t.step(n, async () => {
        const cert = await Deno.readFile(join(a, `${n}.crt`));
        assert.deepEqual(await Deno.readFile(join(b, `${n}.crt`)), cert, "same key, same cert");
        const text = await $`openssl x509 -in ${join(a, `${n}.crt`)} -noout -text`.text();
        assert.match(text, /Public-Key: \(2048 bit\)/);
        assert.match(text, new RegExp(`Subject: CN = IceNet-OS ${n} [0-9a-f]{8}\\n`));
        assert.match(text, /Issuer: CN = IceNet-OS/);
        assert.match(text, /Not Before: Jan {2}1 00:00:00 2025 GMT/);
        await $`openssl verify -CAfile ${join(a, `${n}.crt`)} -check_ss_sig -partial_chain ${
          join(a, `${n}.crt`)
        }`.quiet();
        assert.equal((await Deno.stat(join(a, `${n}.key`))).mode! & 0o777, 0o600);
      });
    }
    const [ka, kb] = [await loadKeySet(a), await loadKeySet(b)];
    assert.equal(ka.id, kb.id);
    await Deno.remove(join(b, "KEK.crt"));
    await assert.rejects(loadKeySet(b), /KEK\.crt: missing .*deno task keys secureboot/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("secureBootKeys(): the store's development set, made once and said out loud; or ICENET_SECUREBOOT_KEYS", async () => {
  const store = await Deno.makeTempDir();
  const errors: string[] = [];
  const error = console.error;
  console.error = (...a: unknown[]) => errors.push(a.join(" "));
  try {
    const first = await withEnv("ICENET_SECUREBOOT_KEYS", undefined, () => secureBootKeys(store));
    const again = await withEnv("ICENET_SECUREBOOT_KEYS", undefined, () => secureBootKeys(store));
    assert.ok(first.development);
    assert.equal(first.dir, join(store, "secureboot-keys", "development"));
    assert.equal(again.id, first.id);
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(errors[0], /development key [0-9a-f]{16} .*set ICENET_SECUREBOOT_KEYS/);
    const given = join(store, "release");
    await makeKeySet(given);
    const rel = await withEnv("ICENET_SECUREBOOT_KEYS", given, () => secureBootKeys(store));
    assert.equal(rel.dir, given);
    assert.ok(!rel.development);
    assert.notEqual(rel.id, first.id);
    await assert.rejects(
      withEnv("ICENET_SECUREBOOT_KEYS", join(store, "nope"), () => secureBootKeys(store)),
      /ICENET_SECUREBOOT_KEYS=.*nope: cannot read/,
    );
    // Building needs db only: PK and KEK may be kept offline.
    for (const n of ["PK", "KEK"]) await Deno.remove(join(given, `${n}.key`));
    const db = await withEnv("ICENET_SECUREBOOT_KEYS", given, () => dbKey(store));
    assert.deepEqual([db.key, db.cert, db.id], [rel.db.key, rel.db.cert, rel.id]);
    await assert.rejects(
      withEnv("ICENET_SECUREBOOT_KEYS", given, () => secureBootKeys(store)),
      /PK\.key: missing/,
    );
  } finally {
    console.error = error;
    await Deno.remove(store, { recursive: true });
  }
});

Deno.test("writeEnrolFiles(): certificates, signature lists and signed updates, reproducibly", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const a = join(tmp, "a"), b = join(tmp, "b");
    const files = await writeEnrolFiles(a);
    await Deno.mkdir(b);
    for (const n of KEY_NAMES) await Deno.copyFile(join(a, `${n}.key`), join(b, `${n}.key`));
    await writeEnrolFiles(b);
    const names = files.map((f) => f.slice(a.length + 1));
    for (const n of KEY_NAMES) {
      for (const ext of ["crt", "cer", "esl", "auth"]) assert.ok(names.includes(`${n}.${ext}`));
    }
    assert.ok(names.includes("PK-delete.auth"));
    for (const n of names) {
      assert.deepEqual(await Deno.readFile(join(a, n)), await Deno.readFile(join(b, n)), n);
    }
    // EFI_SIGNATURE_LIST: EFI_CERT_X509_GUID, sizes, then the owner and the DER cert.
    const esl = await Deno.readFile(join(a, "db.esl"));
    const cer = await Deno.readFile(join(a, "db.cer"));
    const v = new DataView(esl.buffer);
    assert.equal(v.getUint32(16, true), esl.length);
    assert.equal(v.getUint32(24, true), 16 + cer.length);
    assert.deepEqual(esl.subarray(28 + 16), cer);
    assert.equal(
      [...esl.subarray(28, 32)].reverse().map((x) => x.toString(16).padStart(2, "0")).join(""),
      OWNER_GUID.slice(0, 8),
    );
    // An .auth file: EFI_TIME (2025-01-01), then WIN_CERTIFICATE_UEFI_GUID, then the list.
    const auth = await Deno.readFile(join(a, "db.auth"));
    const av = new DataView(auth.buffer);
    assert.equal(av.getUint16(0, true), 2025);
    assert.equal(av.getUint16(16 + 6, true), 0x0ef1); // WIN_CERT_TYPE_EFI_GUID
    assert.deepEqual(auth.subarray(auth.length - esl.length), esl);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});
