#!/usr/bin/env python3
"""Benchmark: three hosts of one cluster over one Redis (SPEC §10, issue
15), side by side in one run with Socket.IO 4 and @socket.io/redis-adapter
on the same topology (npm packages in bench/node_modules from
bench/package-lock.json).

Topology, on 127.0.0.1: one redis-server (a free port, no persistence),
used by both systems in turn;
- muster: three `muster` processes, each with `cluster: {redis, host_id}`
  (h1, h2, h3) and one bench_ws_service instance (bench/ws_service.c:
  every connection joins the room "bench", a message starting with 'P'
  is published to it — through Redis, so it reaches the room's members on
  every host);
- Socket.IO: three `node bench/sio_peer.js PORT REDIS_URL` processes
  (socket.join('bench'), io.to('bench').emit(...), the redis adapter).

The client is one wsload process (bench/wsload.c, `fanout`): BENCH_CL_CONNS
(1,000) WebSocket receivers on each host, all in the room; the first 4
connections of host 1 also publish 100-byte messages that carry their send
time (CLOCK_MONOTONIC, shared by every process here) and number, so every
delivery gives an end-to-end latency; those of hosts 2 and 3 (another
host than the publisher's) are the "remote" latency the target is about.
Four tests:
- saturated: BENCH_CL_WINDOW (32) publications in flight, the next sent
  when every one of the 3,000 receivers has one (a bounded window, never
  an unbounded queue): delivered messages per second over all receivers,
  and the latency at that load;
- narrow: the same with BENCH_CL_NARROW (4) in flight: fewer publications
  wait for each connection, so muster has less to write in one `writev`
  (Socket.IO writes each delivery alone either way);
- paced: BENCH_CL_RATE (10) publications a second at a fixed pace, the
  same offered load for both (30,000 deliveries/s with 3,000 receivers,
  well under what either sustains): the latency the p99 target is judged
  on. The same paced test also runs against the floor: one muster host
  without a cluster and its 1,000 receivers (the publishers among them),
  i.e. what one host's fan-out and the client cost without Redis;
- hop: the same pace with HOP_CONNS (10) receivers per host instead of
  1,000: what the path through Redis costs when the hosts and the client
  have little to write and read.
In every test a probe (a second wsload process, one receiver per host,
connected before the load so that each host writes to it first) measures
publish to delivery on hosts 2 and 3 without the client's reading of
3,000 sockets in between.
Each test: 0.5 s warm-up, BENCH_CL_SECONDS (2.5) measured (paced: 25
publications, so the probe's p99 on each host is nearly its largest). Both clusters stay
up through the run and take turns test by test (order rotating by round),
so the figures compared are seconds apart; BENCH_ROUNDS rounds (default
5); medians and per-round ratios. The CPU of the client, of each system's
processes and of Redis over each measured part is printed, so a reader
sees which process was the limit."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
sys.path.insert(0, HERE)
from musterproc import free_port, wait_http  # noqa: E402
from benchlib import cpu_s, median, met, read_stat, steal_pct, stop  # noqa: E402
import ws  # noqa: E402
from ws import BIN, NODE, NODE_MODULES, Load, busy_cores, wait_child, wait_quiet  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
HOSTS = 3
CONNS = int(os.environ.get("BENCH_CL_CONNS", "1000"))
PUBLISHERS = 4
SIZE = 100
WINDOW = int(os.environ.get("BENCH_CL_WINDOW", "32"))
NARROW = int(os.environ.get("BENCH_CL_NARROW", "4"))
RATE = float(os.environ.get("BENCH_CL_RATE", "10"))
HOP_CONNS = 10
SECONDS = float(os.environ.get("BENCH_CL_SECONDS", "2.5"))
TESTS = ["saturated", "narrow", "paced", "hop"]


class Redis:
    """The one redis-server both systems use."""

    def __init__(self):
        from redisproc import Redis as R, have_redis
        self.ok = have_redis()
        self.r = R() if self.ok else None

    def start(self):
        self.r.start()
        return self

    @property
    def url(self):
        return self.r.url

    @property
    def pid(self):
        return self.r.proc.pid

    def stop(self):
        if self.r:
            self.r.stop()


class MusterCluster:
    name = "muster"
    kind = "ws"
    path = "/bench/ws"

    def __init__(self, redis):
        self.redis = redis
        self.procs, self.svc_pids, self.ports, self.admin, self.logs = [], [], [], [], []
        self.dir = None

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="muster-clbench-")
        for i in range(HOSTS):
            d = os.path.join(self.dir, "h%d" % (i + 1))
            os.mkdir(d)
            port, admin = free_port(), free_port()
            cfg = {"gateway": {"listen": "127.0.0.1:%d" % port, "access_log": None,
                               "max_connections": CONNS + 100},
                   "admin": {"listen": "127.0.0.1:%d" % admin},
                   "control": {"socket": "m.sock"}, "logs": {"dir": "logs"},
                   "cluster": {"redis": self.redis.url, "host_id": "h%d" % (i + 1)},
                   "services": [{"name": "bench", "command": ["bench_ws_service"],
                                 "routes": ["/bench"]}]}
            with open(os.path.join(d, "m.json"), "w") as f:
                json.dump(cfg, f)
            log = open(os.path.join(d, "muster.log"), "w")
            self.logs.append(log)
            self.procs.append(subprocess.Popen(
                [os.path.join(BIN, "muster"), "-c", os.path.join(d, "m.json")],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, cwd=d))
            self.ports.append(port)
            self.admin.append(admin)
        for i in range(HOSTS):
            wait_http(self.ports[i], "/readyz")
            self.svc_pids.append(wait_child(self.procs[i].pid))
            deadline = time.monotonic() + 10
            while self.metric(i, "muster_redis_up") != 1:
                if time.monotonic() > deadline:
                    raise RuntimeError("muster h%d did not connect to Redis" % (i + 1))
                time.sleep(0.05)

    def metric(self, i, name):
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.admin[i],
                                    timeout=5) as r:
            for line in r.read().decode().splitlines():
                if line.startswith(name + " "):
                    return float(line.split()[1])
        return None

    def pids(self):
        return [p.pid for p in self.procs] + self.svc_pids

    def groups(self):
        """Labels of pids(), for the CPU columns."""
        return ["muster%d" % (i + 1) for i in range(HOSTS)] + \
               ["svc%d" % (i + 1) for i in range(HOSTS)]

    def stop(self):
        for p in self.procs:
            stop(p)
        for f in self.logs:
            f.close()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.procs, self.svc_pids, self.logs = [], [], []


class SioCluster:
    name = "socket.io"
    kind = "sio"
    path = None

    def __init__(self, redis):
        self.redis = redis
        self.procs, self.ports = [], []

    def start(self):
        for _ in range(HOSTS):
            port = free_port()
            self.procs.append(subprocess.Popen(
                [NODE, os.path.join(HERE, "sio_peer.js"), str(port), self.redis.url],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, cwd=HERE))
            self.ports.append(port)
        for port in self.ports:
            wait_http(port, "/healthz")

    def pids(self):
        return [p.pid for p in self.procs]

    def groups(self):
        return ["node%d" % (i + 1) for i in range(HOSTS)]

    def stop(self):
        for p in self.procs:
            stop(p)
        self.procs = []


class Floor:
    """One muster host without a cluster (bench/ws.py's), its 1,000 receivers."""
    name = "floor"
    kind = "ws"
    path = "/bench/ws"

    def __init__(self):
        self.m = ws.Muster()

    def start(self):
        self.m.start()
        self.ports = [self.m.port]

    def pids(self):
        return self.m.pids()

    def stop(self):
        self.m.stop()


class WithRedis:
    """A cluster's pids plus Redis's, for Load.measured (the last one is Redis)."""

    def __init__(self, cl, redis):
        self.cl, self.redis = cl, redis

    def pids(self):
        return self.cl.pids() + [self.redis.pid]


def one_test(cl, redis, test):
    """One wsload fanout run against cl; the floor's latencies (one host:
    all "local") are filed as remote, the column they are compared with."""
    wait_quiet(cl.pids() + [redis.pid])
    res = one_test_of(cl, WithRedis(cl, redis), test)
    if cl.name == "floor":
        res["remote"], res["first_remote"] = res["local"], res["first_local"]
    return res


def one_test_of(cl, pids, test):
    """The probe connects first (one receiver per host, first in each room),
    then the load; the probe measures over the load's measured part."""
    common = ["-p", ",".join(str(p) for p in cl.ports), "-k", cl.kind, "-s", str(SIZE)]
    if cl.path:
        common += ["-u", cl.path]
    args = ["fanout"] + common + ["-c", str(HOP_CONNS if test == "hop" else CONNS),
                                  "-P", str(PUBLISHERS), "-w", "0.5", "-d", str(SECONDS)]
    args += ["-i", str(WINDOW)] if test == "saturated" else \
        ["-i", str(NARROW)] if test == "narrow" else ["-r", str(RATE)]
    with Load(["fanout"] + common + ["-c", "1", "-P", "0"]) as pr:
        pr.expect("connected")
        with Load(args) as ld:
            ld.expect("connected")
            ld.expect("start")
            pr.send("\n")
            t0, c0, s0 = time.monotonic(), [cpu_s(p) for p in pids.pids()], read_stat()
            ld.expect("end")
            pr.send("\n")
            t1, c1, s1 = time.monotonic(), [cpu_s(p) for p in pids.pids()], read_stat()
            pr.expect("start")
            pr.expect("end")
            probe = json.loads(pr.line())
            res = json.loads(ld.line())
    wall = max(1e-9, t1 - t0)
    cpu = [100.0 * (b - a) / wall for a, b in zip(c0, c1)]
    res["redis_cpu_pct"] = cpu.pop()
    res["server_cpu_pct"] = cpu
    res["server_us_per_msg"] = 1e4 * wall * sum(cpu) / max(1, res["deliveries"])
    ours = res["client_cpu_pct"] + probe["client_cpu_pct"] + sum(cpu) + res["redis_cpu_pct"]
    res["others_pct"] = max(0.0, 100.0 * busy_cores(s0, s1) - ours)
    # the probe: its receiver on host 1 is "local", those on hosts 2 and 3 "remote"
    res["probe"] = probe["remote"] if len(cl.ports) > 1 else probe["local"]
    return res


def cpu_text(res):
    """The CPU columns; us/dlv only where deliveries outweigh the idle work."""
    us = "%5.2f" % res["server_us_per_msg"] if res["deliveries"] >= 10000 else "    -"
    return "%3.0f%% / %-23s / %3.0f%%  %s %5.0f%%" % (
        res["client_cpu_pct"], "+".join("%.0f" % c for c in res["server_cpu_pct"]),
        res["redis_cpu_pct"], us, res["others_pct"])


def per_round(xs):
    return " ".join("%.2f" % x for x in xs)


def report(runs, steal):
    names = list(runs)
    print("cluster: %d hosts on 127.0.0.1, one Redis, %d receivers per host (WebSocket), "
          "%d publishers on host 1, %d B; %d cores; median of %d rounds"
          % (HOSTS, CONNS, PUBLISHERS, SIZE, os.cpu_count(), ROUNDS))
    print("latency, ms: the publisher's send to the receiver's read; all: every delivery on "
          "hosts 2 and 3 (the load's 2,000 receivers there);\n  probe: a receiver of its own "
          "on host 2 and on host 3 (another process), first in the room: the hop, before the "
          "fan-out")
    print("floor: one muster host without a cluster, its %d receivers (no Redis, one host's "
          "fan-out); its latencies are those of its own receivers" % CONNS)
    print("CPU over the measured part, % of one core, in the median round: client / each "
          "server process (muster: 3 hosts, then their 3 services) / Redis; us/dlv: the "
          "system's CPU (not Redis's) per delivery; others: the rest of the machine")
    for test in TESTS:
        if test in ("saturated", "narrow"):
            print("\n%s: %d publications in flight (the next when all %d receivers have "
                  "one); %.1f s measured" % (test, WINDOW if test == "saturated" else NARROW,
                                             HOSTS * CONNS, SECONDS))
        elif test == "hop":
            print("\nhop: %.0f publications/s offered to %d receivers per host (%.0f "
                  "deliveries/s); %.1f s measured" % (RATE, HOP_CONNS, RATE * HOSTS * HOP_CONNS,
                                                     SECONDS))
        else:
            print("\npaced: %.0f publications/s offered (%.0f deliveries/s); %.1f s measured"
                  % (RATE, RATE * HOSTS * CONNS, SECONDS))
        print("%-10s %12s %7s %7s %7s %7s %7s %6s  %-29s %s" % (
            "system", "deliveries/s", "pubs/s", "all p50", "all p99", "prb p50", "prb p99",
            "x sio", "x sio per round", "CPU client / servers / redis, us/dlv, others"))
        for n in names:
            rs = [r[test] for r in runs[n] if test in r]
            if not rs:
                continue
            mid = sorted(rs, key=lambda r: r["rate"])[len(rs) // 2]
            ratios = [a[test]["rate"] / b[test]["rate"]
                      for a, b in zip(runs[n], runs["socket.io"])] \
                if n != "floor" and test in ("saturated", "narrow") else []
            print("%-10s %12.0f %7.1f %7.2f %7.2f %7.2f %7.2f %6s  %-29s %s" % (
                n, median([r["rate"] for r in rs]), median([r["pub_rate"] for r in rs]),
                median([r["remote"]["p50_us"] / 1000 for r in rs]),
                median([r["remote"]["p99_us"] / 1000 for r in rs]),
                median([r["probe"]["p50_us"] / 1000 for r in rs]),
                median([r["probe"]["p99_us"] / 1000 for r in rs]),
                "%.2f" % median(ratios) if ratios else "", per_round(ratios), cpu_text(mid)))
        for n in names:
            rs = [r[test] for r in runs[n] if test in r]
            if rs:
                print("  %-9s p99 per round, all: %s; probe: %s ms; not sent %d, incomplete %d, "
                      "bad %d" % (
                    n, per_round(r["remote"]["p99_us"] / 1000 for r in rs),
                    per_round(r["probe"]["p99_us"] / 1000 for r in rs),
                    sum(r["skipped"] for r in rs), sum(r["incomplete"] for r in rs),
                    sum(r["bad"] for r in rs)))
    cl = max(r[t]["client_cpu_pct"] for n in names for r in runs[n] for t in r)
    print("\nthe client (wsload, one process) used at most %.0f%% of a core in any measured part"
          % cl)
    print("steal (CPU time the hypervisor gave to other guests) during the run: %.1f%%" % steal)
    ratio = median([a["saturated"]["rate"] / b["saturated"]["rate"]
                    for a, b in zip(runs["muster"], runs["socket.io"])])
    p99 = median([r["paced"]["remote"]["p99_us"] / 1000 for r in runs["muster"]])
    first = median([r["paced"]["probe"]["p99_us"] / 1000 for r in runs["muster"]])
    firsts = median([r["paced"]["probe"]["p99_us"] / 1000 for r in runs["socket.io"]])
    floor = median([r["paced"]["remote"]["p99_us"] / 1000 for r in runs["floor"]])
    print("targets (medians over the rounds; latency on hosts 2 and 3):")
    narrow = median([a["narrow"]["rate"] / b["narrow"]["rate"]
                     for a, b in zip(runs["muster"], runs["socket.io"])])
    print("  delivered messages/s >= 3x Socket.IO (saturated): %6.2fx %s"
          % (ratio, met(ratio >= 3)))
    print("  the same with %d in flight (narrow):               %6.2fx %s"
          % (NARROW, narrow, met(narrow >= 3)))
    print("  p99 <= 5 ms, every delivery, paced:               %6.2f ms %s (the floor, one host "
          "without Redis: %.2f ms)" % (p99, met(p99 <= 5), floor))
    print("  p99 <= 5 ms, the probe on hosts 2 and 3, paced:   %6.2f ms %s (Socket.IO: %.2f ms)"
          % (first, met(first <= 5), firsts))
    hop = median([r["hop"]["remote"]["p99_us"] / 1000 for r in runs["muster"]])
    hops = median([r["hop"]["remote"]["p99_us"] / 1000 for r in runs["socket.io"]])
    print("  p99 <= 5 ms, hop (%d receivers per host):         %6.2f ms %s (Socket.IO: %.2f ms)"
          % (HOP_CONNS, hop, met(hop <= 5), hops))


def main():
    for b in ("muster", "bench_ws_service", "wsload"):
        if not os.access(os.path.join(BIN, b), os.X_OK):
            print("bench/cluster.py: %s is not built in %s (make build)" % (b, BIN),
                  file=sys.stderr)
            return 1
    for mod in ("socket.io", "@socket.io/redis-adapter", "redis"):
        if not os.path.isfile(os.path.join(NODE_MODULES, mod, "package.json")):
            print("bench/cluster.py: skipped: the npm package %s is not in bench/node_modules "
                  "(cd bench && npm ci)" % mod)
            return 0
    redis = Redis()
    if not redis.ok:
        print("bench/cluster.py: skipped: redis-server is not installed (apt-get install "
              "redis-server)")
        return 0
    systems, floor = [], Floor()
    try:
        redis.start()
        systems = [MusterCluster(redis), SioCluster(redis)]
        for x in systems + [floor]:
            x.start()
        runs = {s.name: [] for s in systems + [floor]}
        stat0 = read_stat()
        for rnd in range(ROUNDS):
            res = {n: {} for n in runs}
            for k, test in enumerate(TESTS):
                order = [systems[(rnd + k) % 2], systems[(rnd + k + 1) % 2]]
                if test == "paced":
                    order.insert(rnd % 3, floor)
                for s in order:
                    r = res[s.name][test] = one_test(s, redis, test)
                    print("round %d of %d, %-9s %-9s %8.0f deliveries/s, %6.1f pubs/s, p50 %6.2f "
                          "p99 %6.2f ms, probe p99 %6.2f ms (client %3.0f%%, redis %3.0f%%, "
                          "others %3.0f%%)" % (
                              rnd + 1, ROUNDS, s.name, test, r["rate"], r["pub_rate"],
                              r["remote"]["p50_us"] / 1000, r["remote"]["p99_us"] / 1000,
                              r["probe"]["p99_us"] / 1000, r["client_cpu_pct"],
                              r["redis_cpu_pct"], r["others_pct"]), file=sys.stderr)
            for n in runs:
                runs[n].append(res[n])
        steal = steal_pct(stat0, read_stat())
        m = systems[0]
        counts = {n: sum(m.metric(i, n) or 0 for i in range(HOSTS))
                  for n in ("muster_cluster_published_total", "muster_cluster_delivered_total",
                            "muster_cluster_duplicates_total", "muster_cluster_lost_total",
                            "muster_cluster_errors_total", "muster_cluster_local_total")}
    finally:
        for x in systems + [floor]:
            x.stop()
        redis.stop()
    report(runs, steal)
    print("muster's cluster counters over the run (3 hosts): " +
          ", ".join("%s %d" % (k.replace("muster_cluster_", "").replace("_total", ""), v)
                    for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
