#!/usr/bin/env python3
"""Benchmark (issue 14, SPEC §9): proxying to programs that serve for
themselves, side by side in one run.

HTTP: the same Node app (services/examples/express_like.js, plain `http`)
with 2 instances behind muster (an upstream service, its keep-alive pool),
behind nginx (`proxy_pass`, upstream `keepalive 64`, 1 worker) and behind
HAProxy (`mode http`, `http-reuse always`, 1 thread); `wrk -t1 -c64` GET /
and POST of 4 KB to /sink. The peers are configured to do the work muster
does for every request: `x-forwarded-for`, `-proto`, `-host`, `x-real-ip`
and a request id to the app, the id in the answer (nginx
`proxy_set_header`/`add_header` with `$request_id`, HAProxy `option
forwardfor`, `set-header` and `unique-id-header`);
BENCH_PEERS_BARE=1 leaves that out (the app then parses five headers fewer
behind them than behind muster). TCP: muster's TCP route and HAProxy
`mode tcp` in front of bench/tcp_sink.js (2 instances): MB/s through one
connection and connections/s (bench/tcp_client.c). The proxies' CPU time
per request is read from /proc. BENCH_PIN=N puts each proxy's process (not
the Node processes) on CPU N for the HTTP rounds: a diagnostic, not the
default. BENCH_LIMIT=N caps the requests each Node process holds at N,
the rest waiting in the proxy's queue (muster `max_inflight`, HAProxy
`maxconn` per server; nginx has no such queue and is left as it is): the
tuning docs/http.md describes for CPU-bound programs. BENCH_ROUNDS
interleaved rounds (default 9: the p99s of two proxies this close need
that many to settle), each starting with the next proxy (so
none always follows the TCP rounds); medians, ratios, MET/NOT MET against
the targets. BENCH_HTTP_ONLY=1 leaves the TCP rounds out (more HTTP
rounds in the same time, for the tail's medians)."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
sys.path.insert(0, HERE)
from musterproc import free_port, wait_http  # noqa: E402
from benchlib import nginx_argv  # noqa: E402
from gateway import median, met, read_stat, steal_pct, to_ms  # noqa: E402

BIN = os.environ.get("MUSTER_BIN_DIR", os.path.join(HERE, "..", "build", "bin"))
DURATION = os.environ.get("BENCH_DURATION", "5s")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))
APP = os.path.join(HERE, "..", "services", "examples", "express_like.js")
SINK = os.path.join(HERE, "tcp_sink.js")
STREAM_MB = int(os.environ.get("BENCH_STREAM_MB", "512"))
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
BARE = os.environ.get("BENCH_PEERS_BARE") == "1"
PIN = os.environ.get("BENCH_PIN")  # a CPU for the proxies' processes (see pin)
HTTP_ONLY = os.environ.get("BENCH_HTTP_ONLY") == "1"
LIMIT = int(os.environ.get("BENCH_LIMIT", "0"))  # requests per Node process, 0: no cap
NGINX_SAME_WORK = """
                 proxy_set_header X-Request-Id $request_id;
                 proxy_set_header X-Forwarded-For $remote_addr;
                 proxy_set_header X-Forwarded-Proto $scheme;
                 proxy_set_header X-Real-IP $remote_addr;
                 proxy_set_header X-Forwarded-Host $host;
                 add_header X-Request-Id $request_id;"""


def ports(n):
    """n consecutive free ports below the ephemeral range."""
    sys.path.insert(0, os.path.join(HERE, "..", "tests", "up"))
    from uplib import free_ports
    return free_ports(n)


def cpu_s(pid):
    """User + system CPU seconds of pid."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url, lua=None):
    cmd = ["wrk", "-t1", "-c64", "-d" + DURATION, "--latency", url]
    if lua:
        cmd[1:1] = ["-s", os.path.join(HERE, lua)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    try:
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        total = int(re.search(r"(\d+) requests in", out).group(1))
        p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    except (AttributeError, ValueError):
        raise RuntimeError("cannot read wrk's output for %s:\n%s" % (url, out))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p99": p99, "total": total, "non2xx": int(bad.group(1)) if bad else 0,
            "errors": "Socket errors" in out}


