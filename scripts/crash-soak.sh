#!/bin/sh
# Crash soak: runs the metadata and the full-stack crash harnesses with many more crash states than CI.
# Usage: scripts/crash-soak.sh [states]   (default 200000; builds first)
set -eu
cd "$(dirname "$0")/.."
STATES="${1:-200000}"
npm run build >/dev/null
export DMREMAP_CRASH_STATES="$STATES"
node --test --test-timeout=0 dist/src/metadata/crash.test.js dist/src/remap/crash-harness.test.js
