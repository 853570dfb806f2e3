/**
 * The device program (stage "ice-pkg") on a musl + busybox root: x86_64 in a
 * chroot (bubblewrap: new root with /proc and /dev), aarch64 under
 * qemu-aarch64-static. Debian's busybox-static stands in for our busybox stage.
 * Builds the stage through the runner (cached after the first run).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fetchSource, type Source } from "../../lib/fetch/mod.ts";
import { defaultStoreDir } from "../../lib/store.ts";
import { defaultDownloadDir } from "../../lib/fetch/mod.ts";
import { buildRepo } from "../../lib/ice-pkg/repo.ts";
import { generateKeyFiles } from "../../lib/ice-pkg/keys.ts";
import { makePackage, withTempDir } from "../ice-pkg/_helpers.ts";
import { icePkgStage } from "../ice-pkg/_node.ts";

const deb = (pkg: string, version: string, arch: string, sha256: string, dir: string): Source => {
  const file = `${pkg}_${version.replace(/^\d+:/, "")}_${arch}.deb`;
  return {
    url: `debian:pool/main/${dir}/${file}`,
    filename: file,
    sha256,
    debian: { package: pkg, version, arch },
  };
};

const ROOT_DEBS: Record<string, Source[]> = {
  amd64: [
    deb(
      "busybox-static",
      "1:1.35.0-4+deb12u1+b1",
      "amd64",
      "3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744",
      "b/busybox",
    ),
    deb(
      "musl",
      "1.2.3-1",
      "amd64",
      "4fc1e3d9b579f5c682ca99a4d45aec08d72a2e6b82b4c2e1bbcb7095466ae96d",
      "m/musl",
    ),
  ],
  arm64: [
    deb(
      "busybox-static",
      "1:1.35.0-4+deb12u1+b1",
      "arm64",
      "732c9135564fc71337e0e05fb4da4d11e6c28c1834bce3e405e575afef2a52f5",
      "b/busybox",
    ),
    deb(
      "musl",
      "1.2.3-1",
      "arm64",
      "6ccf2bf0f479b00411cb8e1eeb048e648718170db5d63bbb4bf4a89350b81468",
      "m/musl",
    ),
  ],
};

async function sh(
  cmd: string[],
  opts: { env?: Record<string, string> } = {},
): Promise<{ code: number; out: string }> {
  const p = await new Deno.Command(cmd[0], {
    args: cmd.slice(1),
    stdout: "piped",
    stderr: "piped",
    env: opts.env,
  })
    .output();
  const dec = new TextDecoder();
  return { code: p.code, out: dec.decode(p.stdout) + dec.decode(p.stderr) };
}

/** A musl + busybox root with the device program, a signed repo at /srv/repo and its key. */
async function makeRoot(
  dir: string,
  debArch: string,
  program: string,
): Promise<{ root: string; publish: (v: string) => Promise<void> }> {
  const root = join(dir, "root");
  Deno.mkdirSync(root);
  const store = defaultStoreDir();
  for (const src of ROOT_DEBS[debArch]) {
    const path = await fetchSource(src, {
      downloadDir: defaultDownloadDir(store),
      storeDir: store,
    });
    assert.equal((await sh(["dpkg-deb", "-x", path, root])).code, 0);
  }
  assert.equal((await sh(["cp", "-a", `${program}/.`, root])).code, 0);
  for (const d of ["proc", "dev", "tmp", "root", "etc/icenet/keys", "srv", "sbin", "usr/sbin"]) {
    Deno.mkdirSync(join(root, d), { recursive: true });
  }
  Deno.writeTextFileSync(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  // busybox applet links (sh, xz, ...), made by busybox itself on the host's side.
  const list = (await sh([join(root, "bin/busybox"), "--list-full"])).out;
  if (!list.includes("bin/sh")) {
    // A foreign busybox cannot run here: link the few applets the test needs.
    for (const a of ["sh", "xz", "ls", "cat"]) Deno.symlinkSync("busybox", join(root, "bin", a));
  } else {
    for (const p of list.trim().split("\n")) {
      try {
        Deno.symlinkSync("/bin/busybox", join(root, p));
      } catch { /* exists */ }
    }
  }
  const key = await generateKeyFiles();
  Deno.writeTextFileSync(join(root, `etc/icenet/keys/${key.keyId}.pub`), key.publicLine);
  Deno.writeTextFileSync(join(root, "etc/icenet/repositories"), "/srv/repo\n");
  const built: string[] = [];
  const publish = async (version: string) => {
    const file = join(dir, `hello-${version}.ice`);
    Deno.writeFileSync(
      file,
      await makePackage({ name: "hello", version }, {
        "usr/bin/hello": { text: `#!/bin/sh\necho hello ${version}\n`, mode: 0o755 },
        [`usr/share/hello/v${version}`]: version,
      }),
    );
    built.push(file);
    await buildRepo({
      packages: built,
      outDir: join(root, "srv/repo"),
      privateKey: key.privateFile,
    });
  };
  await publish("1.0");
  return { root, publish };
}

Deno.test({ name: "device program works in a musl+busybox chroot (x86_64)" }, async () => {
  const program = await icePkgStage("zima");
  await withTempDir(async (dir) => {
    const { root, publish } = await makeRoot(dir, "amd64", program);
    // The root as / (bwrap, no mounts left behind), with /proc and /dev.
    const chroot = (...cmd: string[]) =>
      sh(["bwrap", "--bind", root, "/", "--proc", "/proc", "--dev", "/dev", ...cmd]);
    const run = (...args: string[]) =>
      chroot(
        "--tmpfs",
        "/tmp",
        "--unshare-all",
        "--clearenv",
        "--setenv",
        "PATH",
        "/usr/sbin:/usr/bin:/sbin:/bin",
        "/usr/bin/ice-pkg",
        ...args,
      );
    const t0 = performance.now();
    const v = await run("--version");
    console.log(`ice-pkg --version in the chroot: ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(v.out.trim(), "ice-pkg 0.1.0");
    const i = await run("install", "hello");
    assert.equal(i.code, 0, i.out);
    assert.match(i.out, /Installing hello \(1\.0-r0\)/);
    const hello = await chroot("/usr/bin/hello");
    assert.equal(hello.out.trim(), "hello 1.0");
    await publish("2.0");
    assert.equal((await run("update")).code, 0);
    const u = await run("upgrade");
    assert.match(u.out, /Upgrading hello \(1\.0-r0 -> 2\.0-r0\)/);
    const r = await run("remove", "hello");
    assert.equal(r.code, 0, r.out);
    assert.ok(!Deno.statSync(join(root, "usr/bin")).isFile);
    assert.throws(() => Deno.statSync(join(root, "usr/bin/hello")));
    const rb = await run("rollback", "3");
    assert.equal(rb.code, 0, rb.out);
    assert.match(rb.out, /Installing hello \(2\.0-r0\)/);
    assert.equal(Deno.readTextFileSync(join(root, "usr/share/hello/v2.0")), "2.0");
    const v2 = await run("verify");
    assert.equal(v2.code, 0, v2.out);
    const h = await run("history");
    console.log(h.out.trim());
  });
});

Deno.test({ name: "device program runs under qemu-aarch64-static (aarch64)" }, async () => {
  const program = await icePkgStage("rpi");
  await withTempDir(async (dir) => {
    const { root } = await makeRoot(dir, "arm64", program);
    // No binfmt_misc here: qemu runs deno itself (-L: the root holds its loader).
    // Deno's child process (xz) is then the host's, since qemu-user cannot exec a
    // foreign binary without binfmt_misc.
    const run = (...args: string[]) =>
      sh([
        "qemu-aarch64-static",
        "-L",
        root,
        join(root, "usr/lib/ice-pkg/deno"),
        "run",
        "--quiet",
        "--no-config",
        "--cached-only",
        "-A",
        join(root, "usr/lib/ice-pkg/ice-pkg.js"),
        ...args,
      ], { env: { DENO_DIR: join(dir, "deno-dir"), HOME: dir, RUST_BACKTRACE: "0" } });
    const t0 = performance.now();
    const v = await run("--version");
    console.log(`aarch64 ice-pkg --version under qemu: ${(performance.now() - t0).toFixed(0)} ms`);
    assert.equal(v.out.trim(), "ice-pkg 0.1.0", v.out);
    Deno.writeTextFileSync(join(root, "etc/icenet/repositories"), `${join(root, "srv/repo")}\n`);
    const i = await run("--root", root, "install", "hello");
    assert.equal(i.code, 0, i.out);
    assert.equal(Deno.readTextFileSync(join(root, "usr/share/hello/v1.0")), "1.0");
    const r = await run("--root", root, "remove", "hello");
    assert.equal(r.code, 0, r.out);
    const rb = await run("--root", root, "rollback", "2");
    assert.equal(rb.code, 0, rb.out);
    assert.equal((await run("--root", root, "verify")).code, 0);
  });
});
