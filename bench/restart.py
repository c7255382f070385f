#!/usr/bin/env python3
"""Benchmark: kill -9 -> replacement ready latency, and muster's RSS.

Starts the release muster with 2 services x 2 instances, subscribes to its
event stream, then 100 times: SIGKILL one instance and time until its
replacement's `ready` event arrives. Baseline measured in the same run:
the floor, i.e. spawning dummy_service directly (fork+exec) and reading
its `ready` over a socketpair, with no supervisor in between.
Prints min/median/p99 and the ratio to the floor, then RSS figures."""
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "lib"))
from musterproc import free_port, rss_kb  # noqa: E402

BIN = os.environ.get("MUSTER_BIN_DIR", os.path.join(os.path.dirname(__file__), "..", "build", "bin"))
KILLS = int(os.environ.get("BENCH_KILLS", "100"))


def floor_ms(n=50):
    """Spawn dummy_service directly, time until `ready` arrives."""
    times = []
    for _ in range(n):
        a, b = socket.socketpair()
        t0 = time.perf_counter()
        p = subprocess.Popen([os.path.join(BIN, "dummy_service")], pass_fds=(b.fileno(),),
                             env={"MUSTER_CHANNEL_FD": str(b.fileno())},
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        b.close()
        line = a.makefile("rb").readline()
        times.append((time.perf_counter() - t0) * 1000)
        assert json.loads(line)["type"] == "ready"
        a.close()
        p.wait()
    return times


def summary(ts):
    ts = sorted(ts)
    return ts[0], statistics.median(ts), ts[min(len(ts) - 1, int(len(ts) * 0.99))]


def main():
    d = tempfile.mkdtemp(prefix="muster-bench-")
    svc = lambda name: {"name": name, "command": ["dummy_service"], "instances": 2,  # noqa: E731
                        "routes": ["/" + name],
                        # backoff of 1 ms: measure the restart path itself, not a delay we chose
                        "restart": {"backoff_initial_ms": 1, "backoff_max_ms": 1,
                                    "max_restarts": 100000, "window_s": 1}}
    cfg = {"gateway": {"listen": "127.0.0.1:%d" % free_port(),
                       "access_log": None},
           "control": {"socket": "muster.sock"}, "logs": {"dir": "logs"},
           "services": [svc("a"), svc("b")]}
    with open(os.path.join(d, "m.json"), "w") as f:
        json.dump(cfg, f)
    muster = subprocess.Popen([os.path.join(BIN, "muster"), "-c", os.path.join(d, "m.json")],
                              stderr=subprocess.DEVNULL, cwd=d)
    try:
        sock_path = os.path.join(d, "muster.sock")
        ev = connect(sock_path)
        ev.sendall(b'{"cmd":"events"}\n')
        evf = ev.makefile("rb")
        assert json.loads(evf.readline())["ok"]
        pids = wait_ready(sock_path, 4)
        time.sleep(0.5)  # let start-up settle before measuring memory
        rss_idle = rss_kb(muster.pid)
        lat = []
        for i in range(KILLS):
            svc_name, index = ("a", "b")[i % 2], (i // 2) % 2
            pid = pids[(svc_name, index)]
            t0 = time.perf_counter()
            os.kill(pid, signal.SIGKILL)
            while True:
                e = json.loads(evf.readline())
                if e["type"] == "ready" and e["service"] == svc_name and e["index"] == index:
                    lat.append((time.perf_counter() - t0) * 1000)
                    pids[(svc_name, index)] = e["pid"]
                    break
        rss_after = rss_kb(muster.pid)
        dummy_rss = rss_kb(pids[("a", 0)])
    finally:
        muster.send_signal(signal.SIGTERM)
        muster.wait(30)
    fl = floor_ms()
    mn, med, p99 = summary(lat)
    fmn, fmed, fp99 = summary(fl)
    print(f"restart latency (kill -9 -> replacement ready), {KILLS} kills:")
    print(f"  muster : min {mn:6.2f} ms  median {med:6.2f} ms  p99 {p99:6.2f} ms")
    print(f"  floor  : min {fmn:6.2f} ms  median {fmed:6.2f} ms  p99 {fp99:6.2f} ms  "
          "(fork+exec+ready with no supervisor)")
    print(f"  ratio  : median {med / fmed:4.2f}x the floor, p99 {p99 / fp99:4.2f}x")
    print(f"  targets: median <= 5 ms {'MET' if med <= 5 else 'MISSED'}, "
          f"p99 <= 20 ms {'MET' if p99 <= 20 else 'MISSED'}")
    print("memory (VmRSS):")
    print(f"  muster with 2 services x 2 instances: {rss_idle / 1024:.2f} MiB at start, "
          f"{rss_after / 1024:.2f} MiB after {KILLS} restarts "
          f"(target <= 4 MB {'MET' if rss_after <= 4096 else 'MISSED'})")
    print(f"  baseline, one dummy_service (libuv + cJSON, idle): {dummy_rss / 1024:.2f} MiB "
          f"(muster is {rss_after / max(dummy_rss, 1):.2f}x that)")


def connect(path):
    deadline = time.monotonic() + 10
    while True:
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            return s
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def wait_ready(path, n):
    while True:
        s = connect(path)
        s.sendall(b'{"cmd":"status"}\n')
        r = json.loads(s.makefile("rb").readline())
        s.close()
        pids = {(sv["name"], i["index"]): i["pid"] for sv in r["services"]
                for i in sv["instances"] if i["state"] == "ready"}
        if len(pids) == n:
            return pids
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(main())
