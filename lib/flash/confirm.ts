/**
 * Asking before a destructive write. Only a terminal is asked; without one the answer
 * is no (a script must say --yes), so nothing waits on a pipe that never answers.
 *
 * ```ts
 * if (!(await confirm("Write to /dev/sdb?"))) Deno.exit(3);
 * ```
 */

/** Whether the person at the terminal typed "yes" (or "y"); false without a terminal. */
export async function confirm(
  question: string,
  input: Deno.FsFile | typeof Deno.stdin = Deno.stdin,
): Promise<boolean> {
  if (!input.isTerminal()) return false;
  await Deno.stderr.write(new TextEncoder().encode(`${question} [yes/no] `));
  const buf = new Uint8Array(256);
  let line = "";
  while (!line.includes("\n")) {
    const n = await input.read(buf);
    if (n === null) break;
    line += new TextDecoder().decode(buf.subarray(0, n));
  }
  return /^\s*(y|yes)\s*$/i.test(line.split("\n")[0]);
}
