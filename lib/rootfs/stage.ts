/**
 * The root file system of an image: ice-pkg's library installs the image's packages
 * into an empty tree (`--root`) from the board's signed repository, so the image
 * carries a correct package database; then the stage enables the image's services,
 * writes the generated files (listed in `<out>/generated.json`) and packs the tree
 * into a reproducible squashfs, `<out>/root.squashfs`.
 *
 * The image definition is `images/default.yaml`, or the file named by ICENET_IMAGE
 * (a name under images/ or a path). Its parsed content is a parameter, so editing
 * it rebuilds the rootfs.
 */
import { isAbsolute, join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import type { Board } from "../board.ts";
import { bootKind } from "../boot/registry.ts";
import { sha256File } from "../hash.ts";
import { UPDATE_CONF, updateConf } from "../update/conf.ts";
import { UPDATE_PUB, updateKey } from "../update/key.ts";
import { addVerity } from "./verity.ts";
import { writeKernelArgs } from "./kernel_args.ts";
import { type ImageDef, loadImageDef } from "../image_def.ts";
import { openEnv } from "../ice-pkg/env.ts";
import { parseIndex } from "../ice-pkg/metadata.ts";
import { install } from "../ice-pkg/ops.ts";
import { loadRecipes, recipeForBoard } from "../recipe/load.ts";
import {
  enableServices,
  enableWifi,
  Generated,
  writeNetwork,
  writeTimezone,
  writeUsers,
  writeWifi,
} from "./generate.ts";
import { applySite, siteFromEnv } from "../site.ts";
import { defineStage, type Param, type Stage } from "../stage.ts";

const HERE = new URL(".", import.meta.url).pathname;
/** The module that exports the stage (a sandbox imports it to find the stage). */
const TASK = join(HERE, "..", "..", "tasks", "rootfs.ts");

/** Packages of the image that this board builds; the others must be board-excluded. */
export function boardPackages(
  def: ImageDef,
  indexNames: Set<string>,
  excluded: Set<string>,
  where: string,
): string[] {
  const out: string[] = [];
  for (const p of def.packages) {
    if (indexNames.has(p)) out.push(p);
    else if (!excluded.has(p)) {
      throw new Error(
        `${where}: packages: "${p}" has no recipe under pkgs/ (pkgs/${p}/recipe.yaml)`,
      );
    }
  }
  return out;
}

/**
 * mksquashfs options that make the image a function of the tree alone. Times come
 * from SOURCE_DATE_EPOCH (filesystem and every inode: mksquashfs 4.5 refuses
 * -mkfs-time/-all-time beside it); entries are written in sorted order.
 */
export function squashfsArgs(tree: string, out: string): string[] {
  return [
    tree,
    out,
    "-noappend",
    "-all-root", // every file owned by root, whoever built it
    "-no-xattrs",
    // zstd, not xz: within 7% of xz's size, and five times faster to read, which is what
    // a boot does (exec of busybox and icenet-init from a cold page cache).
    "-comp",
    "zstd",
    "-Xcompression-level",
    "19",
    "-b",
    "256K",
    "-quiet",
  ];
}

/**
 * The rootfs stage for an image definition. `notForBoard` names the packages whose
 * recipes exclude the board (the image may list them; they are skipped). `name`
 * lets benchmarks build variants.
 */
export function rootfsStage(
  def: ImageDef,
  where: string,
  notForBoard: string[],
  name = "rootfs",
  update?: SystemUpdate,
): Stage {
  return defineStage({
    name,
    description: `root file system (${where})`,
    needs: ["repo"],
    tools: ["mksquashfs", "veritysetup"],
    params: { image: def as unknown as Param, notForBoard, update: (update ?? null) as Param },
    boardFields: ["name", "arch"],
    module: TASK,
    async run(ctx) {
      const repo = join(ctx.deps["repo"], "repo");
      const tree = join(ctx.tmp, "root");
      await Deno.mkdir(tree, { mode: 0o755 });
      const gen = new Generated(tree);
      // The repository's public key first: ice-pkg refuses an index it cannot verify.
      for await (const e of Deno.readDir(join(ctx.deps["repo"], "keys"))) {
        const text = await Deno.readTextFile(join(ctx.deps["repo"], "keys", e.name));
        await gen.write(`etc/icenet/keys/${e.name}`, text, "trusted repository key");
      }
      const index = parseIndex(JSON.parse(await Deno.readTextFile(join(repo, "INDEX.json"))), repo);
      const names = new Set(index.packages.map((p) => p.name));
      const pkgs = boardPackages(def, names, new Set(notForBoard), where);
      const skipped = def.packages.filter((p) => !pkgs.includes(p));
      if (skipped.length) ctx.log(`not built for ${ctx.board.name}: ${skipped.join(", ")}`);

      const lines: string[] = [];
      const env = await openEnv({
        root: tree,
        json: false,
        allowInsecure: false,
        force: false,
        purgeDeps: false,
        repos: [repo],
        lockWait: 0,
        command: `ice-pkg install ${pkgs.join(" ")}`,
        // The history's time: the build's, so the database is reproducible.
        time: Number(ctx.env.SOURCE_DATE_EPOCH),
      }, { out: (l) => lines.push(l), err: (l) => lines.push(l) });
      try {
        const res = await install(env, pkgs);
        ctx.log(res.summary);
      } finally {
        env.close();
        for (const l of lines) ctx.log(l);
      }
      await forgetBuildRepository(tree);
      gen.note("var/lib/ice-pkg", "package database");
      gen.note("var/lib/ice-pkg/db.sqlite", "package database");

      // ice-pkg refuses sticky world-writable entries in packages, so these two
      // standard directories are made here.
      for (const d of ["tmp", "var/tmp"]) {
        await gen.dir(d, "world-writable sticky directory (not packaged)", 0o1777);
      }
      await enableServices(gen, def.services);
      await gen.write("etc/hostname", def.hostname + "\n", "modified conffile of base-files");
      await writeUsers(gen, def.users);
      await writeNetwork(gen, def.network);
      await writeWifi(gen, def.wifi);
      if (!def.services.includes("wifi")) await enableWifi(gen, def.wifi, where);
      await writeTimezone(gen, def.timezone);
      // From the params, not the closure: a sandboxed or container run rebuilds this
      // stage object where the development key under the store is out of sight.
      const upd = ctx.params.update as unknown as SystemUpdate | null;
      if (upd) {
        await gen.write(UPDATE_CONF, upd.conf, "icenet-update's view of the board");
        await gen.write(UPDATE_PUB, upd.pub, "trusted update key");
      }
      if (def.repository) {
        await gen.write(
          "etc/icenet/repositories",
          def.repository + "\n",
          "repository of the image",
        );
      }

      // What /usr/lib/icenet/reconcile-etc compares after an update (dpkg's conffiles).
      await gen.write("usr/lib/icenet/etc.sha256", await etcManifest(tree), "hashes of /etc");
      const generated = gen.list();
      await Deno.writeTextFile(
        join(ctx.out, "generated.json"),
        JSON.stringify(generated, null, 1) + "\n",
      );
      const img = join(ctx.out, "root.squashfs");
      await ctx.$`mksquashfs ${squashfsArgs(tree, img)}`
        .env({ SOURCE_DATE_EPOCH: ctx.env.SOURCE_DATE_EPOCH });
      const size = (await Deno.stat(img)).size;
      ctx.log(
        `root.squashfs: ${size} bytes, ${pkgs.length} packages, ${generated.length} generated`,
      );
      ctx.record("squashfs_bytes", size);
      if (def.verity) {
        const v = await addVerity(ctx.$, ctx.out);
        ctx.log(
          `dm-verity: root hash ${v.rootHash}, hash tree ${v.hashBytes} bytes at ${v.hashOffset}`,
        );
        ctx.record("verity_hash_bytes", v.hashBytes);
      }
      await writeKernelArgs(ctx.out, def.cmdline);
      ctx.record("packages", pkgs);
    },
  });
}

/**
 * Remove what the build-time install leaves behind that is not the device's: the
 * build repository's index (its local path and serial must not reach the image;
 * the device's first `ice-pkg update` trusts its own repository), the package
 * cache (the files are installed; it would double the image) and the lock file.
 */
async function forgetBuildRepository(tree: string): Promise<void> {
  const dbPath = join(tree, "var/lib/ice-pkg/db.sqlite");
  // ice-pkg's Db has no call to forget a repository yet, so this speaks SQL to it.
  const db = new DatabaseSync(dbPath);
  try {
    db.exec("DELETE FROM repos; VACUUM; PRAGMA journal_mode=DELETE;");
  } finally {
    db.close();
  }
  for (const p of ["var/cache/ice-pkg", "var/lib/ice-pkg/lock"]) {
    await Deno.remove(join(tree, p), { recursive: true }).catch((e) => {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    });
  }
  for await (const e of Deno.readDir(join(tree, "var/lib/ice-pkg"))) {
    if (e.name !== "db.sqlite") {
      throw new Error(`rootfs: unexpected ice-pkg state file var/lib/ice-pkg/${e.name}`);
    }
  }
}

/** Where the image definition comes from: ICENET_IMAGE (name or path), else "default". */
export function imageFile(root: string): string {
  const v = Deno.env.get("ICENET_IMAGE") || "default";
  if (v.endsWith(".yaml")) return isAbsolute(v) ? v : join(root, v);
  return join(root, "images", `${v}.yaml`);
}

/** Packages whose recipes exclude `board`. */
export async function notBuiltFor(root: string, board: Board): Promise<string[]> {
  return (await loadRecipes(root)).filter((r) => !recipeForBoard(r, board)).map((r) => r.name);
}

/**
 * The image definition a build uses: the file imageFile() names, with the site
 * settings of the CLI (`--config`, flags; lib/site.ts) laid over it. `where` names both.
 */
export async function effectiveImageDef(root: string): Promise<{ def: ImageDef; where: string }> {
  const file = imageFile(root);
  const def = await loadImageDef(file);
  const rel = file.startsWith(root + "/") ? file.slice(root.length + 1) : file;
  const site = siteFromEnv();
  if (!site) return { def, where: rel };
  const where = `${rel} + site settings`;
  return { def: applySite(def, site, where), where };
}

/** What a root needs for A/B updates: icenet-update's configuration and trusted key. */
export interface SystemUpdate {
  /** /etc/icenet/update.conf */
  conf: string;
  /** /etc/icenet/update.pub */
  pub: string;
}

/** The update files of `board`'s root, if its boot kind has a trial boot. */
export async function systemUpdate(board: Board): Promise<SystemUpdate | undefined> {
  const how = bootKind(board).update;
  if (!how) return undefined;
  return {
    conf: updateConf({ board: board.name, ...how }),
    pub: (await updateKey()).publicLine,
  };
}

/** The rootfs stage of the registry. */
export async function rootfsStages(root: string, board: Board): Promise<Stage[]> {
  const image = await effectiveImageDef(root);
  const { def, where } = withBoardPackages(image.def, image.where, board);
  return [
    rootfsStage(def, where, await notBuiltFor(root, board), "rootfs", await systemUpdate(board)),
  ];
}

/** The image definition with the packages `board`'s hardware needs (boards/<name>.yaml). */
export function withBoardPackages(
  def: ImageDef,
  where: string,
  board: Board,
): { def: ImageDef; where: string } {
  const extra = board.packages.filter((p) => !def.packages.includes(p));
  if (!extra.length) return { def, where };
  return {
    def: { ...def, packages: [...def.packages, ...extra] },
    where: `${where} + boards/${board.name}.yaml packages`,
  };
}

/** `sha256sum` lines of every regular file under `<tree>/etc`, sorted by path. */
export async function etcManifest(tree: string): Promise<string> {
  const lines: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(join(tree, rel))) {
      const r = `${rel}/${e.name}`;
      if (e.isDirectory) await walk(r);
      else if (e.isFile) lines.push(`${await sha256File(join(tree, r))}  ${r}`);
    }
  };
  await walk("etc");
  return lines.sort((a, b) => a.slice(66) < b.slice(66) ? -1 : 1).join("\n") + "\n";
}
