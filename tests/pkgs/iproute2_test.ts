/**
 * iproute2, per architecture, in a root of its packages (tests/pkgs/_root.ts) with a
 * network namespace of its own: one busybox shell script makes a veth pair, gives it an
 * address, enslaves its peer to a bridge, puts a qdisc on it and starts a TCP listener,
 * and ip, bridge, tc and ss report each of them (JSON where they print it).
 *
 * qemu-user translates rtnetlink's link, address and route messages, so ip and bridge
 * work there too; it refuses tc's traffic-control messages (EOPNOTSUPP) and
 * NETLINK_SOCK_DIAG sockets, so on aarch64 and armv7 tc fails with its own message and
 * ss reads /proc/net/tcp instead (which holds no listen backlog: Send-Q 0).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readPackageMeta } from "../../lib/ice-pkg/package.ts";
import { elfInfo } from "../userland/_build.ts";
import { buildReal, packageIn } from "../rootfs/_real.ts";
import { BOARDS, makeRoot, run, SCRATCH } from "./_root.ts";

const PACKAGES = ["musl", "busybox", "iproute2"];
const TOOLS = ["ip", "ss", "bridge", "tc"];

/**
 * The scenario, in one namespace (every run of the root gets a fresh one). `step NAME
 * CMD...` leaves CMD's output, errors and exit code in NAME.out, .err, .rc under
 * SCRATCH; $Q is the qemu-user program on a foreign board (busybox's applets then run
 * under it too: the shell cannot execute them itself).
 */
const SCRIPT = `
Q=$1
S=${SCRATCH}
step() { n=$1; shift; $Q "$@" >$S/$n.out 2>$S/$n.err; echo $? >$S/$n.rc; }
step version /usr/sbin/ip -V
step veth /usr/sbin/ip link add icenet0 type veth peer name icenet1
step again /usr/sbin/ip link add icenet0 type veth peer name icenet1
step address /usr/sbin/ip address add 192.0.2.1/24 dev icenet0
step up0 /usr/sbin/ip link set icenet0 up
step up1 /usr/sbin/ip link set icenet1 up
step addr /usr/sbin/ip -j address show dev icenet0
step route /usr/sbin/ip route
step br /usr/sbin/ip link add icebr0 type bridge
step enslave /usr/sbin/ip link set icenet1 master icebr0
step brup /usr/sbin/ip link set icebr0 up
step bridge /usr/sbin/bridge -j link show
step qdisc /usr/sbin/tc qdisc add dev icenet0 root pfifo limit 100
step qdiscs /usr/sbin/tc -j qdisc show dev icenet0
$Q /bin/busybox nc -l -s 192.0.2.1 -p 40123 &
for i in $($Q /bin/busybox seq 50); do
  step ss /usr/sbin/ss -ltn
  $Q /bin/busybox grep -q :40123 $S/ss.out && break
  $Q /bin/busybox usleep 100000
done
kill $!
`;

