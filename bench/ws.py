#!/usr/bin/env python3
"""Benchmark: WebSocket connections held by muster (SPEC §8, issue 13),
side by side in one run with Node.js `ws` and Socket.IO 4 doing the same
work (bench/ws_peer.js, bench/sio_peer.js; npm packages in
bench/node_modules from bench/package-lock.json).

muster runs one bench_ws_service instance (bench/ws_service.c, on the C
service library): every connection is accepted into the room "bench"; a
message starting with 'P' is published to the room, any other is echoed.
The client is wsload (bench/wsload.c: one C process on libuv, plain
RFC 6455 framing, or Engine.IO v4 over WebSocket for Socket.IO).

Each round (BENCH_ROUNDS, default 5; servers in a rotating order):
- idle: each server in turn is started; its RSS before, and with
  BENCH_WS_CONNS (10,000) connections open (muster: the service's RSS
  separately);
- broadcast: on those connections, connection 0 publishes a burst of 20
  messages of 100 B, delivered to every connection; BENCH_WS_BURSTS (3)
  bursts one after the other: deliveries per second;
- echo: then, with the three servers up, BENCH_WS_SLICES (3) slices in
  which each server in turn gets 100 new connections with W messages of
  64 B in flight each (W from BENCH_WS_WINDOWS, default 1 and 8: one test
  each), 0.5 s warm-up then BENCH_WS_SECONDS (2): messages per second,
  p50, p99. Ratios are taken within a slice, seconds apart, because the
  load of a shared machine drifts faster than a round lasts.
The client's and the servers' CPU use over each measured part is printed,
so a reader sees which side was the limit, with the servers' CPU time per
message (what the figure costs, whatever the machine's load) and what
the rest of the machine used meanwhile (other processes on a shared
machine slow a chain of processes more than one process). BENCH_ROUNDS rounds (default
5), the servers in a rotating order; medians and per-round ratios."""
import json
import os
import resource
import select
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
sys.path.insert(0, HERE)
from musterproc import free_port, rss_kb, wait_http  # noqa: E402
from benchlib import cpu_s, median, met, read_stat, steal_pct, stop  # noqa: E402

BIN = os.path.abspath(os.environ.get("MUSTER_BIN_DIR", os.path.join(HERE, "..", "build", "bin")))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
CONNS = int(os.environ.get("BENCH_WS_CONNS", "10000"))
BURSTS = int(os.environ.get("BENCH_WS_BURSTS", "3"))
PUBS = 20
PUB_SIZE = 100
ECHO_CONNS = 100
ECHO_SIZE = 64
ECHO_SECONDS = float(os.environ.get("BENCH_WS_SECONDS", "2"))
ECHO_SLICES = int(os.environ.get("BENCH_WS_SLICES", "3"))
# Messages in flight per echo connection: one echo test each.
WINDOWS = [int(w) for w in os.environ.get("BENCH_WS_WINDOWS", "1,8").split(",")]
STEP_TIMEOUT = 120  # seconds: any one wsload run
NODE = os.environ.get("MUSTER_NODE") or shutil.which("node") or "node"
NODE_MODULES = os.path.join(HERE, "node_modules")


class Server:
    """One server under test: its process(es), port and path."""

    def __init__(self, name, kind, path):
        self.name, self.kind, self.path = name, kind, path
        self.proc = self.port = self.dir = None
        self.svc_pid = None  # muster's instance

    def pids(self):
        return [self.proc.pid] + ([self.svc_pid] if self.svc_pid else [])

    def stop(self):
        if self.proc:
            stop(self.proc)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.proc = self.svc_pid = None


