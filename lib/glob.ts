/**
 * Expand the input patterns of a stage: plain paths, `*` within one path segment
 * and `**` across segments. Results are sorted, relative to the root, files only
 * (a directory input means every file under it). An absolute path (a signing key
 * outside the project) is taken as it is.
 */
import { join } from "node:path";

/** Expand `patterns` under `root`; a pattern matching nothing is an error. */
export function expandInputs(root: string, patterns: string[], owner: string): string[] {
  const out = new Set<string>();
  for (const pat of patterns) {
    const before = out.size;
    if (pat.startsWith("/")) {
      try {
        Deno.statSync(pat);
      } catch {
        throw new Error(`${owner}: input ${pat} does not exist`);
      }
      out.add(pat);
      continue;
    }
    if (!/[*?[]/.test(pat)) {
      let st: Deno.FileInfo;
      try {
        st = Deno.statSync(join(root, pat));
      } catch {
        throw new Error(`${owner}: input ${pat} does not exist`);
      }
      if (st.isDirectory) walk(root, pat, (p) => out.add(p));
      else out.add(pat);
      continue;
    }
    const re = globToRegExp(pat);
    const fixed: string[] = [];
    for (const seg of pat.split("/")) {
      if (/[*?[]/.test(seg)) break;
      fixed.push(seg);
    }
    const start = fixed.join("/");
    try {
      if (start) Deno.statSync(join(root, start));
    } catch {
      throw new Error(`${owner}: input ${pat} matches nothing`);
    }
    walk(root, start, (p) => {
      if (re.test(p)) out.add(p);
    });
    if (out.size === before) throw new Error(`${owner}: input ${pat} matches nothing`);
  }
  return [...out].sort();
}

function walk(root: string, rel: string, visit: (path: string) => void): void {
  for (const e of Deno.readDirSync(join(root, rel || "."))) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory) walk(root, p, visit);
    else visit(p);
  }
}

/** `**` = any number of segments, `*` = within a segment, `?` = one character. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*" && glob[i + 1] === "*") {
      re += ".*";
      i++;
      if (glob[i + 1] === "/") i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}
