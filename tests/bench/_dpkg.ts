/**
 * Debian's dpkg (the host's) as the reference for the ice-pkg benchmark: the same
 * files as a .deb, a fresh dpkg root, and a dpkg database with the same 50,000 file
 * rows as ice-pkg's for `dpkg-query -S`.
 */
import { join } from "node:path";

async function run(cmd: string, args: string[]): Promise<void> {
  const p = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (!p.success) {
    throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(p.stderr)}`);
  }
}

/** A .deb of `files` (path -> bytes) named `name`, xz-compressed like an .ice. */
export async function makeDeb(
  dir: string,
  name: string,
  files: Record<string, Uint8Array>,
): Promise<string> {
  const tree = join(dir, `deb-${name}`);
  for (const [p, data] of Object.entries(files)) {
    Deno.mkdirSync(join(tree, p, ".."), { recursive: true });
    Deno.writeFileSync(join(tree, p), data);
  }
  Deno.mkdirSync(join(tree, "DEBIAN"), { recursive: true });
  Deno.writeTextFileSync(
    join(tree, "DEBIAN/control"),
    `Package: ${name}\nVersion: 1.0\nArchitecture: all\nMaintainer: bench <bench@example.invalid>\nDescription: benchmark package\n`,
  );
  const deb = join(dir, `${name}.deb`);
  await run("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", tree, deb]);
  Deno.removeSync(tree, { recursive: true });
  return deb;
}

/** An empty dpkg root (its database under var/lib/dpkg). */
export function freshDpkgRoot(root: string): string {
  for (const d of ["info", "updates", "triggers"]) {
    Deno.mkdirSync(join(root, "var/lib/dpkg", d), { recursive: true });
  }
  Deno.writeTextFileSync(join(root, "var/lib/dpkg/status"), "");
  return root;
}

/** `dpkg --root ROOT -i DEB`. */
export function dpkgInstallArgs(root: string, deb: string): string[] {
  return [`--root=${root}`, "--log=/dev/null", "-i", deb];
}

/** A dpkg database with `packages` packages of `perPackage` files each, as the bench's. */
export function dpkgDatabase(root: string, packages: number, perPackage: number): string {
  freshDpkgRoot(root);
  const admin = join(root, "var/lib/dpkg");
  const status: string[] = [];
  for (let p = 0; p < packages; p++) {
    const name = `pkg${p}`;
    status.push(
      `Package: ${name}\nStatus: install ok installed\nMaintainer: bench <bench@example.invalid>\nArchitecture: all\nVersion: 1.0\nDescription: benchmark package\n`,
    );
    const list = ["/.", "/usr", "/usr/share", `/usr/share/${name}`];
    for (let i = 0; i < perPackage; i++) list.push(`/usr/share/${name}/file${i}`);
    Deno.writeTextFileSync(join(admin, "info", `${name}.list`), list.join("\n") + "\n");
  }
  Deno.writeTextFileSync(join(admin, "status"), status.join("\n"));
  return admin;
}
