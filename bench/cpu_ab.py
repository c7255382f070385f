#!/usr/bin/env python3
"""Diagnostic: the CPU one muster spends per request against another
build's, side by side (not in `make bench`: it has no peer, only a
baseline). Each muster hosts one dummy instance; `wrk -t1 -c64 -d4s` GETs
/dummy/echo with three headers, the two alternating which goes first;
the figure is muster's own CPU time (utime + stime from /proc) divided by
the requests it answered. A shared VM's steal moves req/s by tens of per
cent from round to round; CPU per request moves far less.

  MUSTER_BIN_DIR=build/bin BENCH_BASELINE_BIN=/tmp/base/build/bin \\
    BENCH_ROUNDS=11 python3 bench/cpu_ab.py"""
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
from musterproc import free_port, wait_http  # noqa: E402
sys.path.insert(0, HERE)
from benchlib import stop  # noqa: E402

BIN = os.environ.get("MUSTER_BIN_DIR", os.path.join(HERE, "..", "build", "bin"))
BASE_BIN = os.environ.get("BENCH_BASELINE_BIN")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "11"))


def start(tmp, name, bindir):
    port = free_port()
    cfg = {"gateway": {"listen": "127.0.0.1:%d" % port, "access_log": None},
           "control": {"socket": os.path.join(tmp, name + ".sock")},
           "logs": {"dir": os.path.join(tmp, "logs-" + name)},
           "services": [{"name": "dummy", "command": [os.path.join(bindir, "dummy_service")],
                         "instances": 1, "routes": ["/dummy"]}]}
    path = os.path.join(tmp, name + ".json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.Popen([os.path.join(bindir, "muster"), "-c", path],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(port, "/dummy/echo")
    return p, port


def cpu_s(pid):
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def main():
    if not BASE_BIN:
        sys.exit("cpu_ab: set BENCH_BASELINE_BIN to the other build's bin directory")
    with tempfile.TemporaryDirectory() as tmp:
        ps = {"this": start(tmp, "this", BIN), "baseline": start(tmp, "baseline", BASE_BIN)}
        res = {"this": [], "baseline": []}
        try:
            for r in range(ROUNDS):
                for who in ("this", "baseline") if r % 2 == 0 else ("baseline", "this"):
                    p, port = ps[who]
                    c0 = cpu_s(p.pid)
                    out = subprocess.run(
                        ["wrk", "-t1", "-c64", "-d4s", "-H", "X-A: 1", "-H", "Accept: */*",
                         "http://127.0.0.1:%d/dummy/echo" % port],
                        capture_output=True, text=True, timeout=60).stdout
                    n = int(re.search(r"(\d+) requests in", out).group(1))
                    res[who].append((n / 4.0, (cpu_s(p.pid) - c0) / n * 1e6))
        finally:
            for p, _ in ps.values():
                stop(p)
    for who, rows in res.items():
        print("%-8s req/s median %7.0f  muster CPU per request median %6.2f us  rounds %s" % (
            who, statistics.median(x[0] for x in rows), statistics.median(x[1] for x in rows),
            " ".join("%.2f" % x[1] for x in rows)))
    ratio = statistics.median(x[1] for x in res["this"]) / statistics.median(
        x[1] for x in res["baseline"])
    print("CPU per request: %.3fx the baseline's" % ratio)


if __name__ == "__main__":
    main()
