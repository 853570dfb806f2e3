/** Flip the bits `mask` of the byte at `at` of `file` in place (tests that damage data). */
export async function flipByte(file: string, at: number, mask = 0x80): Promise<void> {
  using f = await Deno.open(file, { read: true, write: true });
  const b = new Uint8Array(1);
  await f.seek(at, Deno.SeekMode.Start);
  if (await f.read(b) !== 1) throw new Error(`${file}: no byte at ${at}`);
  await f.seek(at, Deno.SeekMode.Start);
  await f.write(new Uint8Array([b[0] ^ mask]));
}
