/**
 * A device's disk for icenet-update, made of real parts: p1 a FAT image (mkfs.vfat,
 * filled and read with mtools), the two root partitions as files, all three on loop
 * devices; the host build of icenet-update pointed at them by its config file. The
 * tool mounts p1 itself, as on the device. Root only (losetup, mount).
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import $ from "dax";
import { defaultDownloadDir, fetchSource } from "../../lib/fetch/mod.ts";
import { generateKeyFiles } from "../../lib/ice-pkg/keys.ts";
import { defaultStoreDir } from "../../lib/store.ts";
import { appendHashTree, verityArgs } from "../../lib/rootfs/verity.ts";
import { type Bundle, writeBundle } from "../../lib/update/bundle.ts";
import { LIBSODIUM_SOURCE } from "../../tasks/update.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUILD = join(ROOT, "update/build/host");
/** The host build of icenet-update. */
export const TOOL = join(BUILD, "icenet-update");
/** CONFIG_ENV_SIZE of the test environment (the rpi defconfigs' 0x4000). */
export const ENV_SIZE = 0x4000;
/**
 * Whether this kernel mounts FAT. Without it (a build machine's kernel may lack vfat),
 * the rig mounts p1 with fusefat around each run and the tool finds it mounted, as it
 * does /boot on a device; with it, the tool mounts p1 itself.
 */
export const KERNEL_VFAT = /\tvfat$/m.test(Deno.readTextFileSync("/proc/filesystems"));
// fusefat leaves FAT[1] as 0x8000, which mtools' strict check refuses; fsck.fat is content.
Deno.env.set("MTOOLS_SKIP_CHECK", "1");

let built: Promise<void> | undefined;

/** Fetch libsodium (the stage's pinned source) and build the tool, once per process. */
export function buildTool(): Promise<void> {
  built ??= (async () => {
    const store = defaultStoreDir();
    const tarball = await fetchSource(LIBSODIUM_SOURCE, {
      storeDir: store,
      downloadDir: defaultDownloadDir(store),
    });
    const src = join(BUILD, "src");
    await Deno.mkdir(src, { recursive: true });
    await $`tar -xzf ${tarball} -C ${src}`;
    await $`make -s -C ${join(ROOT, "update")} ${`BUILD=${BUILD}`} ${`SODIUM=${
      join(src, "libsodium-1.0.18")
    }`}`;
  })();
  return built;
}

/** A key pair for signing test bundles. */
export interface Key {
  privateFile: string;
  publicLine: string;
}

export async function newKey(): Promise<Key> {
  const { privateFile, publicLine } = await generateKeyFiles();
  return { privateFile, publicLine };
}

/** The result of one icenet-update run. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export type Loader = "u-boot" | "systemd-boot";

/** Options of a test bundle. */
export interface BundleOptions {
  board?: string;
  version: string;
  serial: number;
  /** Root payload size (a real squashfs padded with random bytes). */
  rootBytes?: number;
  seed?: number;
  /**
   * The root carries a dm-verity tree, and each slot's command line pins its root hash
   * as an image's does (lib/rootfs/verity.ts); `other` pins another root's hash.
   */
  verity?: "own" | "other";
  /** One kernel per slot (`slot-a/vmlinuz`, `slot-b/vmlinuz`), as zima's signed UKIs. */
  perSlotKernel?: boolean;
}

/** A device disk and its icenet-update config. */
export class Rig implements AsyncDisposable {
  readonly loops: Record<"boot" | "a" | "b", string> = { boot: "", a: "", b: "" };
  private constructor(
    readonly dir: string,
    readonly loader: Loader,
    readonly key: Key,
    /** The command that runs icenet-update (an emulator first for another arch's build). */
    readonly tool: string[],
  ) {}

  get conf(): string {
    return join(this.dir, "update.conf");
  }
  get bootImg(): string {
    return join(this.dir, "boot.img");
  }
  get bootMount(): string {
    return join(this.dir, "boot");
  }

