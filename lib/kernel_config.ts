/**
 * Kernel config fragments: merge them onto a base `.config` (tinyconfig), and after
 * `make olddefconfig` check that every requested option ended up as requested.
 * Kconfig drops an option whose dependencies are unmet without a word (so does
 * scripts/kconfig/merge_config.sh); the check turns that into an error naming the
 * option, the fragment line that asked for it and what Kconfig made of it.
 *
 * ```ts
 * const frags = [parseFragment("kernel/base.config", baseText)];
 * const merged = mergeConfig(tinyconfigText, frags);
 * // ... write merged to .config, run `make olddefconfig` ...
 * const bad = checkConfig(frags, parseConfig(".config", finalText));
 * if (bad.length) throw new Error(formatMismatches(bad));
 * ```
 */

/** One option as written in a config file: value `n` stands for "is not set". */
export interface ConfigEntry {
  /** Option name without the `CONFIG_` prefix. */
  name: string;
  /** `y`, `m`, `n`, a number, or a quoted string exactly as written. */
  value: string;
  /** File the entry came from (for messages). */
  file: string;
  /** 1-based line number in that file. */
  line: number;
}

/** A parsed config file or fragment: entries by name, last assignment wins. */
export interface ConfigFile {
  file: string;
  entries: Map<string, ConfigEntry>;
}

const SET = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/;
const UNSET = /^# CONFIG_([A-Za-z0-9_]+) is not set$/;
const VALUE = /^(y|m|n|-?\d+|0x[0-9a-fA-F]+|"(?:[^"\\]|\\.)*")$/;

/**
 * Parse a `.config` or fragment. Comments and blank lines are skipped; any other
 * line that is not `CONFIG_X=value` or `# CONFIG_X is not set` is an error naming
 * `file:line`. A fragment that sets one option twice is an error too (the second
 * line would silently win).
 */
export function parseConfig(
  file: string,
  text: string,
  opts: { strict?: boolean } = {},
): ConfigFile {
  const entries = new Map<string, ConfigEntry>();
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    const lineNo = i + 1;
    let m = line.match(SET);
    let name: string | undefined;
    let value: string | undefined;
    if (m) {
      [name, value] = [m[1], m[2]];
      if (!VALUE.test(value)) {
        throw new Error(
          `${file}:${lineNo}: CONFIG_${name}: bad value ${value} (want y, m, n, a number or "a string")`,
        );
      }
    } else if ((m = line.match(UNSET))) {
      [name, value] = [m[1], "n"];
    } else if (line === "" || line.startsWith("#")) {
      if (/^#\s*CONFIG_/.test(line) && !UNSET.test(line)) {
        throw new Error(`${file}:${lineNo}: write a disabled option as "# CONFIG_X is not set"`);
      }
      return;
    } else {
      throw new Error(`${file}:${lineNo}: not a config line: ${raw}`);
    }
    if (opts.strict && entries.has(name)) {
      const first = entries.get(name)!;
      throw new Error(`${file}:${lineNo}: CONFIG_${name} already set on line ${first.line}`);
    }
    entries.set(name, { name, value, file, line: lineNo });
  });
  return { file, entries };
}

/** Parse a fragment: like parseConfig, but an option set twice is an error. */
export function parseFragment(file: string, text: string): ConfigFile {
  return parseConfig(file, text, { strict: true });
}

/** Render one entry as a `.config` line. */
function render(e: ConfigEntry): string {
  return e.value === "n" ? `# CONFIG_${e.name} is not set` : `CONFIG_${e.name}=${e.value}`;
}

/**
 * Merge fragments onto a base config text, in order (later fragments win). Options
 * of the base that a fragment sets are replaced in place; new ones are appended in
 * fragment order. The result is what `make olddefconfig` should then complete.
 */
export function mergeConfig(baseText: string, fragments: ConfigFile[]): string {
  const want = new Map<string, ConfigEntry>();
  for (const f of fragments) for (const [k, e] of f.entries) want.set(k, e);
  const out: string[] = [];
  const done = new Set<string>();
  for (const raw of baseText.split("\n")) {
    const m = raw.match(SET) ?? raw.match(UNSET);
    const e = m ? want.get(m[1]) : undefined;
    if (e) {
      if (!done.has(e.name)) out.push(render(e));
      done.add(e.name);
    } else if (raw !== "") out.push(raw);
  }
  for (const e of want.values()) if (!done.has(e.name)) out.push(render(e));
  return out.join("\n") + "\n";
}

/** A requested option that Kconfig did not keep. */
export interface Mismatch {
  /** The request (name, value, and the fragment line that made it). */
  wanted: ConfigEntry;
  /** Value in the final `.config` (`n` when absent or not set). */
  got: string;
}

/**
 * Compare the requests of all fragments (later ones win, as in mergeConfig) with
 * the final `.config`. `n` is satisfied by an absent option.
 */
export function checkConfig(fragments: ConfigFile[], final: ConfigFile): Mismatch[] {
  const want = new Map<string, ConfigEntry>();
  for (const f of fragments) for (const [k, e] of f.entries) want.set(k, e);
  const bad: Mismatch[] = [];
  for (const e of want.values()) {
    const got = final.entries.get(e.name)?.value ?? "n";
    if (got !== e.value) bad.push({ wanted: e, got });
  }
  return bad;
}

/** One line per mismatch, e.g. `kernel/base.config:12: CONFIG_SQUASHFS=y ended as n`. */
export function formatMismatches(bad: Mismatch[]): string {
  return bad.map(({ wanted: w, got }) =>
    `${w.file}:${w.line}: CONFIG_${w.name}=${w.value} ended as ${got}` +
    (got === "n"
      ? " (a dependency is off: check with make menuconfig, search /" + w.name + ")"
      : "")
  ).join("\n");
}

/** How configureKernel runs make in the kernel tree (e.g. through the stage's shell). */
export type MakeRunner = (targets: string[]) => Promise<void>;

/**
 * Configure a kernel tree: `make tinyconfig`, merge the fragments (files, in order)
 * onto the resulting `.config`, `make olddefconfig`, then check every request. Throws
 * an error listing each option that did not end as requested. Returns the final
 * `.config` text.
 */
export async function configureKernel(opts: {
  /** The kernel tree (where `.config` is written). */
  tree: string;
  /** Fragments as [name in messages, absolute path]. */
  fragments: [string, string][];
  make: MakeRunner;
}): Promise<string> {
  const frags = await Promise.all(
    opts.fragments.map(async ([name, path]) => parseFragment(name, await Deno.readTextFile(path))),
  );
  const config = `${opts.tree}/.config`;
  await opts.make(["tinyconfig"]);
  await Deno.writeTextFile(config, mergeConfig(await Deno.readTextFile(config), frags));
  await opts.make(["olddefconfig"]);
  const final = await Deno.readTextFile(config);
  const bad = checkConfig(frags, parseConfig(".config", final));
  if (bad.length) {
    throw new Error(
      `kernel config: ${bad.length} requested option(s) did not survive olddefconfig:\n` +
        formatMismatches(bad),
    );
  }
  return final;
}
