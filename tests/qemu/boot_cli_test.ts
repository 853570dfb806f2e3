// `deno task boot`: an unknown --machine is refused by name before anything is built.
import assert from "node:assert/strict";

const ROOT = new URL("../..", import.meta.url).pathname;

Deno.test("boot --machine names the board's machines when given an unknown one, building nothing", async () => {
  const store = await Deno.makeTempDir({ prefix: "icenet-boot-cli-" });
  const t0 = performance.now();
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}/bin/boot.ts`, "rpi", "--machine", "raspi5"],
    env: { ICENET_HOME: store },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const built = [...Deno.readDirSync(store)].map((e) => e.name);
  await Deno.remove(store, { recursive: true });
  assert.ok(!built.includes("objects"), `the store got: ${built.join(", ")}`);
  const err = new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 1, err);
  assert.match(
    err,
    /boot: boards\/rpi\.yaml: qemu: no machine "raspi5" \(have: raspi3b, raspi4b\)/,
  );
  assert.ok(performance.now() - t0 < 30_000, "it took long enough to have built something");
});