class Muster(Server):
    def __init__(self):
        super().__init__("muster", "ws", "/bench/ws")
        self.log = None

    def start(self):
        self.dir = tempfile.mkdtemp(prefix="muster-wsbench-")
        self.port = free_port()
        cfg = {"gateway": {"listen": "127.0.0.1:%d" % self.port, "access_log": None,
                           "max_connections": CONNS + ECHO_CONNS + 100},
               "control": {"socket": "m.sock"}, "logs": {"dir": "logs"},
               "services": [{"name": "bench", "command": ["bench_ws_service"],
                             "routes": ["/bench"]}]}
        with open(os.path.join(self.dir, "m.json"), "w") as f:
            json.dump(cfg, f)
        self.log = open(os.path.join(self.dir, "muster.log"), "w")
        self.proc = subprocess.Popen([os.path.join(BIN, "muster"), "-c",
                                      os.path.join(self.dir, "m.json")],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=self.log, cwd=self.dir)
        wait_http(self.port, "/healthz")
        self.svc_pid = wait_child(self.proc.pid)

    def stop(self):
        super().stop()
        if self.log:
            self.log.close()
            self.log = None


class NodePeer(Server):
    def __init__(self, name, kind, script, path):
        super().__init__(name, kind, path)
        self.script = script

    def start(self):
        self.port = free_port()
        self.proc = subprocess.Popen([NODE, os.path.join(HERE, self.script), str(self.port)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     cwd=HERE)
        wait_http(self.port, "/healthz")


def wait_child(pid, timeout=10):
    """The pid of pid's one child (muster's instance), polled from /proc."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open("/proc/%s/stat" % d) as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                            return int(d)
                except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                    pass
        time.sleep(0.05)
    raise RuntimeError("muster started no instance within %d s" % timeout)


def wait_quiet(pids, limit_s=10):
    """Waits (up to limit_s) until the pids use under 5% of a core over
    200 ms: the servers have finished with the last test's connections."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        a = sum(cpu_s(p) for p in pids)
        time.sleep(0.2)
        if sum(cpu_s(p) for p in pids) - a < 0.01:
            return


def busy_cores(a, b):
    """Cores' worth of CPU the whole machine used between two read_stat()
    samples (everything but idle and iowait)."""
    d = [y - x for x, y in zip(a, b)]
    total = max(1, sum(d[:8]))
    return (os.cpu_count() or 1) * (total - d[3] - d[4]) / total


class Load:
    """One wsload run; its stdout read line by line with a deadline."""

    def __init__(self, args):
        self.p = subprocess.Popen([os.path.join(BIN, "wsload")] + args + ["-T", str(STEP_TIMEOUT)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        self.deadline = time.monotonic() + STEP_TIMEOUT + 10

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        """Whatever happened, wsload is not left running."""
        if self.p.poll() is None:
            self.p.kill()
        self.p.wait()
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            try:
                f.close()
            except OSError:  # stdin of a wsload that is gone: nothing to flush to
                pass

    def line(self):
        left = self.deadline - time.monotonic()
        if left <= 0 or not select.select([self.p.stdout], [], [], left)[0]:
            raise RuntimeError("wsload gave no answer in time")
        s = self.p.stdout.readline()
        if not s:
            err = self.p.stderr.read()
            self.p.wait(10)
            raise RuntimeError("wsload failed (%s): %s" % (self.p.returncode, err.strip()))
        return s.strip()

    def send(self, text):
        """Writes text to wsload's stdin; when it is gone, its own error."""
        try:
            self.p.stdin.write(text)
            self.p.stdin.flush()
        except OSError:
            self.line()  # raises with what wsload said
            raise

    def expect(self, word):
        s = self.line()
        if not s.startswith(word):
            raise RuntimeError("wsload said %r, expected %r" % (s, word))
        return s

    def measured(self, srv):
        """Reads start .. end and the figures; adds the servers' CPU use
        over the measured part (percent of one core per pid), their CPU
        time per message, and what the rest of the machine used."""
        self.expect("start")
        t0, c0, s0 = time.monotonic(), [cpu_s(p) for p in srv.pids()], read_stat()
        self.expect("end")
        t1, c1, s1 = time.monotonic(), [cpu_s(p) for p in srv.pids()], read_stat()
        res = json.loads(self.line())
        self.p.wait(10)
        wall = max(1e-9, t1 - t0)
        res["server_cpu_pct"] = [100.0 * (b - a) / wall for a, b in zip(c0, c1)]
        count = res.get("deliveries", res.get("messages", 0))
        res["server_us_per_msg"] = 1e6 * sum(b - a for a, b in zip(c0, c1)) / max(1, count)
        ours = res["client_cpu_pct"] + sum(res["server_cpu_pct"])
        res["others_pct"] = max(0.0, 100.0 * busy_cores(s0, s1) - ours)
        return res


def kind_args(srv):
    return ["-p", str(srv.port), "-k", srv.kind] + (["-u", srv.path] if srv.kind == "ws" else [])


def broadcast_part(srv):
    """Starts srv; idle RSS and broadcast on CONNS connections; leaves srv
    running, its connections closed. Returns a result dict."""
    out = {}
    srv.start()
    time.sleep(0.5)
    before = [rss_kb(p) for p in srv.pids()]
    with Load(["broadcast"] + kind_args(srv) +
              ["-c", str(CONNS), "-n", str(PUBS), "-b", str(BURSTS), "-s", str(PUB_SIZE),
               "-W"]) as ld:
        ld.expect("connected")
        time.sleep(1.0)  # let the server finish the last handshakes
        wait_quiet(srv.pids(), 5)
        with_conns = [rss_kb(p) for p in srv.pids()]
        out["rss_before_kb"], out["rss_with_kb"] = before, with_conns
        out["kib_per_conn"] = [(b - a) / CONNS for a, b in zip(before, with_conns)]
        ld.send("go\n")
        out["broadcast"] = ld.measured(srv)
    wait_quiet(srv.pids())
    return out


def echo_slice(srv, w):
    """One echo test of ECHO_SECONDS on ECHO_CONNS new connections."""
    wait_quiet(srv.pids())
    with Load(["echo"] + kind_args(srv) +
              ["-c", str(ECHO_CONNS), "-i", str(w), "-s", str(ECHO_SIZE), "-w", "0.5",
               "-d", str(ECHO_SECONDS)]) as ld:
        ld.expect("connected")
        return ld.measured(srv)


def summary(slices):
    """A round's echo figures from its slices: median rate, p50 and p99;
    the CPU figures of the slice with the median rate."""
    out = dict(sorted(slices, key=lambda r: r["rate"])[len(slices) // 2])
    for f in ("rate", "p50_us", "p99_us"):
        out[f] = median([r[f] for r in slices])
    out["bad"] = sum(r["bad"] for r in slices)
    return out


def one_round(rnd, servers, runs):
    """Round rnd: each server in turn (rotating order) started for the
    idle and broadcast tests; then, all of them up, ECHO_SLICES slices
    in which each server gets every echo test in turn, so that the
    figures compared are minutes apart at most and seconds apart mostly."""
    order = servers[rnd % len(servers):] + servers[:rnd % len(servers)]
    res = {}
    try:
        for srv in order:
            res[srv.name] = broadcast_part(srv)
            r = res[srv.name]
            print("round %d of %d, %-9s broadcast %8.0f/s (client %3.0f%%, others %3.0f%%), "
                  "idle %.2f KiB/conn" % (rnd + 1, ROUNDS, srv.name, r["broadcast"]["rate"],
                                          r["broadcast"]["client_cpu_pct"],
                                          r["broadcast"]["others_pct"], r["kib_per_conn"][0]),
                  file=sys.stderr)
        for k in range(ECHO_SLICES):
            for srv in order[k % len(order):] + order[:k % len(order)]:
                for w in WINDOWS:
                    e = echo_slice(srv, w)
                    res[srv.name].setdefault("echo%d_slices" % w, []).append(e)
                    print("round %d of %d, slice %d, %-9s echo-%d %7.0f/s p99 %6.2f ms "
                          "(client %3.0f%%, others %3.0f%%)" % (
                              rnd + 1, ROUNDS, k + 1, srv.name, w, e["rate"], e["p99_us"] / 1000,
                              e["client_cpu_pct"], e["others_pct"]), file=sys.stderr)
    finally:
        for srv in order:
            srv.stop()
    for name, r in res.items():
        for w in WINDOWS:
            r["echo%d" % w] = summary(r["echo%d_slices" % w])
        runs[name].append(r)


def raise_nofile():
    """Raises this process's soft limit on open files (the servers and
    wsload inherit it); returns how many connections it allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = CONNS + ECHO_CONNS + 200
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return min(want, hard) - ECHO_CONNS - 200


def cpu_text(res):
    """client / server(s) CPU, the servers' µs per message, the others' CPU."""
    return "%3.0f%% / %-9s %6.2f %6.0f%%" % (
        res["client_cpu_pct"], "+".join("%.0f%%" % c for c in res["server_cpu_pct"]),
        res["server_us_per_msg"], res["others_pct"])


def per_round(xs):
    return " ".join("%.2f" % x for x in xs)


def report(servers, runs, steal):
    names = [s.name for s in servers]
    med = lambda name, f: median([f(r) for r in runs[name]])  # noqa: E731
    ratio = lambda name, peer, f: [f(a) / f(b) for a, b in zip(runs[name], runs[peer])]  # noqa: E731
    rate = lambda test: lambda r: r[test]["rate"]  # noqa: E731

    def eratio(name, peer, t):
        """Per round, the median over its slices of name's rate / peer's."""
        return [median([x["rate"] / y["rate"] for x, y in zip(a[t + "_slices"],
                                                             b[t + "_slices"])])
                for a, b in zip(runs[name], runs[peer])]
    print("WebSocket, loopback, %d cores; median of %d rounds (servers in rotating order)"
          % (os.cpu_count(), ROUNDS))
    print("CPU: the client / each server process (muster: muster+service), % of one core over "
          "the measured part, in the median round;\n  us/msg: the server's CPU time per delivery "
          "or message; others: what the rest of the machine used meanwhile (% of a core)")
    print("\nbroadcast: %d connections in one room; bursts of %d publications of %d B to all, "
          "%d bursts per round" % (CONNS, PUBS, PUB_SIZE, BURSTS))
    print("%-10s %12s %9s %7s %7s  %-30s %-30s %s" % (
        "server", "deliveries/s", "burst ms", "x sio", "x ws", "x sio per round",
        "x ws per round", "CPU client / server, us/msg, others"))
    bc = rate("broadcast")
    for n in names:
        mid = sorted(runs[n], key=bc)[len(runs[n]) // 2]
        print("%-10s %12.0f %9.1f %7.2f %7.2f  %-30s %-30s %s" % (
            n, med(n, bc), med(n, lambda r: median(r["broadcast"]["burst_ms"])),
            median(ratio(n, "socket.io", bc)), median(ratio(n, "ws", bc)),
            per_round(ratio(n, "socket.io", bc)), per_round(ratio(n, "ws", bc)),
            cpu_text(mid["broadcast"])))
    for w in WINDOWS:
        t = "echo%d" % w
        ec = rate(t)
        print("\necho: %d connections, %d message%s of %d B in flight each; %d slices per round "
              "of 0.5 s warm-up + %.0f s; x: median of the ratios within a slice" % (
                  ECHO_CONNS, w, "" if w == 1 else "s", ECHO_SIZE, ECHO_SLICES, ECHO_SECONDS))
        print("%-10s %12s %8s %8s %7s %7s  %-30s %s" % (
            "server", "messages/s", "p50 ms", "p99 ms", "x sio", "x ws", "x sio per round",
            "CPU client / server, us/msg, others"))
        for n in names:
            mid = sorted(runs[n], key=ec)[len(runs[n]) // 2]
            print("%-10s %12.0f %8.3f %8.3f %7.2f %7.2f  %-30s %s" % (
                n, med(n, ec), med(n, lambda r: r[t]["p50_us"] / 1000),
                med(n, lambda r: r[t]["p99_us"] / 1000), median(eratio(n, "socket.io", t)),
                median(eratio(n, "ws", t)), per_round(eratio(n, "socket.io", t)),
                cpu_text(mid[t])))
    print("\nidle: RSS with %d connections open minus RSS before, / %d" % (CONNS, CONNS))
    print("%-10s %12s %12s %10s  %s" % ("server", "before MiB", "with MiB", "KiB/conn",
                                        "KiB/conn per round"))
    for n in names:
        print("%-10s %12.1f %12.1f %10.2f  %s" % (
            n, med(n, lambda r: r["rss_before_kb"][0] / 1024),
            med(n, lambda r: r["rss_with_kb"][0] / 1024), med(n, lambda r: r["kib_per_conn"][0]),
            per_round(r["kib_per_conn"][0] for r in runs[n])))
    print("%-10s %12.1f %12.1f %10.2f  %s   (muster's instance, separately)" % (
        "  service", med("muster", lambda r: r["rss_before_kb"][1] / 1024),
        med("muster", lambda r: r["rss_with_kb"][1] / 1024),
        med("muster", lambda r: r["kib_per_conn"][1]),
        per_round(r["kib_per_conn"][1] for r in runs["muster"])))
    tests = ["broadcast"] + ["echo%d" % w for w in WINDOWS]
    cl = max(r[t]["client_cpu_pct"] for n in names for r in runs[n] for t in tests)
    print("\nthe client (wsload, one process) used at most %.0f%% of a core in any measured part"
          % cl)
    bad = sum(r[t]["bad"] for n in names for r in runs[n] for t in tests)
    if bad:
        print("WARNING: %d messages arrived with the wrong length" % bad)
    print("steal (CPU time the hypervisor gave to other guests) during the run: %.1f%%" % steal)
    print("targets (median of the per-round ratios):")
    b_sio = median(ratio("muster", "socket.io", bc))
    b_ws = median(ratio("muster", "ws", bc))
    print("  broadcast >= 3x Socket.IO:     %6.2fx %s" % (b_sio, met(b_sio >= 3)))
    print("  broadcast >= 1.5x ws:          %6.2fx %s" % (b_ws, met(b_ws >= 1.5)))
    for w in WINDOWS:
        e = median(eratio("muster", "socket.io", "echo%d" % w))
        print("  echo (%d in flight) >= 1.5x Socket.IO: %.2fx %s" % (w, e, met(e >= 1.5)))
    kib = med("muster", lambda r: r["kib_per_conn"][0])
    print("  idle <= 4 KiB per connection:  %6.2f KiB %s" % (kib, met(kib <= 4)))


def main():
    global CONNS
    for b in ("muster", "bench_ws_service", "wsload"):
        if not os.access(os.path.join(BIN, b), os.X_OK):
            print("bench/ws.py: %s is not built in %s (make build)" % (b, BIN), file=sys.stderr)
            return 1
    for mod in ("ws", "socket.io"):
        if not os.path.isfile(os.path.join(NODE_MODULES, mod, "package.json")):
            print("bench/ws.py: skipped: the npm package %s is not in bench/node_modules "
                  "(cd bench && npm ci)" % mod)
            return 0
    allowed = raise_nofile()
    if allowed < CONNS:
        print("bench/ws.py: the open-files limit allows %d connections, not %d: measuring %d"
              % (allowed, CONNS, allowed))
        CONNS = allowed
    servers = [Muster(), NodePeer("ws", "ws", "ws_peer.js", "/"),
               NodePeer("socket.io", "sio", "sio_peer.js", None)]
    runs = {s.name: [] for s in servers}
    stat0 = read_stat()
    for rnd in range(ROUNDS):
        one_round(rnd, servers, runs)
    report(servers, runs, steal_pct(stat0, read_stat()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