  /** A disk running slot a (committed), slot b empty. */
  static async create(
    loader: Loader,
    rootBytes = 16 << 20,
    tool = [TOOL],
    board = "testboard",
  ): Promise<Rig> {
    if (tool[0] === TOOL) await buildTool();
    const dir = await Deno.makeTempDir({ prefix: "icenet-update-test-" });
    const rig = new Rig(dir, loader, await newKey(), tool);
    await $`truncate -s ${rootBytes} ${join(dir, "root-a.img")} ${join(dir, "root-b.img")}`;
    // Slot a's root: something to prove it is never touched.
    await $`head -c ${rootBytes} /dev/urandom`.stdout($.path(join(dir, "root-a.img")));
    await $`truncate -s 64M ${rig.bootImg}`;
    await $`mkfs.vfat -n BOOT ${rig.bootImg}`.quiet();
    await rig.put("slot-a/cmdline.txt", "root=/dev/p2 icenet.slot=a\n");
    await rig.put("slot-a/vmlinuz", "kernel a\n");
    if (loader === "u-boot") {
      // No icenet.env yet: the boot script's default, slot a committed.
    } else {
      await rig.put("loader/loader.conf", "timeout 0\neditor no\n");
      await rig.put(
        "loader/entries/icenet-a.conf",
        "title IceNet-OS (slot a)\nsort-key icenet\nversion 1\nlinux /slot-a/vmlinuz\n" +
          "options root=/dev/p2 icenet.slot=a\n",
      );
    }
    await Deno.writeTextFile(join(dir, "update.pub"), rig.key.publicLine);
    await rig.setCmdline("a");
    for (const [name, file] of [["boot", "boot.img"], ["a", "root-a.img"], ["b", "root-b.img"]]) {
      rig.loops[name as "boot"] = (await $`losetup -f --show ${join(dir, file)}`.text()).trim();
    }
    await Deno.writeTextFile(
      rig.conf,
      [
        "# test device",
        `board = ${board}`,
        `bootloader = ${loader}`,
        `boot_device = ${rig.loops.boot}`,
        `root_a_device = ${rig.loops.a}`,
        `root_b_device = ${rig.loops.b}`,
        `boot_mount = ${rig.bootMount}`,
        `uboot_env_size = ${ENV_SIZE}`,
        `key = ${join(dir, "update.pub")}`,
        `state_dir = ${join(dir, "state")}`,
        `lock = ${join(dir, "lock")}`,
        `cmdline = ${join(dir, "cmdline")}`,
        "reboot = no",
        "",
      ].join("\n"),
    );
    // fusefat marks the FAT at its first mount: let that happen before anything is hashed.
    await (await rig.mountBoot())[Symbol.asyncDispose]();
    return rig;
  }

  /** The kernel command line the "running" system was booted with. */
  async setCmdline(slot: "a" | "b", trial = false): Promise<void> {
    const line = `console=ttyS0 root=/dev/p${slot === "a" ? 2 : 3} icenet.slot=${slot}` +
      (trial ? " icenet.trial=1" : "");
    await Deno.writeTextFile(join(this.dir, "cmdline"), line + "\n");
  }

