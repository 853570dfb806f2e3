/**
 * libnl per architecture: the package holds libnl-3 and libnl-genl-3 only, the staging
 * tree what a build needs of them, and a program compiled against that tree (the musl
 * stage's compiler, the flags of libnl's pkg-config files) runs in a root of the
 * packages (tests/pkgs/_wifi.ts): it builds a generic netlink message and parses it
 * back, and natively asks the kernel's generic netlink controller for families.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { loadBoard } from "../../lib/board.ts";
import { readPackageMeta } from "../../lib/ice-pkg/package.ts";
import { buildReal, ROOT } from "../rootfs/_real.ts";
import { BOARDS, run, SCRATCH } from "./_root.ts";
import { nl80211, wifiRoot } from "./_wifi.ts";

const PACKAGES = ["musl", "libnl"];

/** A CTRL_CMD_GETFAMILY request built and parsed back; with "kernel", asked of the kernel. */
const PROGRAM = `#include <stdio.h>
#include <string.h>
#include <netlink/netlink.h>
#include <netlink/genl/genl.h>
#include <netlink/genl/ctrl.h>

int main(int argc, char **argv) {
  struct nl_msg *msg = nlmsg_alloc();
  struct nlattr *tb[CTRL_ATTR_MAX + 1];
  struct nla_policy pol[CTRL_ATTR_MAX + 1];
  memset(pol, 0, sizeof(pol));
  pol[CTRL_ATTR_FAMILY_NAME].type = NLA_STRING;
  pol[CTRL_ATTR_FAMILY_ID].type = NLA_U16;
  if (!msg || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, GENL_ID_CTRL, 0, 0,
                           CTRL_CMD_GETFAMILY, 1))
    return 2;
  if (nla_put_string(msg, CTRL_ATTR_FAMILY_NAME, "nl80211") < 0 ||
      nla_put_u16(msg, CTRL_ATTR_FAMILY_ID, 0x1234) < 0)
    return 3;
  int err = genlmsg_parse(nlmsg_hdr(msg), 0, tb, CTRL_ATTR_MAX, pol);
  printf("message: %u bytes, parse %d, name %s, id 0x%x\\n", nlmsg_hdr(msg)->nlmsg_len, err,
         nla_get_string(tb[CTRL_ATTR_FAMILY_NAME]), nla_get_u16(tb[CTRL_ATTR_FAMILY_ID]));
  nlmsg_free(msg);
  if (argc > 1 && strcmp(argv[1], "kernel") == 0) {
    struct nl_sock *sk = nl_socket_alloc();
    err = genl_connect(sk);
    if (err < 0) {
      printf("genl_connect: %s\\n", nl_geterror(err));
      return 1;
    }
    printf("nlctrl: %d\\n", genl_ctrl_resolve(sk, "nlctrl"));
    printf("icenet-none: %s\\n", nl_geterror(genl_ctrl_resolve(sk, "icenet-none")));
    nl_socket_free(sk);
  }
  return 0;
}
`;

for (const b of BOARDS) {
  Deno.test(`${b.arch}: libnl builds and parses generic netlink messages`, async (t) => {
    const { root, dir, files } = await wifiRoot(b, PACKAGES);
    const res = await buildReal(["musl", "pkg:libnl"], b.board);
    const staging = join(res.get("pkg:libnl")!.out!, "staging");
    try {
      await t.step("the package holds the two libraries, nothing to build with", async () => {
        const meta = await readPackageMeta(files.libnl, { where: "libnl" });
        assert.deepEqual(meta.depends, ["musl"]);
        assert.deepEqual(meta.files.map((f) => f.path).sort(), [
          "usr",
          "usr/lib",
          "usr/lib/libnl-3.so.200",
          "usr/lib/libnl-3.so.200.26.0",
          "usr/lib/libnl-genl-3.so.200",
          "usr/lib/libnl-genl-3.so.200.26.0",
        ]);
      });
      await t.step(
        "the staging tree: headers and pkg-config files of both, no others",
        () => {
          const pc = [...Deno.readDirSync(join(staging, "usr/lib/pkgconfig"))].map((e) => e.name);
          assert.deepEqual(pc.sort(), ["libnl-3.0.pc", "libnl-genl-3.0.pc"]);
          const inc = join(staging, "usr/include/libnl3/netlink");
          assert.ok(Deno.statSync(join(inc, "genl/ctrl.h")).isFile);
          for (const other of ["route", "netfilter", "idiag", "xfrm", "cli", "fib_lookup"]) {
            assert.throws(() => Deno.statSync(join(inc, other)), `${other}/ is staged`);
          }
        },
      );
      await t.step("a program built against the staging tree runs in the root", async () => {
        const board = await loadBoard(ROOT, b.board);
        const gcc = join(res.get("musl")!.out!, "bin", `${board.triple}-gcc`);
        const env = {
          PKG_CONFIG_LIBDIR: join(staging, "usr/lib/pkgconfig"),
          PKG_CONFIG_SYSROOT_DIR: staging,
        };
        const flags = await new Deno.Command("pkg-config", {
          args: ["--cflags", "--libs", "libnl-genl-3.0"],
          env,
        }).output();
        assert.ok(flags.success, new TextDecoder().decode(flags.stderr));
        const args = new TextDecoder().decode(flags.stdout).trim().split(/\s+/);
        assert.deepEqual(args.filter((a) => a.startsWith("-l")), ["-lnl-genl-3", "-lnl-3"]);
        await Deno.writeTextFile(join(dir, "nltest.c"), PROGRAM);
        const out = join(root.work, "nltest");
        const cc = await run([
          gcc,
          "-Wall",
          "-Wextra",
          "-Werror",
          "-o",
          out,
          join(dir, "nltest.c"),
          ...args,
        ]);
        assert.equal(cc.code, 0, cc.err);
        const r = await run(root.argv([`${SCRATCH}/nltest`]));
        assert.equal(r.code, 0, r.err);
        // 16 (nlmsghdr) + 4 (genlmsghdr) + 12 (the name, NUL included) + 8 (the u16, padded).
        assert.equal(r.out, "message: 40 bytes, parse 0, name nl80211, id 0x1234\n");
      });
      await t.step("generic netlink: the kernel's controller resolves families", async () => {
        const r = await run(root.argv([`${SCRATCH}/nltest`, "kernel"]));
        const lines = r.out.split("\n").slice(1).join("\n");
        if (nl80211(b) === "no-genl") {
          // qemu-user's socket() refuses NETLINK_GENERIC: libnl reports the errno as its own.
          assert.equal(r.code, 1, r.err);
          assert.equal(lines, "genl_connect: Protocol mismatch\n");
        } else {
          assert.equal(r.code, 0, r.err);
          // nlctrl is GENL_ID_CTRL (16) on every kernel.
          assert.equal(lines, "nlctrl: 16\nicenet-none: Object not found\n");
        }
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
