/**
 * OVMF's variable store (EDK2's authenticated variable store in a firmware volume, as
 * in Debian's OVMF_VARS_4M.fd): read its variables, and add variables to an empty one —
 * which is how the project's Secure Boot keys get enrolled for QEMU, as
 * virt-fw-vars (python3-virt-firmware, not in Debian 12) does: PK, KEK and db written
 * as the firmware itself stores them after an authenticated SetVariable (the signature
 * list as data, the time-based-authenticated attribute, a time stamp), with EDK2's
 * SecureBootEnable set. With a PK present the firmware starts in user mode with Secure
 * Boot on, and checks every EFI program it loads against db.
 *
 * Layout (EDK2 MdeModulePkg/Include/Guid/VariableFormat.h): the firmware volume header
 * (its HeaderLength), then VARIABLE_STORE_HEADER (signature GUID gEfiAuthenticatedVariable,
 * size, format 0x5A, state 0xFE), then variables, each an AUTHENTICATED_VARIABLE_HEADER
 * (60 bytes: StartId 0x55AA, State, Attributes, MonotonicCount, TimeStamp, PubKeyIndex,
 * NameSize, DataSize, VendorGuid), the UTF-16 name with its NUL, the data, padded to 4
 * bytes. Free space is 0xFF.
 *
 * ```ts
 * const store = addVariables(await Deno.readFile("OVMF_VARS_4M.fd"), [
 *   { name: "PK", guid: EFI_GLOBAL_VARIABLE, attributes: AUTH_ATTRS, data: pkEsl, time },
 * ]);
 * ```
 */

/** EFI_GLOBAL_VARIABLE: PK, KEK, SecureBoot, SetupMode. */
export const EFI_GLOBAL_VARIABLE = "8be4df61-93ca-11d2-aa0d-00e098032b8c";
/** EFI_IMAGE_SECURITY_DATABASE_GUID: db, dbx. */
export const IMAGE_SECURITY_DATABASE = "d719b2cb-3d3a-4596-a3bc-dad00e67656f";
/** EDK2's gEfiSecureBootEnableDisableGuid: SecureBootEnable. */
export const SECURE_BOOT_ENABLE_GUID = "f0a30bc7-af08-4556-99c4-001009c93a44";
/** EDK2's gEfiCustomModeEnableGuid: CustomMode. */
export const CUSTOM_MODE_GUID = "c076ec0c-7028-4399-a072-71ee5c448b9f";

const AUTHENTICATED_VARIABLE_STORE = "aaf32c78-947b-439a-a180-2e144ec37792";
const NON_VOLATILE = 0x1, BOOTSERVICE_ACCESS = 0x2, RUNTIME_ACCESS = 0x4;
const TIME_BASED_AUTHENTICATED_WRITE_ACCESS = 0x20;
/** NV + BS: EDK2's own settings. */
export const NV_BS = NON_VOLATILE | BOOTSERVICE_ACCESS;
/** NV + BS + RT + time-based authenticated writes: PK, KEK, db. */
export const AUTH_ATTRS = NV_BS | RUNTIME_ACCESS | TIME_BASED_AUTHENTICATED_WRITE_ACCESS;

const HEADER = 60;
const START_ID = 0x55aa;
const VAR_ADDED = 0x3f;

/** One variable. */
export interface EfiVariable {
  name: string;
  guid: string;
  attributes: number;
  data: Uint8Array;
  /** The authenticated-write time stamp (time-based variables); zero when absent. */
  time?: Date;
}

/** A GUID's bytes in EFI's mixed-endian layout. */
export function guidBytes(guid: string): Uint8Array {
  const hex = guid.replaceAll("-", "");
  if (!/^[0-9a-f]{32}$/i.test(hex)) throw new Error(`not a GUID: ${guid}`);
  const b = Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  return b;
}

