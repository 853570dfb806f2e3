/**
 * Stage "qemu": QEMU 10 for the build host, unpacked from Debian's bookworm-backports
 * (`qemu-system-arm`), for the machines Debian 12's QEMU 7.2 lacks — raspi4b. Nothing is
 * installed and the host's apt preferences are untouched: the .deb is a source pinned by
 * sha256 like any other, fetched by the debian provider from the host's own archive.
 * Every board shares the output (no board field enters the key: only the pin of the
 * host's architecture, the code and dpkg-deb). Boards get the stage when one of their
 * QEMU machines says `from: stage`.
 *
 * Output:
 *   bin/qemu-system-aarch64, bin/qemu-system-arm
 *   qemu.json   { version, package, debianVersion, debianArch, machines, options }
 *
 * Only the binaries are kept: with `-kernel`/`-dtb` the raspi machines read no firmware
 * or other data file, and the libraries they link are those of Debian 12's own
 * qemu-system-arm (which `deno task setup` installs).
 *
 *   deno run -A tasks/qemu.ts --board rpi
 */
import { join } from "node:path";
import { type Board, qemuMachines } from "../lib/board.ts";
import { runStandalone } from "../lib/cli.ts";
import type { Source } from "../lib/fetch/source.ts";
import { defineStage, type Stage, type StageContext } from "../lib/stage.ts";

/** QEMU's upstream version and Debian's version of it in bookworm-backports. */
export const QEMU_VERSION = "10.0.2";
export const QEMU_DEBIAN_VERSION = "1:10.0.2+ds-2+deb13u1~bpo12+1";

/** Debian architecture of each build host Deno runs on. */
const HOST_DEBIAN_ARCH: Record<string, string> = { x86_64: "amd64", aarch64: "arm64" };

/**
 * `qemu-system-arm` for each host architecture; sha256 as listed in the backports
 * suite's Packages index (signed through its InRelease).
 */
const PINS: Record<string, string> = {
  amd64: "edebbab09db3882c48ef9c00049c7c6a2d76d195cb88d830baadd1fb705bbc66",
  arm64: "e979bf3996ad07ab51d52e7e4ba9e00237f89f32dff50bcf0545bd52fa4f6963",
};

/** The programs kept, as they sit in the package. */
const PROGRAMS = ["qemu-system-aarch64", "qemu-system-arm"];

/**
 * Options this QEMU needs on every run. Its module directory is compiled in as the
 * host's /usr/lib/<triple>/qemu, which holds QEMU 7.2's modules: probing for a default
 * audio backend would load them (QEMU refuses them, with errors on stderr). No machine
 * we boot has sound.
 */
export const QEMU_OPTIONS = ["-audio", "none"];

/** The pinned `qemu-system-arm` .deb for a Debian architecture. */
export function qemuSource(debianArch: string): Source {
  const sha256 = PINS[debianArch];
  if (!sha256) {
    throw new Error(
      `stage qemu: no pinned qemu-system-arm for the host architecture ${debianArch} ` +
        `(have: ${Object.keys(PINS).join(", ")})`,
    );
  }
  const file = `qemu-system-arm_${QEMU_DEBIAN_VERSION.replace(/^\d+:/, "")}_${debianArch}.deb`;
  return {
    url: `debian:pool/main/q/qemu/${file}`,
    filename: file,
    sha256,
    debian: { package: "qemu-system-arm", version: QEMU_DEBIAN_VERSION, arch: debianArch },
  };
}

/** The qemu stage for the host this runs on. */
export function qemuStage(hostArch: string = Deno.build.arch): Stage {
  const debianArch = HOST_DEBIAN_ARCH[hostArch] ?? hostArch;
  return defineStage({
    name: "qemu",
    description: `QEMU ${QEMU_VERSION} (Debian backports) for ${debianArch} hosts`,
    tools: ["dpkg-deb"],
    sources: { deb: qemuSource(debianArch) },
    params: { debianArch },
    boardFields: [],
    run: unpackQemu,
  });
}

async function unpackQemu(ctx: StageContext): Promise<void> {
  const { $, out } = ctx;
  const x = join(ctx.tmp, "x");
  await $`dpkg-deb -x ${ctx.sources.deb} ${x}`;
  await Deno.mkdir(join(out, "bin"));
  for (const p of PROGRAMS) await Deno.copyFile(join(x, "usr/bin", p), join(out, "bin", p));
  // Run it once: on a host without its libraries the loader names them here, not at boot.
  const aarch64 = join(out, "bin", "qemu-system-aarch64");
  const ran = await $`${aarch64} -M help`.stdout("piped").stderr("piped").noThrow();
  if (ran.code !== 0) {
    throw new Error(
      `stage qemu: ${aarch64} does not run here (exit ${ran.code}: ${ran.stderr.trim()}); ` +
        `Debian 12's qemu-system-arm brings the libraries it links`,
    );
  }
  const machines = ran.stdout.split("\n").map((l) => l.split(/\s+/)[0])
    .filter((m) => m.startsWith("raspi")).sort();
  const facts = {
    version: QEMU_VERSION,
    package: "qemu-system-arm",
    debianVersion: QEMU_DEBIAN_VERSION,
    debianArch: ctx.params.debianArch,
    machines,
    options: QEMU_OPTIONS,
  };
  await Deno.writeTextFile(join(out, "qemu.json"), JSON.stringify(facts, null, 2) + "\n");
  ctx.record("version", QEMU_VERSION);
  ctx.record("machines", machines);
}

/** The stage, for boards with a QEMU machine that runs on it (`from: stage`). */
export default function qemu(_root: string, board: Board): Stage[] {
  return qemuMachines(board).some((m) => m.from === "stage") ? [qemuStage()] : [];
}

if (import.meta.main) await runStandalone({ name: "qemu" } as Stage);