for (const b of BOARDS) {
  Deno.test(`${b.arch}: iproute2 sets up links, addresses, a bridge and a qdisc`, async (t) => {
    const res = await buildReal(PACKAGES.map((p) => `pkg:${p}`), b.board);
    const files = PACKAGES.map((p) => packageIn(res.get(`pkg:${p}`)!.out!));
    const dir = await Deno.makeTempDir({ prefix: `icenet-iproute2-${b.arch}-` });
    try {
      const root = await makeRoot(b, files, dir, { unshareNet: true });
      await t.step("the package holds the four tools, linked against musl only", async () => {
        const meta = await readPackageMeta(files[2], { where: "iproute2" });
        assert.deepEqual(meta.depends, ["musl"]);
        assert.ok(meta.conffiles.includes("etc/iproute2/rt_tables"), `${meta.conffiles}`);
        for (const p of TOOLS) {
          const bin = join(root.tree, "usr/sbin", p);
          assert.equal((await elfInfo(bin)).interp, b.loader, p);
          // No libmnl, libelf, libbpf, libcap or SELinux crept in.
          const needed = await run(["readelf", "-d", bin]);
          assert.deepEqual([...needed.out.matchAll(/\(NEEDED\).*\[(.+)\]/g)].map((m) => m[1]), [
            "libc.so",
          ]);
        }
        // busybox's ip and tc applets are /sbin/ip and /sbin/tc: no file is shared.
        const bb = await readPackageMeta(files[1], { where: "busybox" });
        const theirs = new Set(bb.files.filter((f) => f.type !== "dir").map((f) => f.path));
        const shared = meta.files.filter((f) => f.type !== "dir" && theirs.has(f.path));
        assert.deepEqual(shared, []);
      });
      const r = await run(root.argv(["/bin/sh", "-c", SCRIPT, "sh", b.qemu ? "/qemu" : ""]));
      assert.equal(r.code, 0, `${r.out}${r.err}`);
      const out = (n: string) => Deno.readTextFile(join(root.work, `${n}.out`));
      const step = async (n: string) => ({
        code: Number(await Deno.readTextFile(join(root.work, `${n}.rc`))),
        out: await out(n),
        err: await Deno.readTextFile(join(root.work, `${n}.err`)),
      });
      const ok = async (...names: string[]) => {
        for (const n of names) {
          const s = await step(n);
          assert.equal(s.code, 0, `${n}: ${s.out}${s.err}`);
        }
      };
      await t.step("ip -V", async () => {
        await ok("version");
        assert.equal(await out("version"), "ip utility, iproute2-6.1.0\n");
      });
      await t.step("ip link add makes a veth pair, once", async () => {
        await ok("veth", "address", "up0", "up1");
        const again = await step("again");
        assert.equal(again.code, 2, again.out);
        assert.equal(again.err, "RTNETLINK answers: File exists\n");
      });
      await t.step("ip -j address show lists the address", async () => {
        await ok("addr");
        const [link] = JSON.parse(await out("addr"));
        assert.equal(link.ifname, "icenet0");
        assert.equal(link.link, "icenet1");
        assert.ok(link.flags.includes("UP"), `${link.flags}`);
        const inet = link.addr_info.filter((a: { family: string }) => a.family === "inet");
        assert.deepEqual(
          inet.map((a: { local: string; prefixlen: number }) => `${a.local}/${a.prefixlen}`),
          ["192.0.2.1/24"],
        );
      });
      await t.step("ip route lists the connected route", async () => {
        await ok("route");
        assert.match(
          await out("route"),
          /^192\.0\.2\.0\/24 dev icenet0 proto kernel scope link src 192\.0\.2\.1 $/m,
        );
      });
      await t.step("bridge link shows the bridge port", async () => {
        await ok("br", "enslave", "brup", "bridge");
        const ports = JSON.parse(await out("bridge"));
        assert.deepEqual(
          ports.map((p: { ifname: string; master: string }) => [p.ifname, p.master]),
          [["icenet1", "icebr0"]],
        );
      });
      await t.step("tc adds and shows a qdisc", async () => {
        const add = await step("qdisc"), show = await step("qdiscs");
        if (b.qemu) {
          // qemu-user's netlink translation knows no RTM_*QDISC message.
          assert.equal(add.code, 2, add.out);
          assert.equal(add.err, "Cannot talk to rtnetlink: Not supported\n");
          assert.equal(show.code, 1, show.out);
          assert.equal(show.err, "Cannot send request: Not supported\n");
          return;
        }
        await ok("qdisc", "qdiscs");
        const [q] = JSON.parse(show.out);
        assert.equal(q.kind, "pfifo");
        assert.equal(q.root, true);
        assert.equal(q.options.limit, 100);
      });
      await t.step("ss -ltn shows the listener", async () => {
        const ss = await step("ss");
        assert.equal(ss.code, 0, ss.err);
        // Natively the kernel's sock_diag answers with the backlog (busybox nc: 1).
        const sendQ = b.qemu ? "0" : "1";
        assert.match(
          ss.out,
          new RegExp(`^LISTEN +0 +${sendQ} +192\\.0\\.2\\.1:40123 +0\\.0\\.0\\.0:\\* *$`, "m"),
        );
        assert.equal(ss.err, b.qemu ? "Cannot open netlink socket: Protocol not supported\n" : "");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
