#!/bin/sh
# A cluster on one machine: redis-server, three muster hosts and HAProxy,
# all on 127.0.0.1 (README.md). Ctrl-C stops them all.
#   MUSTER_BIN_DIR  where muster and chat_service are   (../../build/bin)
#   CLUSTER_STATE   logs and control sockets             (a new temp dir)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
bin=${MUSTER_BIN_DIR:-$here/../../build/bin}
state=${CLUSTER_STATE:-$(mktemp -d /tmp/muster-cluster.XXXXXX)}
export CLUSTER_STATE="$state"
export CLUSTER_REDIS=redis://127.0.0.1:6390
export FRONTEND=127.0.0.1:8080 STATS=127.0.0.1:8404
export HOST1=127.0.0.1:8081 HOST2=127.0.0.1:8082 HOST3=127.0.0.1:8083

for tool in redis-server haproxy "$bin/muster"; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool not found" >&2; exit 1; }
done

pids=""
stop() {
  trap - INT TERM EXIT
  # Each by its pid: the musters drain (gateway.drain_delay_ms) and stop
  # their instances; then HAProxy and Redis.
  for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in $pids; do wait "$pid" 2>/dev/null || true; done
  echo "stopped; logs are in $state"
}
trap stop INT TERM EXIT

mkdir -p "$state/redis" "$state/host1" "$state/host2" "$state/host3"
redis-server --bind 127.0.0.1 --port 6390 --save "" --appendonly no \
  --dir "$state/redis" --logfile "$state/redis/redis.log" &
pids="$!"
# Wait (bounded) for Redis to answer before the hosts connect; they would
# reconnect anyway, but the first publications would wait in their outboxes.
i=0
until redis-cli -p 6390 ping >/dev/null 2>&1; do
  i=$((i + 1)); [ $i -lt 50 ] || { echo "run.sh: redis-server did not start" >&2; exit 1; }
  sleep 0.1
done

for n in 1 2 3; do
  "$bin/muster" -c "$here/host$n.json" 2>"$state/host$n/muster.log" &
  pids="$! $pids"
done
haproxy -db -f "$here/haproxy.cfg" &
pids="$! $pids"

cat <<EOF
chat through HAProxy:  http://$FRONTEND/chat/
HAProxy's statistics:  http://$STATS/
hosts' gateways:       $HOST1 $HOST2 $HOST3  (admin: 127.0.0.1:9091..9093, /metrics)
logs:                  $state
Ctrl-C stops everything.
EOF
wait
