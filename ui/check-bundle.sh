#!/usr/bin/env bash
# Fails when the committed UI bundle (ui/dist, embedded by the Go binary) is not what the source in ui/web builds
# to. Installs exactly the locked packages (npm ci), builds into a temporary directory and compares file by file.
# The build is reproducible: content-hashed names, no timestamps, no source maps.
set -euo pipefail
cd "$(dirname "$0")/web"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
npm ci --no-audit --no-fund --loglevel=error
npx tsc --noEmit
npx vite build --outDir "$out" --emptyOutDir --logLevel warn
if ! diff -r "$out" ../dist; then
  echo "ui/dist is stale: run (cd ui/web && npm run build) and commit ui/dist" >&2
  exit 1
fi
echo "ui/dist is current"
