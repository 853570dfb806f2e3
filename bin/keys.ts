/**
 * `deno task keys secureboot DIR`
 *
 * Makes a UEFI Secure Boot key set in DIR (PK, KEK and db: RSA-2048 keys and
 * self-signed certificates; existing files are kept) and writes the files to enrol it in
 * a board's firmware (lib/secureboot/enrol.ts): `<name>.crt`, `.cer`, `.esl`, `.auth`
 * and `PK-delete.auth`. Builds sign with the set when ICENET_SECUREBOOT_KEYS=DIR; the
 * README says how to enrol it on a Zima board.
 */
import { EXIT } from "../lib/cli.ts";
import { writeEnrolFiles } from "../lib/secureboot/enrol.ts";
import { loadKeySet } from "../lib/secureboot/keys.ts";

const USAGE = "usage: deno task keys secureboot DIR";

/** Run `keys`; returns the exit code (0 ok, 1 failed, 2 usage). */
export async function main(args: string[]): Promise<number> {
  const [kind, dir, ...rest] = args;
  if (kind !== "secureboot" || !dir || rest.length) {
    console.error(USAGE);
    return EXIT.usage;
  }
  try {
    const files = await writeEnrolFiles(dir);
    const keys = await loadKeySet(dir);
    console.log(`Secure Boot key set ${keys.id} in ${dir}:`);
    for (const f of files) console.log(`  ${f}`);
    console.log(
      `private keys: ${dir}/{PK,KEK,db}.key (keep them secret; PK and KEK can stay offline)\n` +
        `build with it: ICENET_SECUREBOOT_KEYS=${dir} deno task image:zima\n` +
        `enrol db, then KEK, then PK last (README: Secure Boot on a Zima board)`,
    );
    return 0;
  } catch (e) {
    console.error(`keys: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
