#!/usr/bin/env python3
"""Benchmark: the gateway under wrk, side by side in one run with
nginx (1 worker, `return 200`, keep-alive: the ceiling) and a Node.js
cluster with 2 workers (the peer). `wrk -t1 -c64 -d5s` GET and POST on
/dummy/echo with 1 and 2 dummy instances. Prints req/s, p50, p99 and the
ratios to nginx and to Node."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("MUSTER_BIN_DIR", os.path.join(HERE, "..", "build", "bin"))
DURATION = os.environ.get("BENCH_DURATION", "5s")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_http(port, path, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=1)
            s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
            if s.recv(100).startswith(b"HTTP/1.1 200"):
                s.close()
                return
            s.close()
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("nothing answered 200 on port %d %s" % (port, path))


def to_ms(v):
    m = re.match(r"([\d.]+)(us|ms|s)", v)
    n, u = float(m.group(1)), m.group(2)
    return n / 1000 if u == "us" else n * 1000 if u == "s" else n


def wrk(url, post=False):
    cmd = ["wrk", "-t1", "-c64", "-d" + DURATION, "--latency", url]
    if post:
        cmd[1:1] = ["-s", os.path.join(HERE, "post.lua")]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(re.search(r"50%\s+(\S+)", out).group(1))
    p99 = to_ms(re.search(r"99%\s+(\S+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock_err = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": p50, "p99": p99,
            "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": sock_err.group(1) if sock_err else ""}


def run_muster(instances):
    d = tempfile.mkdtemp(prefix="muster-bench-")
    port = free_port()
    cfg = {"gateway": {"listen": "127.0.0.1:%d" % port, "access_log": None},
           "control": {"socket": "m.sock"}, "logs": {"dir": "logs"},
           "services": [{"name": "dummy", "command": ["dummy_service"], "instances": instances,
                         "routes": ["/dummy"]}]}
    with open(os.path.join(d, "m.json"), "w") as f:
        json.dump(cfg, f)
    p = subprocess.Popen([os.path.join(BIN, "muster"), "-c", os.path.join(d, "m.json")],
                         stderr=subprocess.DEVNULL, cwd=d)
    wait_http(port, "/healthz")
    return p, port, d


def run_nginx():
    d = tempfile.mkdtemp(prefix="nginx-bench-")
    port = free_port()
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write("""worker_processes 1;
pid %s/nginx.pid;
error_log %s/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path %s;
  server {
    listen 127.0.0.1:%d;
    location / { default_type application/json; return 200 '{"ok":true}'; }
  }
}
""" % (d, d, d, port))
    p = subprocess.Popen(["nginx", "-c", conf, "-p", d, "-g", "daemon off;"],
                         stderr=subprocess.DEVNULL)
    wait_http(port, "/")
    return p, port, d


def run_node():
    port = free_port()
    p = subprocess.Popen(["node", os.path.join(HERE, "node_cluster.js"), str(port)])
    wait_http(port, "/dummy/echo")
    return p, port, None


def stop(p, d):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    if d:
        shutil.rmtree(d, ignore_errors=True)


def main():
    results = {}
    for name, starter, path in (("nginx", run_nginx, "/"), ("node-cluster-2", run_node, "/dummy/echo"),
                                ("muster-1", lambda: run_muster(1), "/dummy/echo"),
                                ("muster-2", lambda: run_muster(2), "/dummy/echo")):
        p, port, d = starter()
        try:
            url = "http://127.0.0.1:%d%s" % (port, path)
            wrk(url)  # warm-up, discarded
            results[name] = {"GET": wrk(url), "POST": wrk(url, post=True)}
        finally:
            stop(p, d)
    print("wrk -t1 -c64 -d%s, keep-alive, loopback, %d cores" % (DURATION, os.cpu_count()))
    print("%-16s %-5s %10s %9s %9s %9s %9s" % ("server", "meth", "req/s", "p50 ms", "p99 ms",
                                             "x nginx", "x node"))
    for name, r in results.items():
        for meth in ("GET", "POST"):
            x = r[meth]
            vs_nginx = x["rps"] / results["nginx"][meth]["rps"]
            vs_node = x["rps"] / results["node-cluster-2"][meth]["rps"]
            bad = ""
            if x["non2xx"] or x["socket_errors"]:
                bad = "  (non-2xx %d, socket errors %s)" % (x["non2xx"], x["socket_errors"])
            print("%-16s %-5s %10.0f %9.3f %9.3f %9.2f %9.2f%s" % (name, meth, x["rps"], x["p50"],
                                                                 x["p99"], vs_nginx, vs_node, bad))
    best = max(results["muster-1"]["GET"]["rps"], results["muster-2"]["GET"]["rps"])
    print("targets (GET, best muster): >= 0.6x nginx: %.2fx; >= 1.2x node cluster: %.2fx"
          % (best / results["nginx"]["GET"]["rps"], best / results["node-cluster-2"]["GET"]["rps"]))


if __name__ == "__main__":
    sys.exit(main())
