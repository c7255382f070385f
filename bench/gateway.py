#!/usr/bin/env python3
"""Benchmark: the gateway under wrk, side by side in one run with
nginx (1 worker, `return 200`, keep-alive: the ceiling) and a Node.js
cluster with 2 workers (the peer). `wrk -t1 -c64 -d5s` GET and POST on
/dummy/echo with 1 and 2 dummy instances. Prints req/s, p50, p99 and the
ratios to nginx and to Node.

The machine is shared (a VM on 2 cores) and one 5 s run can be off by 20%,
so BENCH_ROUNDS rounds (default 5) each run every server in turn, and the
median of the rounds is reported, with the spread of the ratio."""
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
from musterproc import free_port, wait_http  # noqa: E402
sys.path.insert(0, HERE)
from benchlib import median, met, nginx_argv, read_stat, steal_pct, stop as stop_proc  # noqa: E402,E501

BIN = os.environ.get("MUSTER_BIN_DIR", os.path.join(HERE, "..", "build", "bin"))
# The binaries of an older muster to measure side by side (bench/run.sh
# builds them from BENCH_BASELINE_REV), or unset.
BASE_BIN = os.environ.get("BENCH_BASELINE_BIN")
DURATION = os.environ.get("BENCH_DURATION", "5s")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))


def to_ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    n, u = float(m.group(1)), m.group(2)
    return {"us": n / 1000, "ms": n, "s": n * 1000, "m": n * 60000}[u]


def wrk(url, post=False, duration=None):
    cmd = ["wrk", "-t1", "-c64", "-d" + (duration or DURATION), "--latency", url]
    if post:
        cmd[1:1] = ["-s", os.path.join(HERE, "post.lua")]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    try:
        rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
        p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
        p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    except (AttributeError, ValueError):
        raise RuntimeError("cannot read wrk's output for %s:\n%s" % (url, out))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock_err = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "p50": p50, "p99": p99,
            "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": sock_err.group(1) if sock_err else ""}


def run_muster(instances, bin_dir=BIN):
    d = tempfile.mkdtemp(prefix="muster-bench-")
    port = free_port()
    cfg = {"gateway": {"listen": "127.0.0.1:%d" % port, "access_log": None},
           "control": {"socket": "m.sock"}, "logs": {"dir": "logs"},
           "services": [{"name": "dummy", "command": ["dummy_service"], "instances": instances,
                         "routes": ["/dummy"]}]}
    with open(os.path.join(d, "m.json"), "w") as f:
        json.dump(cfg, f)
    p = subprocess.Popen([os.path.join(bin_dir, "muster"), "-c", os.path.join(d, "m.json")],
                         stderr=subprocess.DEVNULL, cwd=d)
    wait_http(port, "/healthz")
    return p, port, d


def run_nginx():
    d = tempfile.mkdtemp(prefix="nginx-bench-")
    port = free_port()
    argv = nginx_argv(d, """  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:%d;
    location / { default_type application/json; return 200 '{"ok":true}'; }
  }
""" % port)
    p = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    wait_http(port, "/")
    return p, port, d


def run_node():
    port = free_port()
    p = subprocess.Popen(["node", os.path.join(HERE, "node_cluster.js"), str(port)])
    wait_http(port, "/dummy/echo")
    return p, port, None


def stop(p, d):
    stop_proc(p)
    if d:
        shutil.rmtree(d, ignore_errors=True)


def main():
    servers = (("nginx", run_nginx, "/"), ("node-cluster-2", run_node, "/dummy/echo"),
               ("muster-1", lambda: run_muster(1), "/dummy/echo"),
               ("muster-2", lambda: run_muster(2), "/dummy/echo"))
    if BASE_BIN:
        servers += (("baseline-1", lambda: run_muster(1, BASE_BIN), "/dummy/echo"),
                    ("baseline-2", lambda: run_muster(2, BASE_BIN), "/dummy/echo"))
    runs = {}  # (name, method) -> [wrk result per round]
    stat0 = read_stat()
    for rnd in range(ROUNDS):
        for name, starter, path in servers:
            p, port, d = starter()
            try:
                url = "http://127.0.0.1:%d%s" % (port, path)
                wrk(url, duration="2s")  # warm-up, discarded
                for meth in ("GET", "POST"):
                    runs.setdefault((name, meth), []).append(wrk(url, post=meth == "POST"))
            finally:
                stop(p, d)
        print("round %d of %d done" % (rnd + 1, ROUNDS), file=sys.stderr)
    res = {k: {f: median([r[f] for r in v]) for f in ("rps", "p50", "p99")}
           for k, v in runs.items()}
    print("wrk -t1 -c64 -d%s, keep-alive, loopback, %d cores; median of %d rounds"
          % (DURATION, os.cpu_count(), ROUNDS))
    print("%-16s %-5s %10s %9s %9s %9s %9s  %s" % ("server", "meth", "req/s", "p50 ms", "p99 ms",
                                                 "x nginx", "x node", "x nginx per round"))
    for name, _, _ in servers:
        for meth in ("GET", "POST"):
            x = res[(name, meth)]
            per_round = [a["rps"] / b["rps"] for a, b in zip(runs[(name, meth)],
                                                             runs[("nginx", meth)])]
            bad = ""
            errs = [r for r in runs[(name, meth)] if r["non2xx"] or r["socket_errors"]]
            if errs:
                bad = "  (non-2xx %d, socket errors %s)" % (errs[0]["non2xx"],
                                                           errs[0]["socket_errors"])
            print("%-16s %-5s %10.0f %9.3f %9.3f %9.2f %9.2f  %s%s" % (
                name, meth, x["rps"], x["p50"], x["p99"], x["rps"] / res[("nginx", meth)]["rps"],
                x["rps"] / res[("node-cluster-2", meth)]["rps"],
                " ".join("%.2f" % r for r in per_round), bad))
    print("steal (CPU time the hypervisor gave to other guests) during the run: %.1f%%"
          % steal_pct(stat0, read_stat()))
    if BASE_BIN:
        print("this muster against the baseline (%s), same rounds:"
              % os.environ.get("BENCH_BASELINE_REV", BASE_BIN))
        for n in ("1", "2"):
            for meth in ("GET", "POST"):
                a, b = runs[("muster-" + n, meth)], runs[("baseline-" + n, meth)]
                per = [x["rps"] / y["rps"] for x, y in zip(a, b)]
                r = res[("muster-" + n, meth)]["rps"] / res[("baseline-" + n, meth)]["rps"]
                print("  %d instance%s %-4s %.3fx (median per round %.3fx; rounds %s) %s" % (
                    int(n), "s" if n == "2" else " ", meth, r, median(per),
                    " ".join("%.2f" % x for x in per), met(median(per) >= 0.97)))
    print("targets: >= 0.6x nginx, >= 1.2x node cluster, p99 <= 3 ms; "
          ">= 0.97x the baseline when one is given")
    for name in ("muster-1", "muster-2"):
        for meth in ("GET", "POST"):
            x = res[(name, meth)]
            rn = x["rps"] / res[("nginx", meth)]["rps"]
            rc = x["rps"] / res[("node-cluster-2", meth)]["rps"]
            print("  %-9s %-4s %.2fx nginx %-7s %.2fx node %-7s p99 %.2f ms %s" % (
                name, meth, rn, met(rn >= 0.6), rc, met(rc >= 1.2), x["p99"], met(x["p99"] <= 3)))


if __name__ == "__main__":
    sys.exit(main())
