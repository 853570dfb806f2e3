/**
 * The environment every stage's run() gets, and nothing else from the caller: fixed
 * time, locale and build identity, so tools that stamp them stamp ours.
 */

/** The fixed epoch of every build (2025-01-01T00:00:00Z). */
export const SOURCE_DATE_EPOCH = "1735689600";

/** The environment of every stage: reproducible, and nothing else from the caller. */
export function stageEnv(home: string): Record<string, string> {
  return {
    PATH: Deno.env.get("PATH") ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    TMPDIR: home,
    TZ: "UTC",
    LC_ALL: "C",
    LANG: "C",
    SOURCE_DATE_EPOCH,
    // So tools that stamp a user/host (kernel, busybox) don't stamp ours.
    KBUILD_BUILD_USER: "icenet",
    KBUILD_BUILD_HOST: "icenet",
    KBUILD_BUILD_TIMESTAMP: new Date(Number(SOURCE_DATE_EPOCH) * 1000).toUTCString(),
    KCONFIG_NOTIMESTAMP: "1",
  };
}