function guidString(b: Uint8Array): string {
  const c = Uint8Array.from(b);
  c.subarray(0, 4).reverse();
  c.subarray(4, 6).reverse();
  c.subarray(6, 8).reverse();
  const h = [...c].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** The variable store's region of a firmware volume: [start of variables, end]. */
function storeRegion(fv: Uint8Array): { first: number; end: number } {
  const v = new DataView(fv.buffer, fv.byteOffset, fv.byteLength);
  if (fv.length < 0x48 || new TextDecoder().decode(fv.subarray(40, 44)) !== "_FVH") {
    throw new Error("not an EDK2 firmware volume (no _FVH signature)");
  }
  const at = v.getUint16(48, true);
  if (guidString(fv.subarray(at, at + 16)) !== AUTHENTICATED_VARIABLE_STORE) {
    throw new Error("not an authenticated variable store (OVMF built with Secure Boot support)");
  }
  const size = v.getUint32(at + 16, true);
  if (fv[at + 20] !== 0x5a || fv[at + 21] !== 0xfe) {
    throw new Error("variable store not formatted or not healthy");
  }
  return { first: align4(at + 28), end: at + size };
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** The variables of a store that are in force (state VAR_ADDED), in order. */
export function readVariables(fv: Uint8Array): EfiVariable[] {
  const v = new DataView(fv.buffer, fv.byteOffset, fv.byteLength);
  const { first, end } = storeRegion(fv);
  const out: EfiVariable[] = [];
  for (let p = first; p + HEADER <= end && v.getUint16(p, true) === START_ID;) {
    const nameSize = v.getUint32(p + 36, true), dataSize = v.getUint32(p + 40, true);
    const name = new TextDecoder("utf-16le").decode(fv.subarray(p + HEADER, p + HEADER + nameSize))
      .replace(/\0+$/, "");
    if (fv[p + 2] === VAR_ADDED) {
      const year = v.getUint16(p + 16, true);
      out.push({
        name,
        guid: guidString(fv.subarray(p + 44, p + 60)),
        attributes: v.getUint32(p + 4, true),
        data: fv.slice(p + HEADER + nameSize, p + HEADER + nameSize + dataSize),
        ...(year
          ? {
            time: new Date(
              Date.UTC(year, fv[p + 18] - 1, fv[p + 19], fv[p + 20], fv[p + 21], fv[p + 22]),
            ),
          }
          : {}),
      });
    }
    p = align4(p + HEADER + nameSize + dataSize);
  }
  return out;
}

/** `fv` with `vars` added after its last variable; throws if the store is full. */
export function addVariables(fv: Uint8Array, vars: EfiVariable[]): Uint8Array {
  const out = Uint8Array.from(fv);
  const v = new DataView(out.buffer);
  const { first, end } = storeRegion(out);
  let p = first;
  while (p + HEADER <= end && v.getUint16(p, true) === START_ID) {
    p = align4(p + HEADER + v.getUint32(p + 36, true) + v.getUint32(p + 40, true));
  }
  for (const x of vars) {
    const name = new Uint8Array(
      new Uint16Array([...x.name].map((c) => c.charCodeAt(0)).concat(0)).buffer,
    );
    const size = HEADER + name.length + x.data.length;
    if (p + size > end) throw new Error(`variable store full: no room for ${x.name}`);
    if (out.subarray(p, p + size).some((b) => b !== 0xff)) {
      throw new Error(`variable store: space after the last variable is not free`);
    }
    v.setUint16(p, START_ID, true);
    out[p + 2] = VAR_ADDED;
    out[p + 3] = 0;
    v.setUint32(p + 4, x.attributes, true);
    v.setBigUint64(p + 8, 0n, true);
    out.fill(0, p + 16, p + 32);
    if (x.time) {
      v.setUint16(p + 16, x.time.getUTCFullYear(), true);
      out.set(
        [
          x.time.getUTCMonth() + 1,
          x.time.getUTCDate(),
          x.time.getUTCHours(),
          x.time.getUTCMinutes(),
          x.time.getUTCSeconds(),
        ],
        p + 18,
      );
    }
    v.setUint32(p + 32, 0, true); // PubKeyIndex
    v.setUint32(p + 36, name.length, true);
    v.setUint32(p + 40, x.data.length, true);
    out.set(guidBytes(x.guid), p + 44);
    out.set(name, p + HEADER);
    out.set(x.data, p + HEADER + name.length);
    p = align4(p + size);
  }
  return out;
}

/**
 * The variables that enrol a Secure Boot key set (signature lists of PK, KEK, db) and
 * turn Secure Boot on, stamped `time`.
 */
export function secureBootVariables(
  esl: { PK: Uint8Array; KEK: Uint8Array; db: Uint8Array },
  time: Date,
): EfiVariable[] {
  return [
    { name: "db", guid: IMAGE_SECURITY_DATABASE, attributes: AUTH_ATTRS, data: esl.db, time },
    { name: "KEK", guid: EFI_GLOBAL_VARIABLE, attributes: AUTH_ATTRS, data: esl.KEK, time },
    { name: "PK", guid: EFI_GLOBAL_VARIABLE, attributes: AUTH_ATTRS, data: esl.PK, time },
    {
      name: "SecureBootEnable",
      guid: SECURE_BOOT_ENABLE_GUID,
      attributes: NV_BS,
      data: Uint8Array.of(1),
    },
    { name: "CustomMode", guid: CUSTOM_MODE_GUID, attributes: NV_BS, data: Uint8Array.of(0) },
  ];
}
