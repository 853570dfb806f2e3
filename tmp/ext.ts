import { fileExtent } from "../tests/e2e/_squashfs.ts";
const e = await fileExtent(Deno.args[0], Deno.args[1]);
console.log(e);
const f = await Deno.open(Deno.args[0]); const b = new Uint8Array(e.bytes); await f.seek(e.start, 0); await f.read(b);
Deno.writeFileSync("/tmp/frag.xz", b);
