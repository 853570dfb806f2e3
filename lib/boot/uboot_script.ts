/**
 * IceNet's U-Boot boot script (`boot.scr` once wrapped by scriptImage() of
 * lib/boot/uboot_image.ts): the A/B slot choice of issue #18.
 *
 * The state is three variables in `icenet.env` (lib/boot/uboot_env.ts), read with
 * `env import -c` (whose CRC check rejects a torn file; `icenet.env.bak` is then
 * read) and written back with `env export -c` + `fatwrite`, both copies:
 *   icenet_good   the committed slot, a or b (a when unset or not b)
 *   icenet_trial  the slot to try, or unset
 *   icenet_tries  tries left, one decimal digit 0-9 (setexpr works in hex)
 * A trial boot takes a try and saves the count before booting, so a trial that
 * panics or hangs (and is reset by the watchdog) has fewer tries next time; at zero
 * the good slot boots. A slot whose kernel does not load is passed over (the chosen
 * slot, then the good one, then a, then b). A trial adds `icenet.trial=1` to the slot's command line,
 * which is one line `bootargs=...` in `slot-<x>/cmdline.env`. The device tree is
 * the one the Pi firmware passed in (`fdt_addr`: config.txt's filters, overlays and
 * the firmware's fixups), else the slot's own `slot-<x>/${fdtfile}`.
 *
 * ```ts
 * const text = abBootScript({ kernel: "kernel8.img", bootCommand: "booti" });
 * const scr = scriptImage(text, { arch: "arm64", name: "IceNet-OS A/B boot" });
 * ```
 */
import { ICENET_ENV_BACKUP, ICENET_ENV_FILE, UBOOT_ENV_SIZE } from "./uboot_env.ts";

/** What the script needs to know about the board's kernel. */
export interface AbScriptOptions {
  /** The kernel's file name inside `slot-<x>/`. */
  kernel: string;
  /** `booti` for an arm64 Image, `bootz` for an arm zImage. */
  bootCommand: "booti" | "bootz";
}

/** The name of each slot's command-line file inside `slot-<x>/`. */
export const CMDLINE_FILE = "cmdline.env";

/**
 * An optional file on p1 (`icenet_args=...`): kernel arguments added to every slot's
 * command line. Images have none; QEMU's Pi machines get one in the copy they boot
 * (`qemu.append` of the board: `icenet.watchdog=off`).
 */
export const EXTRA_ARGS_FILE = "cmdline-extra.env";

/** The text of boot.scr (U-Boot hush), before wrapping. */
export function abBootScript(opts: AbScriptOptions): string {
  const env = ICENET_ENV_FILE;
  const bak = ICENET_ENV_BACKUP;
  const vars = "icenet_good icenet_trial icenet_tries";
  // Scratch memory: the ramdisk's place (IceNet boots no initrd); boot.scr itself runs
  // from ${scriptaddr}, which must not be overwritten while it runs.
  const tmp = "${ramdisk_addr_r}";
  const size = "0x" + UBOOT_ENV_SIZE.toString(16);
  return `# IceNet-OS A/B boot script: lib/boot/uboot_script.ts says how it works.
setenv icenet_part \${devtype} \${devnum}:\${distro_bootpart}
setenv icenet_good
setenv icenet_trial
setenv icenet_tries
if load \${icenet_part} ${tmp} ${env} && env import -c ${tmp} \${filesize} ${vars}; then
  true
elif load \${icenet_part} ${tmp} ${bak} && env import -c ${tmp} \${filesize} ${vars}; then
  echo "icenet: ${env} is damaged; using ${bak}"
fi
if test "\${icenet_good}" != b; then setenv icenet_good a; fi
setenv icenet_slot \${icenet_good}
setenv icenet_extra
if test "\${icenet_trial}" = a || test "\${icenet_trial}" = b; then
  if test "\${icenet_trial}" != "\${icenet_good}" && test -n "\${icenet_tries}" && test \${icenet_tries} -gt 0; then
    setexpr icenet_tries \${icenet_tries} - 1
    env export -c -s ${size} ${tmp} ${vars}
    if fatwrite \${icenet_part} ${tmp} ${env} ${size} && fatwrite \${icenet_part} ${tmp} ${bak} ${size}; then
      setenv icenet_slot \${icenet_trial}
      setenv icenet_extra " icenet.trial=1"
    else
      echo "icenet: cannot save the try count; not trying slot \${icenet_trial}"
    fi
  fi
fi
setenv icenet_booted
for icenet_s in \${icenet_slot} \${icenet_good} a b; do
  if test -z "\${icenet_booted}" && load \${icenet_part} \${kernel_addr_r} slot-\${icenet_s}/${opts.kernel}; then
    setenv icenet_booted \${icenet_s}
  fi
done
if test "\${icenet_booted}" != "\${icenet_slot}"; then
  echo "icenet: slot \${icenet_slot} has no kernel; booting slot \${icenet_booted}"
  setenv icenet_slot \${icenet_booted}
  setenv icenet_extra
fi
setenv bootargs
load \${icenet_part} ${tmp} slot-\${icenet_slot}/${CMDLINE_FILE} && env import -t ${tmp} \${filesize} bootargs
setenv bootargs "\${bootargs}\${icenet_extra}"
setenv icenet_args
if load \${icenet_part} ${tmp} ${EXTRA_ARGS_FILE} && env import -t ${tmp} \${filesize} icenet_args; then
  setenv bootargs "\${bootargs} \${icenet_args}"
fi
if test -n "\${fdt_addr}"; then
  setenv icenet_fdt \${fdt_addr}
elif load \${icenet_part} \${fdt_addr_r} slot-\${icenet_slot}/\${fdtfile}; then
  setenv icenet_fdt \${fdt_addr_r}
fi
echo "icenet: good \${icenet_good}, trial \${icenet_trial}, tries left \${icenet_tries}: booting slot \${icenet_slot}\${icenet_extra}"
${opts.bootCommand} \${kernel_addr_r} - \${icenet_fdt}
`;
}
