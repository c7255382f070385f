#!/usr/bin/env bash
# `make bench`: every benchmark against the release build (build/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
export MUSTER_BIN_DIR=$PWD/build/bin
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
echo "== restart latency and memory (issue 3)"
/usr/bin/python3 bench/restart.py
echo "== gateway throughput and latency (issue 4)"
/usr/bin/python3 bench/gateway.py
echo "== 1,000 idle instances: CPU, status latency, memory (issue 17)"
/usr/bin/python3 bench/scale.py
