// Real loop devices for the flash tests (root only): attached with losetup, detached
// when the `await using` scope ends, whatever happened in it.
import { join } from "node:path";
import $ from "dax";
import { noise } from "./_image.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** An attached loop device; detached on dispose. */
export interface Loop extends AsyncDisposable {
  dev: string;
}

/** Attach `file` (optionally read-only, or a window of it) to a free loop device. */
export async function attachLoop(
  file: string,
  opts: { readOnly?: boolean; offset?: number; bytes?: number } = {},
): Promise<Loop> {
  const args = ["-f", "--show"];
  if (opts.readOnly) args.push("-r");
  if (opts.offset !== undefined) args.push("-o", String(opts.offset));
  if (opts.bytes !== undefined) args.push("--sizelimit", String(opts.bytes));
  const dev = (await $`losetup ${args} ${file}`.text()).trim();
  return {
    dev,
    async [Symbol.asyncDispose]() {
      await $`losetup -d ${dev}`.noThrow().quiet();
    },
  };
}

/** A backing file of `bytes`: zeros (sparse) or pseudo-random bytes from `seed`. */
export async function backingFile(
  path: string,
  bytes: number,
  fill: "zero" | "random",
  seed = 77,
): Promise<string> {
  using f = await Deno.open(path, { write: true, create: true, truncate: true });
  if (fill === "zero") {
    await f.truncate(bytes);
    return path;
  }
  const chunk = noise(1 << 20, seed);
  for (let pos = 0; pos < bytes; pos += chunk.length) {
    const part = chunk.subarray(0, Math.min(chunk.length, bytes - pos));
    // Vary each MiB so no two blocks of the device are alike.
    part[0] = pos >> 20;
    for (let w = 0; w < part.length;) w += await f.write(part.subarray(w));
  }
  return path;
}

/** sha256 of the first `bytes` of a device or file. */
export async function headSha256(path: string, bytes: number): Promise<string> {
  const r = await $`head -c ${bytes} ${path} | sha256sum`.text();
  return r.split(" ")[0];
}

/** The result of running `deno task flash`. */
export interface FlashRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run bin/flash.ts with `args`, stdin closed (no terminal). */
export async function runFlash(args: string[]): Promise<FlashRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "bin/flash.ts"), ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { RUST_BACKTRACE: "0", NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}
