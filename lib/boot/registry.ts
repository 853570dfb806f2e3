/**
 * The boot kinds, by the `boot.loader` value that picks them: the one place that maps a
 * board's loader to its machinery. A new boot path is a module here and one line below.
 *
 * ```ts
 * bootKind(board).files(board, cmdline);
 * ```
 */
import type { Board } from "../board.ts";
import type { BootKind } from "./kind.ts";
import { rpiFirmware } from "./rpi_firmware.ts";
import { systemdBoot } from "./systemd_boot.ts";
import { uBoot } from "./u_boot.ts";

/** Every boot kind, by loader name. */
export const BOOT_KINDS: Readonly<Record<string, BootKind>> = Object.fromEntries(
  [rpiFirmware, systemdBoot, uBoot].map((k) => [k.name, k]),
);

/** The kind named `loader`, or undefined. */
export function findBootKind(loader: string): BootKind | undefined {
  return Object.hasOwn(BOOT_KINDS, loader) ? BOOT_KINDS[loader] : undefined;
}

/** The boot kind of a (validated) board. */
export function bootKind(board: Board): BootKind {
  const kind = findBootKind(board.boot.loader);
  if (!kind) {
    throw new Error(
      `boards/${board.name}.yaml: boot.loader: unknown boot loader "${board.boot.loader}" ` +
        `(have: ${Object.keys(BOOT_KINDS).join(", ")})`,
    );
  }
  return kind;
}
