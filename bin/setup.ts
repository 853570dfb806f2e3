/**
 * `deno task setup`: install the Debian packages the stages and tests need
 * (lib/tools.ts is the one list), skipping those already installed.
 */
import { testPackages } from "../lib/test_packages.ts";
import { hostPackages } from "../lib/tools.ts";

const pkgs = [...hostPackages(), ...testPackages()];
const status = await new Deno.Command("dpkg-query", {
  args: ["-W", "-f", "${Package}\\t${db:Status-Abbrev}\\n", ...pkgs],
  stdout: "piped",
  stderr: "null",
}).output();
const installed = new Set(
  new TextDecoder().decode(status.stdout).split("\n")
    .filter((l) => l.split("\t")[1]?.startsWith("ii")).map((l) => l.split("\t")[0]),
);
const missing = pkgs.filter((p) => !installed.has(p));
if (missing.length === 0) {
  console.log(`setup: all ${pkgs.length} host packages installed`);
  Deno.exit(0);
}
console.log(`setup: installing ${missing.join(" ")}`);
const sudo = Deno.uid() === 0 ? [] : ["sudo"];
const run = async (args: string[]) => {
  const cmd = [...sudo, "env", "DEBIAN_FRONTEND=noninteractive", ...args];
  const r = await new Deno.Command(cmd[0], { args: cmd.slice(1) }).output();
  return r.code;
};
if (await run(["apt-get", "install", "-y", "-q", "--no-install-recommends", ...missing]) !== 0) {
  await run(["apt-get", "update", "-q"]);
  if (await run(["apt-get", "install", "-y", "-q", "--no-install-recommends", ...missing]) !== 0) {
    console.error(`setup: apt-get install failed for: ${missing.join(" ")}`);
    Deno.exit(1);
  }
}
