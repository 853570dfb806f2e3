/** The ice-pkg program version (printed by `ice-pkg --version`). */
export const ICE_PKG_VERSION = "0.1.0";
