#!/usr/bin/env bash
# The interoperability suite with real clients: installs the locked npm packages of node/ and runs the Go test
# that starts `weft serve` and sends it a trace with each client. Needs node and npm (Debian: nodejs, npm).
set -euo pipefail
cd "$(dirname "$0")"
export CI="${CI:-true}" # run here, a missing client is a failure, not a skip
(cd node && npm ci --no-audit --no-fund --loglevel=error)
go test -count=1 ./...
