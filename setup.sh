#!/bin/sh
# One-time set-up of a fresh Debian 12 machine (idempotent, fast when done):
# Deno from npm, the project's npm dependencies, then the Debian packages the
# stages declare (`deno task setup`). Needs root or sudo for apt-get.
set -eu
cd "$(dirname "$0")"
DENO_VERSION=2.9.6
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO=sudo

if ! command -v npm >/dev/null 2>&1; then
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
fi
if ! deno --version 2>/dev/null | grep -q "^deno $DENO_VERSION "; then
  $SUDO npm install -g --allow-scripts=deno "deno@$DENO_VERSION" >/dev/null 2>&1 ||
    $SUDO npm install -g "deno@$DENO_VERSION"
fi
deno install --quiet
deno task --quiet setup
