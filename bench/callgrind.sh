#!/usr/bin/env bash
# Instructions executed by muster (callgrind) for a fixed load: STOP_AFTER
# (default 20000) keep-alive GETs of /dummy/echo on one connection, 2 dummy
# instances (not instrumented), start-up and shutdown included.
# usage: bench/callgrind.sh BIN_DIR [LABEL]   (BIN_DIR: a release build's bin/)
# Prints "LABEL: N instructions in muster"; the profile stays in
# build/callgrind/LABEL.out for callgrind_annotate.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(cd "$1" && pwd)
label=${2:-$(basename "$(dirname "$bin")")}
out=$PWD/build/callgrind
mkdir -p "$out"
dir=$(mktemp -d /tmp/muster-cg-XXXXXX)
trap 'rm -rf "$dir"' EXIT
port=$(/usr/bin/python3 -c 'import sys; sys.path.insert(0, "tests/lib"); from musterproc import free_port; print(free_port())')
cat >"$dir/muster.json" <<JSON
{"gateway": {"listen": "127.0.0.1:$port", "access_log": "access.log"},
 "control": {"socket": "muster.sock"}, "logs": {"dir": "logs"},
 "services": [{"name": "dummy", "command": ["$bin/dummy_service"], "instances": 2,
               "routes": ["/dummy"]}]}
JSON
(cd "$dir" && exec valgrind -q --tool=callgrind --callgrind-out-file="$out/$label.out" \
   "$bin/muster" -c muster.json 2>"$dir/muster.err") &
pid=$!
/usr/bin/python3 -c "import sys; sys.path.insert(0, 'tests/lib'); from musterproc import wait_http; wait_http($port, '/dummy/echo', timeout=120)"
n=${STOP_AFTER:-20000}
# wrk's main thread waits for -d even once its thread stopped: interrupt it
# when the access log holds n + 1 lines (the readiness probe is one).
STOP_AFTER=$n wrk -t1 -c1 -d600s -s bench/stop_after.lua \
  "http://127.0.0.1:$port/dummy/echo" >"$dir/wrk.out" &
wrk_pid=$!
for _ in $(seq 6000); do
  [ "$(wc -l <"$dir/access.log" 2>/dev/null || echo 0)" -gt "$n" ] && break
  sleep 0.1
done
kill -INT $wrk_pid
wait $wrk_pid || true
kill -TERM $pid
wait $pid || true
grep -E "requests in|Non-2xx" "$dir/wrk.out" | sed 's/^ */  wrk: /'
ir=$(callgrind_annotate "$out/$label.out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
echo "$label: $ir instructions in muster"
