#!/usr/bin/env bash
# RS encode GB/s per core for rs:4+2 and rs:8+3 (see rs-encode.ts). Usage: rs-encode.sh [seconds per case]
set -euo pipefail
cd "$(dirname "$0")/../.."
UV_THREADPOOL_SIZE=1 exec node --import tsx scripts/bench/rs-encode.ts "$@"
