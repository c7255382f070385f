#!/usr/bin/env bash
# `make bench`: every benchmark against the release build (build/bin).
# BENCH_BASELINE_REV=<git rev> also builds that revision (build/baseline)
# and measures it side by side with this one, in the same rounds.
set -euo pipefail
cd "$(dirname "$0")/.."
export MUSTER_BIN_DIR=$PWD/build/bin
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
if [ -n "${BENCH_BASELINE_REV:-}" ]; then
  echo "== building the baseline $BENCH_BASELINE_REV (build/baseline)"
  rm -rf build/baseline-src && mkdir -p build/baseline-src
  git archive "$BENCH_BASELINE_REV" | tar -x -C build/baseline-src
  cmake -S build/baseline-src -B build/baseline -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DMUSTER_TESTS=OFF >/dev/null
  cmake --build build/baseline -j "$(nproc)" >/dev/null
  export BENCH_BASELINE_BIN=$PWD/build/baseline/bin BENCH_BASELINE_REV
fi
echo "== restart latency and memory (issue 3)"
/usr/bin/python3 bench/restart.py
if [ -n "${BENCH_BASELINE_BIN:-}" ]; then
  echo "== the same for the baseline $BENCH_BASELINE_REV"
  MUSTER_BIN_DIR=$BENCH_BASELINE_BIN /usr/bin/python3 bench/restart.py
fi
echo "== gateway throughput and latency (issue 4)"
/usr/bin/python3 bench/gateway.py
echo "== 1,000 idle instances: CPU, status latency, memory (issue 17)"
/usr/bin/python3 bench/scale.py
echo "== a neighbour service flooding its output: the gateway beside it"
/usr/bin/python3 bench/logflood.py
echo "== proxying to programs that serve for themselves (issue 14)"
/usr/bin/python3 bench/upstream.py
echo "== static files and gzip on the fly, against nginx (root, sendfile, gzip)"
/usr/bin/python3 bench/static.py
echo "== TLS and HTTP/2: handshakes/s, HTTPS req/s over HTTP/1.1 and HTTP/2, against nginx and HAProxy (issue 19)"
/usr/bin/python3 bench/tls.py
echo "== WebSocket: broadcast, echo, idle connections, against ws and Socket.IO (issue 13)"
# The peers come from npm (bench/package-lock.json), installed again when
# the lock file is newer than what npm ci left in bench/node_modules.
npm_ok=0
if ! command -v npm >/dev/null 2>&1; then
  echo "bench/ws.py: skipped: npm is not installed (tools/deps.sh bench installs it)"
elif ! { [ bench/node_modules/.package-lock.json -nt bench/package-lock.json ] ||
         (cd bench && npm ci --no-audit --no-fund --loglevel=error); }; then
  echo "bench/ws.py: skipped: npm ci in bench/ failed, so the peers ws and Socket.IO are missing"
else
  npm_ok=1
  /usr/bin/python3 bench/ws.py
fi
echo "== cluster: 3 hosts over one Redis, against Socket.IO with @socket.io/redis-adapter (issue 15)"
if [ "$npm_ok" != 1 ]; then
  echo "bench/cluster.py: skipped: the npm peers are missing (see above)"
elif ! command -v redis-server >/dev/null 2>&1; then
  echo "bench/cluster.py: skipped: redis-server is not installed (apt-get install redis-server)"
else
  /usr/bin/python3 bench/cluster.py
fi