def spawn(cmd, env=None, cwd=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.Popen(cmd, env=e, cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def stop(procs, d=None):
    for p in procs:
        p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    if d:
        shutil.rmtree(d, ignore_errors=True)


def wait_port(port, timeout=20):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on %d" % port)


# ---- The proxies ----

def started(procs, d, wait):
    """wait() for a peer to answer; if it does not, procs (the peer and its
    Node processes) are stopped before the error goes on."""
    try:
        wait()
    except BaseException:
        stop(procs, d)
        raise


def muster(app, tcp=False):
    """muster with 2 instances of app as an upstream (and a TCP route)."""
    d = tempfile.mkdtemp(prefix="muster-bench-")
    port, base = free_port(), ports(2)
    svc = {"name": "app", "command": ["node", app], "instances": 2, "upstream": {"port": base}}
    if LIMIT and not tcp:
        svc["max_inflight"] = LIMIT
    cfg = {"gateway": {"listen": "127.0.0.1:%d" % port, "access_log": None},
           "control": {"socket": "m.sock"}, "logs": {"dir": "logs"}, "services": [svc]}
    if tcp:
        cfg["tcp"] = [{"listen": "127.0.0.1:%d" % port, "service": "app"}]
        cfg["gateway"]["listen"] = "127.0.0.1:%d" % free_port()
    else:
        svc["routes"] = ["/"]
    with open(os.path.join(d, "m.json"), "w") as f:
        json.dump(cfg, f)
    p = spawn([os.path.join(BIN, "muster"), "-c", os.path.join(d, "m.json")], cwd=d)
    started([p], d, lambda: (wait_port(base), wait_port(base + 1),
                             wait_port(port) if tcp else wait_http(port, "/")))
    time.sleep(0.3)  # both instances ready (the readiness probe)
    return [p], p.pid, port, d


def nodes(app):
    base = ports(2)
    ps = [spawn(["node", app], env={"PORT": str(base + i), "NODE_APP_INSTANCE": str(i)})
          for i in range(2)]
    started(ps, None, lambda: (wait_port(base), wait_port(base + 1)))
    return ps, base


def nginx(app):
    ps, base = nodes(app)
    d = tempfile.mkdtemp(prefix="nginx-bench-")
    port = free_port()
    p = spawn(nginx_argv(d, """  proxy_temp_path %s;
  upstream app { least_conn; server 127.0.0.1:%d; server 127.0.0.1:%d; keepalive 64; }
  server {
    listen 127.0.0.1:%d;
    keepalive_requests 1000000;
    location / { proxy_pass http://app; proxy_http_version 1.1;
                 proxy_set_header Connection "";%s }
  }
""" % (d, base, base + 1, port, "" if BARE else NGINX_SAME_WORK)))
    started([p] + ps, d, lambda: wait_http(port, "/"))
    return [p] + ps, p.pid, port, d


def haproxy(app, mode="http"):
    ps, base = nodes(app)
    d = tempfile.mkdtemp(prefix="haproxy-bench-")
    port = free_port()
    conf = os.path.join(d, "haproxy.cfg")
    # The same work as muster's: x-forwarded-for, -proto, -host, x-real-ip
    # and a request id to the app, the id in the answer too.
    same = mode == "http" and not BARE
    cap = " maxconn %d" % LIMIT if LIMIT and mode == "http" else ""
    extra = "  http-reuse always\n  option http-keep-alive\n" if mode == "http" else ""
    extra += ("  option forwardfor\n  unique-id-format %{+X}o%Ts%rt\n"
              "  unique-id-header X-Request-Id\n" if same else "")
    front = ("  http-request set-header X-Forwarded-Proto http\n"
             "  http-request set-header X-Real-IP %[src]\n"
             "  http-request set-header X-Forwarded-Host %[req.hdr(host)]\n"
             "  http-after-response set-header X-Request-Id %[unique-id]\n" if same else "")
    with open(conf, "w") as f:
        f.write("""global
  nbthread 1
  maxconn 4096
defaults
  mode %s
  timeout connect 5s
  timeout client 60s
  timeout server 60s
%sfrontend f
  bind 127.0.0.1:%d
%s  default_backend b
backend b
  balance leastconn
  server s0 127.0.0.1:%d%s
  server s1 127.0.0.1:%d%s
""" % (mode, extra, port, front, base, cap, base + 1, cap))
    p = spawn([HAPROXY, "-db", "-f", conf])
    started([p] + ps, d, lambda: wait_http(port, "/") if mode == "http" else wait_port(port))
    return [p] + ps, p.pid, port, d


# ---- Rounds ----

def pin(name, pid):
    """BENCH_PIN=N: the proxy's own process (muster's, nginx's worker,
    HAProxy's) on CPU N, set after the start so that the Node processes
    stay free: how the proxies compare when the scheduler does not place
    them among the programs they wake."""
    if PIN is None:
        return
    pids = [pid]
    if name == "nginx":
        pids = subprocess.run(["pgrep", "-P", str(pid), "nginx"], capture_output=True,
                              text=True).stdout.split()
    for p in pids:
        subprocess.run(["taskset", "-pc", PIN, str(p)], capture_output=True, check=True)


def http_round(name, starter, runs):
    procs, pid, port, d = starter()
    try:
        pin(name, pid)
        url = "http://127.0.0.1:%d" % port
        subprocess.run(["wrk", "-t1", "-c64", "-d2s", url + "/"], capture_output=True,
                       check=True)  # warm-up, discarded
        for meth, path, lua in (("GET", "/", None), ("POST", "/sink", "post4k.lua")):
            c0 = cpu_s(pid)
            r = wrk(url + path, lua)
            r["cpu_us"] = (cpu_s(pid) - c0) * 1e6 / max(1, r["total"])
            runs.setdefault((name, meth), []).append(r)
    finally:
        stop(procs, d)


def tcp_round(name, starter, runs, client):
    procs, pid, port, d = starter()
    try:
        out = subprocess.run([client, "stream", str(port), str(STREAM_MB)], capture_output=True,
                             text=True, timeout=300)
        mbs = float(out.stdout) if out.returncode == 0 else 0.0
        out = subprocess.run([client, "conns", str(port), DURATION.rstrip("s"), "8"],
                             capture_output=True, text=True, timeout=300)
        cps = float(out.stdout) if out.returncode == 0 else 0.0
        runs.setdefault((name, "stream"), []).append(mbs)
        runs.setdefault((name, "conns"), []).append(cps)
    finally:
        stop(procs, d)


def build_client():
    out = os.path.join(tempfile.gettempdir(), "muster-bench-tcp-client")
    subprocess.run(["cc", "-O2", "-o", out, os.path.join(HERE, "tcp_client.c"), "-lpthread"],
                   check=True)
    return out


def report_http(runs):
    print("HTTP: wrk -t1 -c64 -d%s, keep-alive, 2 Node instances; median of %d rounds; %s%s"
          % (DURATION, ROUNDS, "peers bare (BENCH_PEERS_BARE=1)" if BARE else
             "peers send x-forwarded-for/-proto/-host, x-real-ip and a request id as muster does",
             "; each proxy's process on CPU %s (BENCH_PIN)" % PIN if PIN else "")
          + ("; at most %d requests per Node process behind muster and HAProxy, the rest queued "
             "in the proxy (BENCH_LIMIT; nginx uncapped)" % LIMIT if LIMIT else ""))
    print("%-8s %-5s %10s %9s %12s  %s" % ("proxy", "meth", "req/s", "p99 ms", "CPU us/req",
                                           "errors"))
    res = {}
    for (name, meth), rs in sorted(runs.items()):
        res[(name, meth)] = {k: median([r[k] for r in rs]) for k in ("rps", "p99", "cpu_us")}
        bad = sum(r["non2xx"] for r in rs), any(r["errors"] for r in rs)
        print("%-8s %-5s %10.0f %9.2f %12.1f  non-2xx %d%s" % (
            name, meth, res[(name, meth)]["rps"], res[(name, meth)]["p99"],
            res[(name, meth)]["cpu_us"], bad[0], ", socket errors" if bad[1] else ""))
    print("targets: >= 1.0x nginx and >= 1.0x HAProxy req/s, p99 no worse than either")
    for meth in ("GET", "POST"):
        m = res[("muster", meth)]
        for peer in ("nginx", "haproxy"):
            p = res[(peer, meth)]
            per = [a["rps"] / b["rps"] for a, b in zip(runs[("muster", meth)], runs[(peer, meth)])]
            lower = sum(a["p99"] <= b["p99"]
                        for a, b in zip(runs[("muster", meth)], runs[(peer, meth)]))
            print("  %-4s %.2fx %-7s req/s %-7s (rounds %s)  p99 %.2f vs %.2f ms %s "
                  "(muster's lower or equal in %d of %d rounds)" % (
                      meth, m["rps"] / p["rps"], peer, met(m["rps"] >= p["rps"]),
                      " ".join("%.2f" % x for x in per), m["p99"], p["p99"],
                      met(m["p99"] <= p["p99"]), lower, len(per)))
        print("  %-4s p99 per round, ms: %s" % (meth, "; ".join(
            "%s %s" % (name, " ".join("%.2f" % r["p99"] for r in runs[(name, meth)]))
            for name in ("muster", "nginx", "haproxy"))))


def report_tcp(runs):
    print("TCP: one connection pushing %d MiB (MB/s), and connections/s (8 threads, connect, "
          "1 byte each way, close); median of %d rounds" % (STREAM_MB, ROUNDS))
    for what in ("stream", "conns"):
        m, h = median(runs[("muster", what)]), median(runs[("haproxy", what)])
        print("  %-7s muster %10.1f  haproxy %10.1f  %.2fx %s  (muster rounds %s)" % (
            what, m, h, m / h if h else 0, met(h and m / h >= 0.9),
            " ".join("%.0f" % x for x in runs[("muster", what)])))
    print("target: >= 0.9x HAProxy mode tcp")


def rotated(seq, k):
    """seq starting at its (k mod len)th item."""
    k %= len(seq)
    return seq[k:] + seq[:k]


def main():
    client = build_client()
    http_servers = (("muster", lambda: muster(APP)), ("nginx", lambda: nginx(APP)),
                    ("haproxy", lambda: haproxy(APP)))
    tcp_servers = (("muster", lambda: muster(SINK, tcp=True)),
                   ("haproxy", lambda: haproxy(SINK, "tcp")))
    runs, truns = {}, {}
    stat0 = read_stat()
    for rnd in range(ROUNDS):
        # Each round starts with the next proxy: none always runs right
        # after the TCP rounds, whose connections/s leave some 40,000
        # sockets in TIME_WAIT (expiring for a minute) and whose Node
        # processes just stopped.
        order = rotated(http_servers, rnd)
        for name, starter in order:
            http_round(name, starter, runs)
        for name, starter in () if HTTP_ONLY else rotated(tcp_servers, rnd):
            tcp_round(name, starter, truns, client)
        print("round %d of %d done (%s first)" % (rnd + 1, ROUNDS, order[0][0]), file=sys.stderr)
    report_http(runs)
    if not HTTP_ONLY:
        report_tcp(truns)
    print("steal during the run: %.1f%%" % steal_pct(stat0, read_stat()))


if __name__ == "__main__":
    sys.exit(main())
