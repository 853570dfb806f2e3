import { join } from "node:path";
import { loadBoard } from "./lib/board.ts";
import { buildImage, buildStage } from "./lib/qemu/build_image.ts";
import { boardVm } from "./lib/qemu/board_vm.ts";
import { startGuest } from "./lib/qemu/machine.ts";
import { GuestShell } from "./lib/qemu/shell.ts";
import { writeBundle } from "./lib/update/bundle.ts";
import { updateKey } from "./lib/update/key.ts";
import { slotPayloads } from "./lib/update/slot.ts";
import { planImage } from "./lib/image/plan.ts";
Deno.env.set("ICENET_IMAGE", "tests/e2e/fixtures/test-image.yaml");
const board = await loadBoard(Deno.cwd(), "zima");
const image = await buildImage(Deno.cwd(), board, true);
const kernel = await buildStage(Deno.cwd(), board, "kernel", true);
const rootfs = await buildStage(Deno.cwd(), board, "rootfs", true);
const work = await Deno.makeTempDir({ prefix: "dbg-" });
const tmp = join(work, "p");
await Deno.mkdir(tmp);
const payloads = await slotPayloads(board, planImage(board).disk, { kernel, rootfs }, tmp);
await writeBundle(join(work, "v2"), {
  board: "zima",
  version: "2",
  serial: 2,
  kernel: "vmlinuz",
  payloads,
}, (await updateKey()).privateFile);
const server = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  async () => new Response((await Deno.open(join(work, "v2"))).readable),
);
const vm = await startGuest(
  await boardVm(board, image, work, {}),
  (s) => Deno.writeTextFileSync(join(work, "console.log"), s, { append: true }),
);
const sh = await GuestShell.login(vm.console, {
  user: "root",
  password: "icenet-test",
  timeoutMs: 600000,
});
for (
  const c of [
    "cat /proc/self/mountinfo",
    "icenet-update status",
    "cat /proc/self/mountinfo | grep -i boot",
    `time icenet-update install http://10.0.2.2:${server.addr.port}/v2`,
    "cat /proc/self/mountinfo | grep -i vda1",
    "icenet-update status",
    "ls -la /boot /boot/loader/entries",
    "icenetctl boot",
  ]
) {
  const r = await sh.run(c, 300000);
  console.log(`$ ${c} -> ${r.status}\n${r.out}`);
}
await vm.stop(1000);
await server.shutdown();
console.log(work);
