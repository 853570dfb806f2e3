/**
 * Each board's kernel, from the store (built through the runner on the first run,
 * cached after), boots in QEMU (TCG here) to a one-binary initramfs that prints a
 * marker with the guest uptime and powers off. (That the kernel is bit-identical when
 * built in another directory is shown by the long tier's clean builds: the zima image
 * twice, and the rpi image in a fresh clone.)
 *
 *   deno test -A tests/e2e/kernel_boot_test.ts
 */
import { e2eBoardList, withSkipReason } from "./_boards.ts";
import { bootToMarker, buildKernel } from "./_kernel_boot.ts";

for (const e of await e2eBoardList()) {
  const { name, board } = e;
  Deno.test({
    name: withSkipReason(`kernel for ${name} boots in QEMU to the test initramfs`, e),
    ignore: e.skip !== undefined,
  }, async () => {
    const k = await buildKernel(board);
    const b = await bootToMarker(board, k.out!);
    const wall = b.wall.toFixed(1);
    console.log(
      `kernel boot ${name}: userspace at ${b.uptime} s guest uptime, ${wall} s wall, ` +
        `${b.compressedBytes} B compressed kernel`,
    );
  });
}
