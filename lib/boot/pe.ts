/**
 * The few facts of a PE/COFF image (an EFI program) the UKI builder needs: where its
 * sections lie, and the two header fields a rebuild must set so that the output depends
 * on its inputs only (objcopy stamps the current time into a PE file it writes, and the
 * header checksum covers that stamp).
 *
 * ```ts
 * const pe = readPe(await Deno.readFile("linuxx64.efi.stub"));
 * pe.sections.at(-1); // { name: ".sdmagic", rva: 0x19100, virtualSize: 0x34, ... }
 * ```
 */

/** One section header. */
export interface PeSection {
  name: string;
  /** Relative virtual address (from the image base). */
  rva: number;
  virtualSize: number;
  rawOffset: number;
  rawSize: number;
}

/** What the headers say. */
export interface PeInfo {
  /** Offset of the "PE\0\0" signature. */
  peOffset: number;
  imageBase: bigint;
  sectionAlignment: number;
  fileAlignment: number;
  timestamp: number;
  checksum: number;
  sections: PeSection[];
}

/** Offset of the optional header's CheckSum field (PE32 and PE32+ alike). */
const CHECKSUM_AT = 64;

/** Parse the headers of a PE32 or PE32+ image; throws on anything else. */
export function readPe(b: Uint8Array): PeInfo {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 0x40 || v.getUint16(0, true) !== 0x5a4d) throw new Error("not a PE file (no MZ)");
  const pe = v.getUint32(0x3c, true);
  if (pe + 24 > b.length || v.getUint32(pe, true) !== 0x4550) {
    throw new Error("not a PE file (no PE signature)");
  }
  const nsec = v.getUint16(pe + 6, true);
  const timestamp = v.getUint32(pe + 8, true);
  const optSize = v.getUint16(pe + 20, true);
  const opt = pe + 24;
  const magic = v.getUint16(opt, true);
  if (magic !== 0x10b && magic !== 0x20b) throw new Error(`PE optional header magic ${magic}`);
  const imageBase = magic === 0x20b
    ? v.getBigUint64(opt + 24, true)
    : BigInt(v.getUint32(opt + 28, true));
  const sections: PeSection[] = [];
  const table = opt + optSize;
  for (let i = 0; i < nsec; i++) {
    const s = table + 40 * i;
    const raw = b.subarray(s, s + 8);
    const end = raw.indexOf(0);
    sections.push({
      name: new TextDecoder().decode(end < 0 ? raw : raw.subarray(0, end)),
      virtualSize: v.getUint32(s + 8, true),
      rva: v.getUint32(s + 12, true),
      rawSize: v.getUint32(s + 16, true),
      rawOffset: v.getUint32(s + 20, true),
    });
  }
  return {
    peOffset: pe,
    imageBase,
    sectionAlignment: v.getUint32(opt + 32, true),
    fileAlignment: v.getUint32(opt + 36, true),
    timestamp,
    checksum: v.getUint32(opt + CHECKSUM_AT, true),
    sections,
  };
}

/** The PE checksum (as Windows' CheckSumMappedFile computes it) of an image. */
export function peChecksum(b: Uint8Array): number {
  const at = readPe(b).peOffset + 24 + CHECKSUM_AT;
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) {
    if (i >= at && i < at + 4) continue; // the field itself counts as zero
    sum += b[i] | (i + 1 < b.length ? b[i + 1] << 8 : 0);
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum + b.length) >>> 0;
}

/** Set the COFF header's time stamp and recompute the checksum, in place. */
export function setPeTimestamp(b: Uint8Array, timestamp: number): void {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const pe = readPe(b).peOffset;
  v.setUint32(pe + 8, timestamp >>> 0, true);
  v.setUint32(pe + 24 + CHECKSUM_AT, peChecksum(b), true);
}
