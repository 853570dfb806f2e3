/**
 * `deno task repo`: make signing keys, packages and signed repositories.
 *
 *   deno task repo keygen KEYFILE            write KEYFILE (private) and KEYFILE.pub
 *   deno task repo pack DIR META.json OUT    package a directory tree as a .ice
 *   deno task repo build --key KEYFILE --out DIR [--serial N] [--expires-days N]
 *                        [--created ISO] PKG.ice...
 */
import { buildRepo } from "../lib/ice-pkg/repo.ts";
import { generateKeyFiles } from "../lib/ice-pkg/keys.ts";
import { createPackage } from "../lib/ice-pkg/package.ts";

const USAGE = `usage:
  deno task repo keygen KEYFILE
  deno task repo pack DIR META.json OUT.ice
  deno task repo build --key KEYFILE --out DIR [--serial N] [--expires-days N] [--created ISO] PKG.ice...`;

/** Run the repo tool; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  if (cmd === "keygen" && rest.length === 1) {
    const k = await generateKeyFiles();
    Deno.writeTextFileSync(rest[0], k.privateFile, { mode: 0o600 });
    Deno.writeTextFileSync(`${rest[0]}.pub`, k.publicLine);
    console.log(
      `key ${k.keyId}: ${rest[0]} (secret), ${
        rest[0]
      }.pub (install as <root>/etc/icenet/keys/${k.keyId}.pub)`,
    );
    return 0;
  }
  if (cmd === "pack" && rest.length === 3) {
    const meta = JSON.parse(Deno.readTextFileSync(rest[1]));
    Deno.writeFileSync(rest[2], await createPackage(rest[0], meta));
    console.log(rest[2]);
    return 0;
  }
  if (cmd === "build") {
    let key: string | undefined, out: string | undefined, serial: number | undefined;
    let days = 30, created: Date | undefined;
    const pkgs: string[] = [];
    for (let i = 0; i < rest.length; i++) {
      const a = rest[i];
      if (a === "--key") key = rest[++i];
      else if (a === "--out") out = rest[++i];
      else if (a === "--serial") serial = Number(rest[++i]);
      else if (a === "--expires-days") days = Number(rest[++i]);
      else if (a === "--created") created = new Date(rest[++i]);
      else pkgs.push(a);
    }
    if (!key || !out) {
      console.error(USAGE);
      return 2;
    }
    const c = created ?? new Date();
    const index = await buildRepo({
      packages: pkgs,
      outDir: out,
      privateKey: Deno.readTextFileSync(key),
      serial,
      created: c,
      expires: new Date(c.getTime() + days * 86400_000),
    });
    console.log(
      `${out}: serial ${index.serial}, ${index.packages.length} packages, expires ${index.expires}`,
    );
    return 0;
  }
  console.error(USAGE);
  return 2;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
