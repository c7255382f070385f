#!/usr/bin/env python3
"""Benchmark (issue 19, SPEC §13): TLS and HTTP/2 at the edge, side by side
in one run, with one certificate for all three servers (an RSA-2048 leaf,
signed by an intermediate, sent with it; made by tests/lib/tlscerts.py):

- muster: `gateway.tls` (http2 on) with 1 dummy instance;
- nginx 1 worker, `listen ... ssl http2`, `return 200`: the ceiling (no
  upstream behind it);
- HAProxy 1 thread, `bind ... ssl alpn h2,http/1.1`, `mode http`, in front
  of muster's plain HTTP listener, so that it serves the same dummy service
  (`http-reuse always`): the peer.

Every server answers TLS 1.2 and 1.3 (nginx 1.22 is told `ssl_protocols
TLSv1.2 TLSv1.3`; its default has no 1.3); h2load negotiates TLS 1.3 with
X25519 and TLS_AES_128_GCM_SHA256 on each.

Three figures per server, all with h2load (one thread):
- hs: new TLS handshakes per second, one request per connection: h2load
  with as many clients as requests (`-n B -c B --h1`, B=BENCH_TLS_BATCH,
  256, under the listen backlog of 511 all three use) repeated until
  BENCH_TLS_SECONDS of h2load's own time; handshakes/s = requests done /
  the sum of h2load's "finished in". A fresh h2load process per batch, so
  no TLS session is ever resumed (h2load resumes the session of a client
  that reconnects, which is why `-H 'connection: close'` with few clients
  would measure resumptions, not handshakes). The request is the cheapest
  answer of each: nginx `return 200`, muster's /healthz, HAProxy's
  `http-request return`.
- h1: keep-alive HTTPS, HTTP/1.1, `h2load --h1 -c 64 -m 1` on /dummy/echo
  (nginx: its `return 200`) for BENCH_TLS_SECONDS after 1 s of warm-up.
- h2: the same over HTTP/2 (ALPN h2), `h2load -c 10 -m 10`.

BENCH_ROUNDS interleaved rounds (default 5), each starting muster, nginx
and HAProxy in turn; medians, the per-round ratios, MET / NOT MET. The CPU
time of every process (from /proc) over each measurement says who was
saturated, and the server's CPU time per request (all its processes) what
a figure costs; h2load runs on the same 2 cores and its CPU is shown too, and
"others" is what the rest of the machine (other users of the VM) took
meanwhile, out of the 200 % of 2 cores."""
import json
import os
import re
import resource
import shutil
import ssl
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
from musterproc import descendants, free_port, wait_http  # noqa: E402
from tlscerts import CertFactory  # noqa: E402
sys.path.insert(0, HERE)
from benchlib import cpu_s, median, met, nginx_argv, read_stat, steal_pct, stop  # noqa: E402,E501

