/**
 * Kernel arguments an image definition adds (`cmdline:` in images/<name>.yaml), kept
 * beside the root they were built with (`cmdline.txt` in the rootfs stage's output, like
 * verity.json): the image stage and update bundles both write each slot's command line
 * from the root it boots, so a release carries its arguments to the device.
 */

/** The file in a rootfs output; absent when the image adds no arguments. */
export const KERNEL_ARGS_FILE = "cmdline.txt";

/**
 * Arguments IceNet writes itself: the root, the verified root, init and the A/B slot.
 * An image that set one would boot something other than its slot's verified root.
 */
const RESERVED =
  /^(root|rootfstype|rootwait|ro|rw|init|dm-mod\.[a-z]+|icenet\.(slot|trial|data))(=|$)/;

/** What is wrong with one kernel argument, or undefined. */
export function kernelArgProblem(arg: string): string | undefined {
  if (!/^[^\s"'\\]+$/.test(arg)) return "one argument, without spaces, quotes or backslashes";
  if (RESERVED.test(arg)) {
    return `IceNet sets ${arg.split("=")[0]} itself (the root, init, the A/B slot, dm-verity)`;
  }
}

/** Write the arguments beside the root (nothing when there are none). */
export async function writeKernelArgs(rootfsOut: string, args: string[]): Promise<void> {
  if (args.length) {
    await Deno.writeTextFile(`${rootfsOut}/${KERNEL_ARGS_FILE}`, args.join(" ") + "\n");
  }
}

/** The arguments a rootfs output was built with; errors name the file. */
export async function readKernelArgs(rootfsOut: string): Promise<string[]> {
  const file = `${rootfsOut}/${KERNEL_ARGS_FILE}`;
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return [];
    throw e;
  }
  const args = text.trim().split(/\s+/).filter(Boolean);
  for (const a of args) {
    const problem = kernelArgProblem(a);
    if (problem) throw new Error(`${file}: "${a}": ${problem}`);
  }
  return args;
}
