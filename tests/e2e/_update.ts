// Shared by the e2e tests that update a device (update_test, secureboot_test): the test
// image, variant roots and their signed bundles, a loopback HTTP server the guest fetches
// them from, and reading the guest's update and boot-gate state.
import assert from "node:assert/strict";
import { join } from "node:path";
import $ from "dax";
import type { Board } from "../../lib/board.ts";
import { defaultDownloadDir, fetchSource } from "../../lib/fetch/mod.ts";
import { extractDeb } from "../../lib/image/deb.ts";
import { type ImagePlan, planImage } from "../../lib/image/plan.ts";
import { dbKey } from "../../lib/secureboot/keys.ts";
import { writeSlotUkis } from "../../lib/secureboot/slot_ukis.ts";
import { defaultStoreDir } from "../../lib/store.ts";
import type { Qemu } from "../../lib/qemu/machine.ts";
import { withImageDef } from "../../lib/qemu/build_image.ts";
import { GuestShell } from "../../lib/qemu/shell.ts";
import { squashfsArgs } from "../../lib/rootfs/stage.ts";
import { addVerity } from "../../lib/rootfs/verity.ts";
import { writeBundle } from "../../lib/update/bundle.ts";
import { updateKey } from "../../lib/update/key.ts";
import { slotPayloads } from "../../lib/update/slot.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
/** The test image's console login (fixtures/test-image.yaml). */
export const LOGIN = { user: "root", password: "icenet-test", timeoutMs: 600_000 };
/** Build a stage of the test image (fixtures/test-image.yaml). */
export function withTestImage<T>(f: () => Promise<T>): Promise<T> {
  return withImageDef(join(FIXTURES, "test-image.yaml"), f);
}

/** A root squashfs like `base`'s with `files` (path -> text) added: `<dir>/root.squashfs`. */
export async function variantRoot(base: string, dir: string, files: Record<string, string>) {
  const tree = join(dir, "tree");
  await Deno.mkdir(dir, { recursive: true });
  await $`unsquashfs -q -no-xattrs -d ${tree} ${join(base, "root.squashfs")}`;
  for (const [path, text] of Object.entries(files)) {
    await Deno.writeTextFile(join(tree, path), text);
  }
  await $`mksquashfs ${squashfsArgs(tree, join(dir, "root.squashfs"))}`;
  await Deno.remove(tree, { recursive: true });
  await addVerity($, dir); // verified, as the rootfs stage's roots are
  return dir;
}

export interface BundleOpts {
  root: string;
  version: string;
  serial: number;
  board?: string;
  /** Appended to each slot's kernel command line. */
  cmdlineExtra?: string;
}

/**
 * A signed bundle of the board's kernel (with the image stage's signed UKIs, where the
 * board has them) and the given root.
 */
/**
 * A directory with each slot's signed UKI for `rootfs` (lib/secureboot/slot_ukis.ts), as
 * the image stage makes them for its own root; undefined for a board without UKIs.
 */
async function slotUkisFor(
  board: Board,
  plan: ImagePlan,
  kernel: string,
  rootfs: string,
  tmp: string,
): Promise<string | undefined> {
  const uki = plan.files.find((f) => "uki" in f);
  if (!uki || !("uki" in uki)) return undefined;
  const store = defaultStoreDir();
  const deb = await fetchSource(plan.sources[uki.uki.source], {
    storeDir: store,
    downloadDir: defaultDownloadDir(store),
  });
  const debDir = join(tmp, "stub");
  await extractDeb(deb, debDir, [`./${uki.uki.stub}`]);
  const out = join(tmp, "image");
  await writeSlotUkis({
    board,
    disk: plan.disk,
    kernel,
    rootfs,
    stub: join(debDir, uki.uki.stub),
    db: await dbKey(),
    out,
    tmp,
  });
  return out;
}

