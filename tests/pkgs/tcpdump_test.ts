/**
 * tcpdump against libpcap (shared), per architecture, in a root of its packages
 * (tests/pkgs/_root.ts): it reads a capture file the test writes (one UDP datagram),
 * prints the packet, and libpcap compiles filter expressions that keep or drop it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readPackageMeta } from "../../lib/ice-pkg/package.ts";
import { buildReal, packageIn } from "../rootfs/_real.ts";
import { BOARDS, makeRoot, run, SCRATCH } from "./_root.ts";

const PACKAGES = ["musl", "libpcap", "tcpdump"];

/** A pcap file (Ethernet) holding one IPv4 UDP datagram 10.0.0.1:40000 -> 10.0.0.2:9999. */
function capture(): Uint8Array {
  const payload = new TextEncoder().encode("hello");
  const udp = 8 + payload.length, ip = 20 + udp, frame = 14 + ip;
  const b = new Uint8Array(24 + 16 + frame);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0xa1b2c3d4, true); // magic (microseconds), little-endian
  v.setUint16(4, 2, true);
  v.setUint16(6, 4, true);
  v.setUint32(16, 65535, true); // snap length
  v.setUint32(20, 1, true); // LINKTYPE_ETHERNET
  v.setUint32(24, 1735689600, true); // the record: time, lengths
  v.setUint32(32, frame, true);
  v.setUint32(36, frame, true);
  const f = 40;
  b.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00], f); // dst, src, IPv4
  const h = f + 14;
  b.set([0x45, 0, ip >> 8, ip & 0xff, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2], h);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += (b[h + i] << 8) | b[h + i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  v.setUint16(h + 10, ~sum & 0xffff);
  const u = h + 20;
  v.setUint16(u, 40000);
  v.setUint16(u + 2, 9999);
  v.setUint16(u + 4, udp);
  b.set(payload, u + 8);
  return b;
}

for (const b of BOARDS) {
  Deno.test(`${b.arch}: tcpdump reads a capture and filters it through libpcap`, async (t) => {
    const res = await buildReal(PACKAGES.map((p) => `pkg:${p}`), b.board);
    const files = PACKAGES.map((p) => packageIn(res.get(`pkg:${p}`)!.out!));
    const dir = await Deno.makeTempDir({ prefix: `icenet-tcpdump-${b.arch}-` });
    try {
      const root = await makeRoot(b, files, dir);
      await Deno.writeFile(join(root.work, "one.pcap"), capture());
      const tcpdump = ["/usr/bin/tcpdump", "-n", "-tt", "-r", `${SCRATCH}/one.pcap`];
      await t.step("the package depends on libpcap", async () => {
        const meta = await readPackageMeta(files[2], { where: "tcpdump" });
        assert.deepEqual(meta.depends, ["musl", "libpcap"]);
      });
      await t.step("tcpdump --version names libpcap", async () => {
        const r = await run(root.argv(["/usr/bin/tcpdump", "--version"]));
        assert.match(r.out, /tcpdump version 4\.99\.3\nlibpcap version 1\.10\.3/, r.err);
      });
      await t.step("it prints the captured datagram", async () => {
        const r = await run(root.argv(tcpdump));
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, "1735689600.000000 IP 10.0.0.1.40000 > 10.0.0.2.9999: UDP, length 5\n");
      });
      await t.step("filters compiled by libpcap keep or drop it", async () => {
        const keep = await run(root.argv([...tcpdump, "udp and dst port 9999"]));
        assert.equal(keep.out.split("\n").filter(Boolean).length, 1, keep.err);
        const drop = await run(root.argv([...tcpdump, "tcp or src host 10.0.0.2"]));
        assert.equal(drop.code, 0, drop.err);
        assert.equal(drop.out, "");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
