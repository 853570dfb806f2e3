/**
 * Checks of the e2e boots for issue 17: first-boot settings from the boot partition
 * (base-files' setup service) and the local console (a login on tty1 typed on a USB
 * keyboard, the screen kept as a picture and read back with OCR).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { HumanMonitor } from "../../lib/qemu/monitor.ts";
import type { GuestShell } from "../../lib/qemu/shell.ts";
import { defaultStoreDir } from "../../lib/store.ts";

/** A fresh SSH key pair (dropbear format) for a first-boot file: [private key file, public line]. */
export async function freshKey(dir: string): Promise<[string, string]> {
  const file = join(dir, "first_boot_key");
  const gen = await new Deno.Command("dropbearkey", {
    args: ["-t", "ed25519", "-f", file],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(gen.success, new TextDecoder().decode(gen.stderr));
  const pub = new TextDecoder().decode(gen.stdout).split("\n").find((l) =>
    l.startsWith("ssh-ed25519 ")
  );
  assert.ok(pub, "dropbearkey printed no public key");
  return [file, pub.trim()];
}

/** The boot partition's files, seen from the guest (mounted read-only for a moment). */
export async function bootPartitionFiles(sh: GuestShell): Promise<string[]> {
  const out = await sh.check(
    "d=$(findfs LABEL=BOOT 2>/dev/null || findfs LABEL=ESP); mkdir -p /run/t && " +
      "mount -t vfat -o ro $d /run/t && ls -1 /run/t; umount /run/t",
  );
  return out.split("\n").filter(Boolean);
}

/** Wait until the setup service (a oneshot beside the login prompts) has run. */
async function setupDone(sh: GuestShell): Promise<void> {
  for (let i = 0; i < 60; i++) {
    const st = await sh.run("icenetctl status");
    if (/^setup done\b/m.test(st.out)) return;
    await sh.check("sleep 1");
  }
  assert.fail(`the setup service did not finish: ${(await sh.run("icenetctl status")).out}`);
}

/** What the setup service applied at this boot: the settings are in place, the file gone. */
export async function assertSettingsApplied(
  sh: GuestShell,
  console: { readonly transcript: string },
  want: { hostname: string; key?: string; network?: RegExp; localtimeZone?: string },
): Promise<void> {
  await setupDone(sh);
  assert.match(
    console.transcript,
    /icenet-setup: applied icenet-setup\.txt from \S+ and removed it/,
  );
  assert.equal((await sh.check("cat /etc/hostname")).trim(), want.hostname);
  assert.equal((await sh.check("hostname")).trim(), want.hostname);
  if (want.key) assert.ok((await sh.check("cat /root/.ssh/authorized_keys")).includes(want.key));
  if (want.network) assert.match(await sh.check("cat /etc/icenet/network"), want.network);
  if (want.localtimeZone) {
    assert.equal((await sh.check("date -d @1752580800 +%Z")).trim(), want.localtimeZone);
  }
  const files = await bootPartitionFiles(sh);
  assert.ok(!files.includes("icenet-setup.txt"), `still on the boot partition: ${files}`);
  assert.ok(files.includes("icenet-setup.example.txt"), `no example: ${files}`);
}

/** A malformed file: nothing applied, the reason on the console and in the error file. */
export async function assertSettingsRefused(
  sh: GuestShell,
  console: { readonly transcript: string },
  reason: RegExp,
  hostname: string,
): Promise<void> {
  await setupDone(sh);
  assert.match(
    console.transcript,
    /icenet-setup: icenet-setup\.txt:\d+: .*; nothing was applied/,
  );
  assert.equal((await sh.check("hostname")).trim(), hostname);
  const files = await bootPartitionFiles(sh);
  assert.ok(files.includes("icenet-setup.txt"), "the bad file was removed");
  const err = await sh.check(
    "d=$(findfs LABEL=BOOT 2>/dev/null || findfs LABEL=ESP); mkdir -p /run/t && " +
      "mount -t vfat -o ro $d /run/t && cat /run/t/icenet-setup.error.txt; umount /run/t",
  );
  assert.match(err, reason);
}

/** Where e2e tests keep what a person would look at (screenshots): in the user's store. */
export function artifactPath(name: string): string {
  return join(defaultStoreDir(), "artifacts", name);
}

/**
 * Log in on tty1 by typing on the USB keyboard: wait for the login prompt on the screen
 * (the VT's text, /dev/vcs1), keep a picture of it (PNG) and read "login" back from
 * the picture with tesseract, then type the user, password and a command whose effect
 * the serial shell can see. Returns the picture's path.
 */
export async function loginOnScreen(
  sh: GuestShell,
  monitorSocket: string,
  user: string,
  password: string,
  work: string,
): Promise<string> {
  // /dev/vcs1 is the screen's text, rows without line ends: squeeze the blanks.
  const read = async () => (await sh.run("tr -s ' ' < /dev/vcs1")).out;
  let screen = "";
  for (let i = 0; i < 60 && !/login:/.test(screen); i++) {
    screen = await read();
    if (!/login:/.test(screen)) await sh.check("sleep 1");
  }
  assert.match(screen, /login:/, `no login prompt on tty1:\n${screen}`);
  const mon = await HumanMonitor.connect(monitorSocket);
  try {
    const ppm = join(work, "tty1.ppm");
    await mon.screendump(ppm);
    const png = artifactPath("e2e-zima-tty1.png");
    await Deno.mkdir(join(png, ".."), { recursive: true });
    const conv = await new Deno.Command("pnmtopng", { args: [ppm], stdout: "piped" }).output();
    assert.ok(conv.success, "pnmtopng failed");
    await Deno.writeFile(png, conv.stdout);
    // --psm 6: one block of text (the default page segmentation loses a console's lines).
    const ocr = await new Deno.Command("tesseract", {
      args: [png, "stdout", "--psm", "6"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(ocr.stdout);
    assert.ok(ocr.success, new TextDecoder().decode(ocr.stderr));
    assert.match(text, /login:/i, `tesseract read no login prompt in ${png}:\n${text}`);
    await mon.type(`${user}\n`);
    await new Promise((r) => setTimeout(r, 3000));
    await mon.type(`${password}\n`);
    await new Promise((r) => setTimeout(r, 3000));
    await mon.type("tty > /tmp/tty1-login\n");
    for (let i = 0; i < 30; i++) {
      const r = await sh.run("cat /tmp/tty1-login");
      if (r.status === 0) {
        // login's own "root login on 'tty1'" may land on the serial console too.
        assert.match(r.out, /^\/dev\/tty1$/m);
        return png;
      }
      await sh.check("sleep 1");
    }
    assert.fail(`the shell on tty1 never ran the command; the screen shows:\n${await read()}`);
  } finally {
    mon.close();
  }
}
