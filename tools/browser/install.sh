#!/usr/bin/env bash
# Installs what the console's browser tests (ConsoleBrowserIT) need: Debian's chromium and playwright-core (pinned
# in package-lock.json). Each step is skipped when already done. Where an install is impossible (not root, no apt,
# no npm), it says so and exits 0: the test then skips itself with that message.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
status=0
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "install.sh: installing chromium (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 \
      || { apt-get update >/dev/null 2>&1 && apt-get install -y --no-install-recommends chromium >/dev/null 2>&1; } \
      || { echo "install.sh: chromium could not be installed with apt-get"; status=1; }
  else
    echo "install.sh: chromium is missing and cannot be installed here (needs root and apt-get)"; status=1
  fi
fi
if ! [ -f node_modules/playwright-core/package.json ]; then
  if command -v npm >/dev/null 2>&1; then
    echo "install.sh: installing playwright-core (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error || { echo "install.sh: npm ci failed"; status=1; }
  else
    echo "install.sh: npm is missing: playwright-core cannot be installed"; status=1
  fi
fi
[ "$status" = 0 ] && echo "install.sh: chromium and playwright-core are ready"
exit 0