  /** Write a file onto p1 (mtools; p1 must not be mounted). */
  async put(path: string, text: string): Promise<void> {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      await $`mmd -D s -i ${this.bootImg} ${"::" + parts.slice(0, i).join("/")}`.noThrow().quiet();
    }
    const tmp = join(this.dir, "put.tmp");
    await Deno.writeTextFile(tmp, text);
    await $`mcopy -o -i ${this.bootImg} ${tmp} ${"::" + path}`;
  }

  /** A file of p1, or undefined. */
  async get(path: string): Promise<string | undefined> {
    const r = await $`mtype -i ${this.bootImg} ${"::" + path}`.noThrow().stdout("piped").stderr(
      "piped",
    );
    return r.code === 0 ? r.stdout : undefined;
  }

  /** Names in a directory of p1. */
  async ls(dir: string): Promise<string[]> {
    const r = await $`mdir -b -i ${this.bootImg} ${"::" + dir}`.noThrow().stdout("piped").stderr(
      "piped",
    );
    if (r.code !== 0) return [];
    return r.stdout.split("\n").filter(Boolean).map((l) => l.replace(/^.*\//, "")).sort();
  }

  /** sha256 of each partition: what "nothing written" is checked with. */
  async hashes(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [name, dev] of Object.entries(this.loops)) {
      out[name] = (await $`sha256sum ${dev}`.text()).split(" ")[0];
    }
    return out;
  }

  /** Run icenet-update with this rig's config. */
  async run(args: string[], stdin?: string): Promise<Run> {
    await using _boot = await this.mountBoot();
    const p = this.spawn(args, stdin ? "piped" : "null");
    if (stdin) {
      using f = await Deno.open(stdin);
      // The tool may stop reading early (a refusal): a broken pipe is its answer.
      await f.readable.pipeTo(p.stdin).catch(() => {});
    }
    const o = await p.output();
    const dec = new TextDecoder();
    return { code: o.code, stdout: dec.decode(o.stdout), stderr: dec.decode(o.stderr) };
  }

  /** Start icenet-update with this rig's config (p1 mounted by the caller if needed). */
  spawn(args: string[], stdin: "piped" | "null" = "null"): Deno.ChildProcess {
    return new Deno.Command(this.tool[0], {
      args: [...this.tool.slice(1), "-c", this.conf, ...args],
      stdin,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  }

  /** p1 mounted with fusefat until disposed, when the kernel cannot mount FAT itself. */
  async mountBoot(): Promise<AsyncDisposable> {
    if (KERNEL_VFAT) return { async [Symbol.asyncDispose]() {} };
    await Deno.mkdir(this.bootMount, { recursive: true });
    const fuse = new Deno.Command("fusefat", {
      args: ["-f", "-o", "rw+", this.loops.boot, this.bootMount],
      stdout: "null",
      stderr: "null",
    }).spawn();
    for (let i = 0; i < 100; i++) {
      const mounts = await Deno.readTextFile("/proc/self/mountinfo");
      if (mounts.includes(` ${this.bootMount} `)) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const mountPoint = this.bootMount;
    return {
      async [Symbol.asyncDispose]() {
        await $`umount ${mountPoint}`.noThrow().quiet();
        await fuse.status; // its writes are on the device once it has exited
      },
    };
  }

  /** `status` as key=value pairs. */
  async status(): Promise<Record<string, string>> {
    const r = await this.run(["status"]);
    if (r.code !== 0) throw new Error(`status failed: ${r.stderr}`);
    return Object.fromEntries(
      r.stdout.trim().split("\n").map((
        l,
      ) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
  }

  /** The boot state file (icenet.env) as Debian's fw_printenv reads it. */
  async fwPrintenv(): Promise<Record<string, string>> {
    const cfg = await this.fwConfig();
    const r = await $`fw_printenv -c ${cfg}`.stdout("piped").stderr("piped").noThrow();
    if (r.code !== 0) throw new Error(`fw_printenv: ${r.stderr}`);
    return Object.fromEntries(
      r.stdout.trim().split("\n").map((
        l,
      ) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
  }

  /**
   * Change the boot state with Debian's fw_setenv, both copies, as boot.scr's
   * `env export -c` + `fatwrite` of icenet.env and icenet.env.bak do.
   */
  async fwSetenv(name: string, value: string): Promise<void> {
    const cfg = await this.fwConfig();
    await $`fw_setenv -c ${cfg} ${name} ${value}`;
    for (const f of ["icenet.env", "icenet.env.bak"]) {
      await $`mcopy -o -i ${this.bootImg} ${join(this.dir, "fw.env")} ${"::" + f}`;
    }
  }

  /** A copy of icenet.env and a fw_env.config naming it (device, offset, size). */
  private async fwConfig(): Promise<string> {
    await $`mcopy -o -i ${this.bootImg} ::icenet.env ${join(this.dir, "fw.env")}`;
    const cfg = join(this.dir, "fw_env.config");
    await Deno.writeTextFile(cfg, `${join(this.dir, "fw.env")} 0x0 0x${ENV_SIZE.toString(16)}\n`);
    return cfg;
  }

  /** A signed bundle for this device (board testboard unless given), real squashfs root. */
  async bundle(o: BundleOptions, key = this.key): Promise<Bundle & { root: string }> {
    const d = await Deno.makeTempDir({ dir: this.dir, prefix: "bundle-" });
    const tree = join(d, "tree");
    await Deno.mkdir(join(tree, "etc"), { recursive: true });
    await Deno.writeTextFile(join(tree, "etc/os-release"), `VERSION_ID=${o.version}\n`);
    const root = join(d, "root.squashfs");
    await $`mksquashfs ${tree} ${root} -quiet -noappend -all-root -mkfs-time 0`.quiet();
    if (o.rootBytes) {
      // Pad to the size asked for with random bytes (a root image's worth of data).
      using f = await Deno.open(root, { append: true });
      const chunk = new Uint8Array(65536);
      for (let left = o.rootBytes - (await Deno.stat(root)).size; left > 0;) {
        crypto.getRandomValues(chunk);
        const part = chunk.subarray(0, Math.min(left, chunk.length));
        for (let w = 0; w < part.length;) w += await f.write(part.subarray(w));
        left -= part.length;
      }
    }
    await Deno.writeTextFile(join(d, "vmlinuz"), `kernel ${o.version}\n`.repeat(1000));
    for (const slot of ["a", "b"]) {
      await Deno.writeTextFile(
        join(d, `vmlinuz-${slot}`),
        `uki ${o.version} ${slot}\n`.repeat(1000),
      );
    }
    let dm = (_dev: string) => "";
    if (o.verity) {
      const v = await appendHashTree($, root);
      if (o.verity === "other") v.rootHash = v.rootHash.replace(/^./, (c) => c === "0" ? "1" : "0");
      dm = (dev) => verityArgs(v, dev).join(" ") + " ";
    }
    await Deno.writeTextFile(join(d, "a.txt"), `${dm("/dev/p2")}root=/dev/p2 icenet.slot=a\n`);
    await Deno.writeTextFile(join(d, "b.txt"), `${dm("/dev/p3")}root=/dev/p3 icenet.slot=b\n`);
    const b = await writeBundle(join(d, "update.icenet-bundle"), {
      board: o.board ?? "testboard",
      version: o.version,
      serial: o.serial,
      kernel: "vmlinuz",
      payloads: [
        { name: "root", path: root },
        ...(o.perSlotKernel
          ? [
            { name: "slot-a/vmlinuz", path: join(d, "vmlinuz-a") },
            { name: "slot-b/vmlinuz", path: join(d, "vmlinuz-b") },
          ]
          : [{ name: "slot/vmlinuz", path: join(d, "vmlinuz") }]),
        { name: "slot-a/cmdline.txt", path: join(d, "a.txt") },
        { name: "slot-b/cmdline.txt", path: join(d, "b.txt") },
      ],
    }, key.privateFile);
    return { ...b, root };
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await $`umount ${this.bootMount}`.noThrow().quiet();
    for (const dev of Object.values(this.loops)) {
      if (dev) await $`losetup -d ${dev}`.noThrow().quiet();
    }
    await Deno.remove(this.dir, { recursive: true });
  }
}