BIN = os.environ.get("MUSTER_BIN_DIR", os.path.join(HERE, "..", "build", "bin"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
SECONDS = float(os.environ.get("BENCH_TLS_SECONDS", "3"))
BATCH = int(os.environ.get("BENCH_TLS_BATCH", "256"))
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
H2LOAD = shutil.which("h2load") or "/usr/bin/h2load"
TESTS = ("hs", "h1", "h2")
WHAT = {"hs": "new TLS handshakes/s (one request per connection)",
        "h1": "keep-alive HTTPS req/s, HTTP/1.1 (-c 64)",
        "h2": "keep-alive HTTPS req/s, HTTP/2 (-c 10 -m 10)"}


def wait_https(port, path):
    """Waits until GET path over TLS on 127.0.0.1:port answers 200 (the
    server's certificate is not checked: the bench made it)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    wait_http(port, path, tls=ctx)


def spawn(cmd, cwd=None):
    return subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---- The servers: each returns (procs to stop, {label: [pids]}, port, paths, dir) ----

def muster_cfg(d, cert, key, tls=True):
    port = free_port()
    cfg = {"gateway": {"listen": "127.0.0.1:%d" % port, "access_log": None},
           "control": {"socket": "m.sock"}, "logs": {"dir": "logs"},
           "services": [{"name": "dummy", "command": ["dummy_service"], "instances": 1,
                         "routes": ["/dummy"]}]}
    tls_port = None
    if tls:
        tls_port = free_port()
        cfg["gateway"]["tls"] = {"listen": "127.0.0.1:%d" % tls_port, "http2": True,
                                 "certificates": [{"cert": cert, "key": key}]}
    with open(os.path.join(d, "m.json"), "w") as f:
        json.dump(cfg, f)
    p = spawn([os.path.join(BIN, "muster"), "-c", os.path.join(d, "m.json")], cwd=d)
    wait_http(port, "/dummy/echo")
    return p, port, tls_port


def muster_labels(pid):
    return {"muster": [pid], "dummy": list(descendants(pid))}


def run_muster(certs):
    d = tempfile.mkdtemp(prefix="muster-tlsbench-")
    p, _, tls_port = muster_cfg(d, certs["cert"], certs["key"])
    wait_https(tls_port, "/dummy/echo")
    return [p], muster_labels(p.pid), tls_port, {"hs": "/healthz", "echo": "/dummy/echo"}, d


def run_nginx(certs):
    d = tempfile.mkdtemp(prefix="nginx-tlsbench-")
    port = free_port()
    p = spawn(nginx_argv(d, """  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:%d ssl http2;
    ssl_certificate %s;
    ssl_certificate_key %s;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / { default_type application/json; return 200 '{"ok":true}'; }
  }
""" % (port, certs["cert"], certs["key"])))
    wait_https(port, "/")
    # The master does nothing under load; the worker is its child.
    return [p], {"nginx": list(descendants(p.pid))}, port, {"hs": "/", "echo": "/"}, d


def run_haproxy(certs):
    d = tempfile.mkdtemp(prefix="haproxy-tlsbench-")
    m, plain, _ = muster_cfg(d, None, None, tls=False)
    port = free_port()
    conf = os.path.join(d, "haproxy.cfg")
    with open(conf, "w") as f:
        f.write("""global
  nbthread 1
  maxconn 4096
  ssl-default-bind-options ssl-min-ver TLSv1.2
defaults
  mode http
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  option http-keep-alive
  http-reuse always
frontend f
  bind 127.0.0.1:%d ssl crt %s alpn h2,http/1.1 backlog 511
  http-request return status 200 content-type application/json %s if { path /hs }
  default_backend b
backend b
  server muster 127.0.0.1:%d
""" % (port, certs["pem"], 'string "{\\"ok\\":true}"', plain))
    p = spawn([HAPROXY, "-db", "-f", conf])
    wait_https(port, "/dummy/echo")
    labels = {"haproxy": [p.pid]}
    labels.update(muster_labels(m.pid))
    return [p, m], labels, port, {"hs": "/hs", "echo": "/dummy/echo"}, d


SERVERS = (("muster", run_muster), ("nginx", run_nginx), ("haproxy", run_haproxy))


# ---- h2load ----

def to_s(v, unit):
    return float(v) * {"ms": 1e-3, "s": 1.0, "us": 1e-6}[unit]


def h2load(args, timeout):
    """Runs h2load; returns (requests succeeded, seconds h2load reports,
    failed + errored + non-2xx, h2load's own CPU seconds)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([H2LOAD] + args, capture_output=True, text=True, timeout=timeout)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    text = out.stdout
    try:
        m = re.search(r"finished in ([\d.]+)(ms|s|us),", text)
        secs = to_s(m.group(1), m.group(2))
        m = re.search(r"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, "
                      r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
        ok, bad = int(m.group(1)), int(m.group(2)) + int(m.group(3)) + int(m.group(4))
        m = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
        bad += int(m.group(2)) + int(m.group(3)) + int(m.group(4))
        ok -= int(m.group(2)) + int(m.group(3)) + int(m.group(4))
    except AttributeError:
        raise RuntimeError("cannot read h2load's output (%s):\n%s%s"
                           % (" ".join(args), text, out.stderr))
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return ok, secs, bad, cpu


def handshakes(url):
    """Batches of BATCH clients, one request each, until SECONDS of h2load time."""
    done, secs, bad, cpu = 0, 0.0, 0, 0.0
    while secs < SECONDS:
        ok, s, b, c = h2load(["--h1", "-n", str(BATCH), "-c", str(BATCH), url], 60)
        done, secs, bad, cpu = done + ok, secs + s, bad + b, cpu + c
    return done, secs, bad, cpu


def keepalive(url, proto):
    args = ["-D", "%g" % SECONDS, "--warm-up-time", "1"]
    args += ["--h1", "-c", "64", "-m", "1"] if proto == "h1" else ["-c", "10", "-m", "10"]
    return h2load(args + [url], SECONDS + 60)


def busy_s():
    """CPU seconds the whole machine spent busy (all cores, not idle or iowait)."""
    st = read_stat()
    return (sum(st[:8]) - st[3] - st[4]) / os.sysconf("SC_CLK_TCK")


def measure(test, url, labels):
    """One figure: {rate, bad, cpu: {label: % of a core}}; cpu["others"]
    is what every other process of the machine took meanwhile."""
    if test == "hs":
        h2load(["--h1", "-n", str(BATCH), "-c", str(BATCH), url], 60)  # warm-up, discarded
    before = {k: sum(cpu_s(p) for p in v) for k, v in labels.items()}
    b0, t0 = busy_s(), time.monotonic()
    if test == "hs":
        done, secs, bad, h2cpu = handshakes(url)
    else:
        done, secs, bad, h2cpu = keepalive(url, test)
    wall, b1 = time.monotonic() - t0, busy_s()
    used = {k: sum(cpu_s(p) for p in v) - before[k] for k, v in labels.items()}
    cpu = {k: 100.0 * v / wall for k, v in used.items()}
    cpu["h2load"] = 100.0 * h2cpu / wall
    cpu["others"] = max(0.0, 100.0 * (b1 - b0) / wall - sum(cpu.values()))
    # The server's CPU per request (all its processes): what a figure costs,
    # less disturbed than the rate by what else runs on the cores.
    return {"rate": done / secs, "bad": bad, "cpu": cpu,
            "us": 1e6 * sum(used.values()) / max(1, done)}


def make_certs(d):
    f = CertFactory(d)
    cert, key = f.leaf("bench", ["localhost"], rsa_bits=2048)
    pem = os.path.join(d, "bench-haproxy.pem")  # HAProxy takes the chain and the key in one file
    with open(pem, "w") as out, open(cert) as c, open(key) as k:
        out.write(c.read() + k.read())
    return {"cert": cert, "key": key, "pem": pem}


def main():
    cdir = tempfile.mkdtemp(prefix="tlsbench-certs-")
    try:
        certs = make_certs(cdir)
        runs = {}  # (server, test) -> [measure() per round]
        stat0 = read_stat()
        for rnd in range(ROUNDS):
            for name, starter in SERVERS:
                procs, labels, port, paths, d = starter(certs)
                try:
                    for test in TESTS:
                        url = "https://127.0.0.1:%d%s" % (port, paths["hs" if test == "hs"
                                                                    else "echo"])
                        runs.setdefault((name, test), []).append(measure(test, url, labels))
                finally:
                    for p in procs:
                        stop(p)
                    shutil.rmtree(d, ignore_errors=True)
            print("round %d of %d done" % (rnd + 1, ROUNDS), file=sys.stderr)
        steal = steal_pct(stat0, read_stat())
    finally:
        shutil.rmtree(cdir, ignore_errors=True)
    report(runs, steal)


def report(runs, steal):
    res = {k: median([r["rate"] for r in v]) for k, v in runs.items()}
    print("h2load -t1 over TLS 1.3 (X25519, AES-128-GCM), RSA-2048 leaf + intermediate, "
          "loopback, %d cores; %gs per figure; median of %d interleaved rounds"
          % (os.cpu_count(), SECONDS, ROUNDS))
    for test in TESTS:
        print("%s: %s" % (test, WHAT[test]))
        print("  %-8s %8s %7s %9s %7s  %-29s %-29s %s" % (
            "server", "rate", "x nginx", "x haproxy", "CPU us", "x nginx per round",
            "x haproxy per round", "CPU % of a core (median)"))
        for name, _ in SERVERS:
            rs = runs[(name, test)]
            pn = [a["rate"] / b["rate"] for a, b in zip(rs, runs[("nginx", test)])]
            ph = [a["rate"] / b["rate"] for a, b in zip(rs, runs[("haproxy", test)])]
            cpu = " ".join("%s %.0f" % (k, median([r["cpu"][k] for r in rs]))
                           for k in rs[0]["cpu"])
            bad = sum(r["bad"] for r in rs)
            print("  %-8s %8.0f %7.2f %9.2f %7.1f  %-29s %-29s %s%s" % (
                name, res[(name, test)], res[(name, test)] / res[("nginx", test)],
                res[(name, test)] / res[("haproxy", test)], median([r["us"] for r in rs]),
                " ".join("%.2f" % x for x in pn), " ".join("%.2f" % x for x in ph), cpu,
                "  (%d failed or non-2xx)" % bad if bad else ""))
    print("CPU us: the server's CPU time per request (per handshake for hs), all its "
          "processes (HAProxy's row: HAProxy + muster + dummy), median of the rounds")
    print("steal (CPU time the hypervisor gave to other guests) during the run: %.1f%%; "
          "load average at the end: %s"
          % (steal, " ".join(open("/proc/loadavg").read().split()[:3])))
    hs = res[("muster", "hs")] / res[("nginx", "hs")]
    h2n = res[("muster", "h2")] / res[("nginx", "h2")]
    h2h = res[("muster", "h2")] / res[("haproxy", "h2")]
    print("targets:")
    print("  handshakes/s       >= 0.9x nginx            %.2fx %s" % (hs, met(hs >= 0.9)))
    print("  HTTP/2 req/s       >= 0.7x nginx return 200 %.2fx %s" % (h2n, met(h2n >= 0.7)))
    print("  HTTP/2 req/s       >= 1.0x HAProxy in front %.2fx %s" % (h2h, met(h2h >= 1.0)))


if __name__ == "__main__":
    sys.exit(main())
