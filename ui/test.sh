#!/usr/bin/env bash
# The UI's CI entry point: installs the locked npm packages, checks that the committed bundle is current, runs
# the Go package's tests and the browser tests (Debian's chromium at /usr/bin/chromium, driven by
# playwright-core; screenshots in ui/web/test-results/). Needs: go, node 20+ with npm, and the apt package
# chromium (installed here when missing and running as root).
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v "${CHROMIUM:-/usr/bin/chromium}" >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq chromium >/dev/null
  else
    echo "ui/test.sh needs chromium (apt-get install chromium)" >&2
    exit 1
  fi
fi
bash check-bundle.sh
(cd .. && go test -count=1 ./ui/...)
cd web
node --test --test-concurrency=1 tests/
