/**
 * The hand-written ActionResult codec against an independent protobuf implementation
 * (protobufjs) reading the message definitions of remote_execution.proto, and the
 * checks bazel-remote makes on what is PUT under ac/ (utils/validate/action_result.go).
 */
import assert from "node:assert/strict";
import protobuf from "protobufjs";
import {
  type ActionResult,
  actionResultProblem,
  decodeActionResult,
  encodeActionResult,
} from "./action_result.ts";

// From build/bazel/remote/execution/v2/remote_execution.proto (the fields used here,
// plus some IceNet does not write, as a server may return them).
const PROTO = `
syntax = "proto3";
package build.bazel.remote.execution.v2;
message Digest { string hash = 1; int64 size_bytes = 2; }
message OutputFile {
  string path = 1; Digest digest = 2; bool is_executable = 4; bytes contents = 5;
}
message OutputSymlink { string path = 1; string target = 2; }
message OutputDirectory { string path = 1; Digest tree_digest = 3; }
message ExecutedActionMetadata { string worker = 1; }
message ActionResult {
  repeated OutputFile output_files = 2;
  repeated OutputSymlink output_file_symlinks = 10;
  repeated OutputSymlink output_symlinks = 12;
  repeated OutputDirectory output_directories = 3;
  int32 exit_code = 4;
  bytes stdout_raw = 5;
  Digest stdout_digest = 6;
  bytes stderr_raw = 7;
  ExecutedActionMetadata execution_metadata = 9;
}
`;
const root = protobuf.parse(PROTO, { keepCase: false }).root;
const AR = root.lookupType("build.bazel.remote.execution.v2.ActionResult");

const h = (c: string) => c.repeat(64);
const sample: ActionResult = {
  outputFiles: [
    { path: "icenet/record.json", digest: { hash: h("a"), size: 412 } },
    { path: "out/bin/busybox", digest: { hash: h("b"), size: 1_048_576 }, isExecutable: true },
    { path: "out/big.img", digest: { hash: h("c"), size: 5_000_000_000 } },
    { path: "out/empty", digest: { hash: h("e"), size: 0 } },
  ],
  outputSymlinks: [{ path: "out/bin/sh", target: "busybox" }],
  exitCode: 0,
  stdoutDigest: { hash: h("d"), size: 7 },
};

Deno.test("encodeActionResult() writes what protobufjs reads as the same ActionResult", () => {
  const msg = AR.toObject(AR.decode(encodeActionResult(sample)), { longs: Number }) as {
    outputFiles: {
      path: string;
      digest: { hash: string; sizeBytes?: number };
      isExecutable?: boolean;
    }[];
    outputSymlinks: { path: string; target: string }[];
    stdoutDigest: { hash: string; sizeBytes: number };
    exitCode?: number;
  };
  assert.deepEqual(
    msg.outputFiles.map((f) => [f.path, f.digest.hash, f.digest.sizeBytes ?? 0, !!f.isExecutable]),
    sample.outputFiles.map((f) => [f.path, f.digest.hash, f.digest.size, !!f.isExecutable]),
  );
  assert.deepEqual(msg.outputSymlinks, [{ path: "out/bin/sh", target: "busybox" }]);
  assert.deepEqual(msg.stdoutDigest, { hash: h("d"), sizeBytes: 7 });
  assert.equal(msg.exitCode ?? 0, 0);
});

Deno.test("decodeActionResult() reads a result re-encoded by a server, skipping what it added", () => {
  // bazel-remote adds execution_metadata.worker and re-marshals; others may add more.
  const bytes = AR.encode(AR.fromObject({
    outputFiles: sample.outputFiles.map((f) => ({
      path: f.path,
      digest: { hash: f.digest.hash, sizeBytes: f.digest.size },
      isExecutable: f.isExecutable ?? false,
      contents: f.path === "out/empty" ? new Uint8Array() : undefined,
    })),
    outputSymlinks: sample.outputSymlinks,
    outputDirectories: [{ path: "out/d", treeDigest: { hash: h("f"), sizeBytes: 3 } }],
    stdoutDigest: { hash: h("d"), sizeBytes: 7 },
    stderrRaw: new TextEncoder().encode("warning\n"),
    executionMetadata: { worker: "127.0.0.1" },
  })).finish();
  const got = decodeActionResult(bytes);
  assert.deepEqual(
    got.outputFiles.map((f) => ({ ...f, isExecutable: !!f.isExecutable })),
    sample.outputFiles.map((f) => ({ ...f, isExecutable: !!f.isExecutable })),
  );
  assert.deepEqual(got.outputSymlinks, sample.outputSymlinks);
  assert.deepEqual(got.stdoutDigest, sample.stdoutDigest);
});

Deno.test("decodeActionResult() refuses malformed bytes", async (t) => {
  const good = encodeActionResult(sample);
  const rows: [string, Uint8Array, RegExp][] = [
    ["cut short", good.subarray(0, good.length - 5), /truncated/],
    ["field number 0", Uint8Array.of(0x02, 0x00), /field number 0/],
    ["wire type 3 (groups)", Uint8Array.of(0x0b), /unsupported wire type 3/],
  ];
  for (const [name, bytes, err] of rows) {
    await t.step(name, () => assert.throws(() => decodeActionResult(bytes), err));
  }
});

Deno.test("actionResultProblem() refuses what bazel-remote's validation refuses", async (t) => {
  const file = (path: string, hash = h("a"), size = 1) => ({
    ...sample,
    outputFiles: [{ path, digest: { hash, size } }],
  });
  const rows: [string, ActionResult, string | undefined][] = [
    ["a valid result", sample, undefined],
    ["no outputs at all", { outputFiles: [], outputSymlinks: [], exitCode: 0 }, undefined],
    ["empty path", file(""), "empty path"],
    ["absolute path", file("/etc/passwd"), 'absolute path in output file: "/etc/passwd"'],
    ["upper-case hash", file("out/a", h("A")), 'invalid Digest for path "out/a": invalid hash'],
    ["short hash", file("out/a", "abc"), 'invalid Digest for path "out/a": invalid hash'],
    [
      "negative size",
      file("out/a", h("a"), -1),
      'invalid Digest for path "out/a": negative SizeBytes',
    ],
    [
      "symlink without target",
      { ...sample, outputSymlinks: [{ path: "out/l", target: "" }] },
      "empty target in OutputSymlinks",
    ],
    [
      "absolute symlink path",
      { ...sample, outputSymlinks: [{ path: "/l", target: "x" }] },
      'absolute path in output symlink: "/l"',
    ],
  ];
  for (const [name, ar, problem] of rows) {
    await t.step(name, () => assert.equal(actionResultProblem(ar), problem));
  }
});