export async function makeBundle(
  board: Board,
  built: { kernel: string; image: string },
  out: string,
  o: BundleOpts,
) {
  const tmp = await Deno.makeTempDir();
  try {
    const plan = planImage(board);
    // Signed UKIs pin the root hash of the root they boot: made for this one.
    const image = await slotUkisFor(board, plan, built.kernel, o.root, tmp) ?? built.image;
    const payloads = await slotPayloads(board, plan.disk, {
      kernel: built.kernel,
      rootfs: o.root,
      image,
    }, tmp);
    if (o.cmdlineExtra) {
      for (const p of payloads.filter((p) => /^slot-[ab]\/cmdline\.txt$/.test(p.name))) {
        const line = (await Deno.readTextFile(p.path)).trim();
        await Deno.writeTextFile(p.path, `${line} ${o.cmdlineExtra}\n`);
      }
    }
    const key = await updateKey();
    await writeBundle(out, {
      board: o.board ?? board.name,
      version: o.version,
      serial: o.serial,
      kernel: board.boot.kernelName,
      payloads,
    }, key.privateFile);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
}

/**
 * Serve the files of `dir` on the host's loopback (the guest reaches it as 10.0.2.2);
 * `slow-<name>` is `<name>` at 1 MiB/s, so that a power cut lands in the middle.
 */
export function serveDir(dir: string) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    let name = new URL(req.url).pathname.slice(1);
    if (!/^[A-Za-z0-9._+-]+$/.test(name)) return new Response("no", { status: 404 });
    const slow = name.startsWith("slow-");
    if (slow) name = name.slice(5);
    try {
      const file = await Deno.open(join(dir, name));
      if (!slow) return new Response(file.readable);
      const chunks = file.readable.pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          async transform(chunk, out) {
            for (let i = 0; i < chunk.length; i += 64 * 1024) {
              out.enqueue(chunk.slice(i, i + 64 * 1024));
              await new Promise((r) => setTimeout(r, 62)); // 64 KiB / 62 ms: about 1 MiB/s
            }
          },
        }),
      );
      return new Response(chunks);
    } catch {
      return new Response("not found", { status: 404 });
    }
  });
}

/** `icenet-update status` as key -> value. */
export async function status(sh: GuestShell): Promise<Record<string, string>> {
  const out = await sh.check("icenet-update status");
  return Object.fromEntries(
    out.trim().split("\n").map((l) => l.split("=")).map(([k, ...v]) => [k.trim(), v.join("=")]),
  );
}

/** Wait until icenet-init's boot gate has a verdict and acted on it; returns its line. */
export async function gateVerdict(sh: GuestShell, timeoutMs = 180_000): Promise<string> {
  const end = performance.now() + timeoutMs;
  while (performance.now() < end) {
    const line = (await sh.check("icenetctl boot")).split("\n").find((l) => l.startsWith("gate "));
    // A verdict, and its command (icenet-update mark-good/mark-bad) done.
    if (line && /^gate (good|bad)/.test(line) && !/ on_(good|bad)=running/.test(line)) {
      return line;
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
  throw new Error("the boot gate gave no verdict");
}

/**
 * Log in once the guest is up: its boot gate passed and was acted on, and DHCP gave it a
 * route (the network service is up when udhcpc runs, before its lease).
 */
export async function loginUp(vm: Qemu, net = true): Promise<GuestShell> {
  const sh = await GuestShell.login(vm.console, LOGIN);
  assert.match(await gateVerdict(sh), /^gate good/);
  if (!net) return sh;
  await sh.check("for i in $(seq 60); do ip -4 route | grep -q ^default && break; sleep 1; done");
  assert.match(await sh.check("ip -4 route"), /^default/m);
  return sh;
}

/** Reboot from the shell; the next login (after whatever boots in between). */
export async function rebootAndLogin(vm: Qemu, sh: GuestShell, net = true): Promise<GuestShell> {
  await sh.send("icenetctl reboot");
  return await loginUp(vm, net);
}
