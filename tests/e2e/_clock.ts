/**
 * The clock on a board without a real-time clock (QEMU's raspi machines have none,
 * like every Pi): base-files restores it at boot, and ice-pkg accepts a valid index
 * right after boot without any time server (the guest has no network).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { GuestShell } from "../../lib/qemu/shell.ts";
import { buildRepo } from "../../lib/ice-pkg/repo.ts";
import { repoKey } from "../../lib/recipe/repo_key.ts";
import { SOURCE_DATE_EPOCH } from "../../lib/runner.ts";
import { makePackage } from "../ice-pkg/_helpers.ts";

/** The image's build date (seconds): what the squashfs's files are stamped with. */
export const BUILD_DATE = Number(SOURCE_DATE_EPOCH);
const DAY = 86400;

/**
 * The guest's clock is at least `atLeast`, and the console shows base-files' restore
 * message naming `source` ("the image's build date", "the time saved at ...").
 */
export async function assertClockRestored(
  sh: GuestShell,
  transcript: string,
  atLeast: number,
  source: string,
): Promise<void> {
  const now = Number((await sh.check("date +%s")).trim());
  assert.ok(now >= atLeast, `guest clock ${now} is before ${atLeast}`);
  const m = transcript.match(/icenet-clock: clock was (\S+), set to (\S+) \(([^)]*)\)/);
  assert.ok(m, "no 'icenet-clock: clock was ..., set to ...' line on the console");
  assert.equal(m[3], source, m[0]);
  assert.ok(Date.parse(m[2]) / 1000 >= atLeast, m[0]);
}

/** Write `bytes` to `path` on the guest, through the console (base64, 1000 characters a line). */
async function putFile(sh: GuestShell, path: string, bytes: Uint8Array): Promise<void> {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  const b64 = btoa(bin);
  await sh.check(`rm -f ${path}.b64`);
  for (let i = 0; i < b64.length; i += 1000) {
    await sh.check(`printf '%s' '${b64.slice(i, i + 1000)}' >> ${path}.b64`);
  }
  await sh.check(`base64 -d ${path}.b64 > ${path} && rm ${path}.b64`);
}

/** A one-package repository signed with the build's key (the one the image trusts). */
async function repoOn(sh: GuestShell, dir: string, guestDir: string, created: number) {
  const key = await repoKey();
  const file = join(dir, "e2e-clock-1.0-r0.ice");
  Deno.writeFileSync(
    file,
    await makePackage({ name: "e2e-clock" }, { "usr/share/e2e-clock/ok": "ok\n" }),
  );
  const out = join(dir, guestDir.replaceAll("/", "_"));
  await buildRepo({
    packages: [file],
    outDir: out,
    privateKey: key.privateFile,
    serial: created,
    created: new Date(created * 1000),
    expires: new Date((created + 30 * DAY) * 1000),
  });
  await sh.check(`mkdir -p ${guestDir}`);
  for (const name of ["INDEX.json", "INDEX.json.sig", "e2e-clock-1.0-r0.ice"]) {
    await putFile(sh, `${guestDir}/${name}`, Deno.readFileSync(join(out, name)));
  }
}

/**
 * Right after boot, with no time server: an index signed at the image's build date
 * (valid 30 days) installs; one created a year later is refused and the refusal says
 * the clock is not synchronised.
 */
export async function icePkgRightAfterBoot(sh: GuestShell): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "icenet-e2e-clock-" });
  try {
    await repoOn(sh, dir, "/tmp/e2e-repo", BUILD_DATE);
    const r = await sh.run("ice-pkg --repo /tmp/e2e-repo install e2e-clock", 600_000);
    assert.equal(r.status, 0, r.out);
    assert.match(r.out, /Installing e2e-clock \(1\.0-r0\)/);
    await sh.check("test -f /usr/share/e2e-clock/ok");
    await repoOn(sh, dir, "/tmp/e2e-future", BUILD_DATE + 365 * DAY);
    const f = await sh.run("ice-pkg --repo /tmp/e2e-future update", 600_000);
    assert.equal(f.status, 4, f.out);
    assert.match(
      f.out,
      /INDEX\.json: created at \S+, in the future: the clock says \S+ and is not synchronised/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
