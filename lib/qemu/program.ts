/**
 * Which QEMU program runs a board's machine: the host's (`from: host`, found on PATH)
 * or the one the `qemu` stage unpacks from Debian's backports (`from: stage`, built or
 * reused through the store), with the options that build needs on every run.
 *
 * ```ts
 * const m = qemuMachine(board, "raspi4b");
 * const { system, options } = await qemuProgram(root, board, m);
 * ```
 */
import { join } from "node:path";
import type { Board, QemuMachine } from "../board.ts";
import { buildStage } from "./build_image.ts";

/** A QEMU program and the options it needs before any of ours. */
export interface QemuProgram {
  /** The program: a name on PATH or an absolute path. */
  system: string;
  options: string[];
}

/** What the qemu stage says about its QEMU (its `qemu.json`). */
interface QemuFacts {
  version: string;
  machines: string[];
  options: string[];
}

/** The QEMU that runs machine `m` of `board`. */
export async function qemuProgram(
  root: string,
  board: Board,
  m: QemuMachine,
): Promise<QemuProgram> {
  if (m.from === "host") return { system: m.system, options: [] };
  const out = await buildStage(root, board, "qemu", true);
  const facts: QemuFacts = JSON.parse(await Deno.readTextFile(join(out, "qemu.json")));
  const system = join(out, "bin", m.system);
  const where = `boards/${board.name}.yaml: qemu machine ${m.machine}`;
  try {
    await Deno.stat(system);
  } catch {
    throw new Error(`${where}: the qemu stage (QEMU ${facts.version}) has no ${m.system}`);
  }
  if (!facts.machines.includes(m.machine)) {
    throw new Error(
      `${where}: QEMU ${facts.version} of the qemu stage has no such machine ` +
        `(has: ${facts.machines.join(", ")})`,
    );
  }
  return { system, options: facts.options };
}
