// OVMF's variable store, read and written on Debian's own OVMF_VARS files: the Microsoft
// keys of OVMF_VARS_4M.ms.fd as EDK2 stored them, and an empty store with a key set added.
import assert from "node:assert/strict";
import {
  addVariables,
  AUTH_ATTRS,
  EFI_GLOBAL_VARIABLE,
  guidBytes,
  IMAGE_SECURITY_DATABASE,
  readVariables,
  SECURE_BOOT_ENABLE_GUID,
  secureBootVariables,
} from "../../lib/qemu/ovmf_vars.ts";

const EMPTY = "/usr/share/OVMF/OVMF_VARS_4M.fd";
const MS = "/usr/share/OVMF/OVMF_VARS_4M.ms.fd";

Deno.test("readVariables() reads the keys EDK2 enrolled in Debian's OVMF_VARS_4M.ms.fd", async () => {
  const vars = readVariables(await Deno.readFile(MS));
  const by = (n: string) => vars.filter((v) => v.name === n);
  const [pk] = by("PK"), [db] = by("db");
  assert.equal(pk.guid, EFI_GLOBAL_VARIABLE);
  assert.equal(db.guid, IMAGE_SECURITY_DATABASE);
  for (const v of [pk, db, ...by("KEK")]) {
    assert.equal(v.attributes, AUTH_ATTRS, v.name);
    assert.ok(v.time && v.time.getUTCFullYear() >= 2020, v.name);
    // The data is an EFI_SIGNATURE_LIST: its own size field.
    assert.equal(new DataView(v.data.buffer).getUint32(16, true) <= v.data.length, true);
  }
  assert.deepEqual([...by("SecureBootEnable").at(-1)!.data], [1]);
  assert.equal(readVariables(await Deno.readFile(EMPTY)).length, 0);
});

Deno.test("addVariables() writes a key set that readVariables() reads back, and keeps the rest", async () => {
  const empty = await Deno.readFile(EMPTY);
  const esl = (n: number) => new Uint8Array(100 + n).fill(n);
  const time = new Date(Date.UTC(2025, 0, 1));
  const store = addVariables(
    empty,
    secureBootVariables({ PK: esl(1), KEK: esl(2), db: esl(3) }, time),
  );
  assert.equal(store.length, empty.length);
  const vars = readVariables(store);
  assert.deepEqual(vars.map((v) => v.name), ["db", "KEK", "PK", "SecureBootEnable", "CustomMode"]);
  assert.deepEqual(vars[2].data, esl(1));
  assert.equal(vars[2].time?.toISOString(), time.toISOString());
  assert.equal(vars[3].guid, SECURE_BOOT_ENABLE_GUID);
  // Only the variable area changed: the firmware volume header and what follows the store
  // (the fault-tolerant-write areas) are as they were.
  assert.deepEqual(store.subarray(0, 0x64), empty.subarray(0, 0x64));
  assert.deepEqual(store.subarray(0x40000), empty.subarray(0x40000));
  // Added to a store that has variables, after them.
  const more = addVariables(store, [{
    name: "x",
    guid: EFI_GLOBAL_VARIABLE,
    attributes: 7,
    data: esl(4),
  }]);
  assert.deepEqual(readVariables(more).map((v) => v.name).at(-1), "x");
  assert.throws(
    () =>
      addVariables(empty, [{
        name: "big",
        guid: EFI_GLOBAL_VARIABLE,
        attributes: 7,
        data: new Uint8Array(300_000),
      }]),
    /variable store full: no room for big/,
  );
  assert.throws(() => addVariables(new Uint8Array(4096), []), /not an EDK2 firmware volume/);
});

Deno.test("guidBytes() lays a GUID out as EFI does (first three fields little-endian)", () => {
  assert.deepEqual(
    [...guidBytes("8be4df61-93ca-11d2-aa0d-00e098032b8c")],
    [
      0x61,
      0xdf,
      0xe4,
      0x8b,
      0xca,
      0x93,
      0xd2,
      0x11,
      0xaa,
      0x0d,
      0x00,
      0xe0,
      0x98,
      0x03,
      0x2b,
      0x8c,
    ],
  );
});
