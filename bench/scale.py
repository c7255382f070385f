#!/usr/bin/env python3
"""Benchmark: muster supervising many idle instances (issue 17).

Starts the release muster with one service of N idle `dummy_service`
instances (default 1000, heartbeat_ms 1000: one ping per instance per
second), waits until every instance is ready and the start-up has settled,
then measures:

  idle CPU    muster's utime + stime over BENCH_SECONDS (default 20) from
              /proc/PID/stat, as a percentage of one core;
  status      the latency of a full `status` (every instance) on the
              control socket: the median (and max) of 20, one at a time;
  RSS         muster's VmRSS with N instances minus its VmRSS with 1
              (a second run), divided by N - 1: what one instance costs
              in muster.

  floor       bench/scale_floor.c (compiled with cc): the same pings and
              pongs with nothing but the system calls, no supervisor: what
              the machine itself charges for them.

  bench/scale.py [--bin DIR] [--baseline DIR [--baseline-label L]]
                 [--instances N] [--seconds S] [--rounds R]

DIR defaults to $MUSTER_BIN_DIR, then build/bin; --baseline measures
another build in the same run (rounds interleave the builds). Each instance
holds three fds in muster (its channel and two output pipes): the soft
RLIMIT_NOFILE of muster is raised to the hard limit for the run."""
import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT_BIN = os.environ.get("MUSTER_BIN_DIR",
                             os.path.join(os.path.dirname(__file__), "..", "build", "bin"))
HZ = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    """utime + stime of pid, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


class Host:
    """One muster with n idle instances in a temp dir."""

    def __init__(self, bin_dir, n):
        self.dir = tempfile.mkdtemp(prefix="muster-scale-")
        self.sock = os.path.join(self.dir, "muster.sock")
        cfg = {"gateway": {"listen": "127.0.0.1:%d" % free_port(), "access_log": None},
               "control": {"socket": "muster.sock"}, "logs": {"dir": "logs"},
               "services": [{"name": "idle", "command": ["dummy_service"], "instances": n,
                             "heartbeat_ms": 1000, "ready_timeout_ms": 60000}]}
        path = os.path.join(self.dir, "muster.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        self.n = n
        self.proc = subprocess.Popen([os.path.join(bin_dir, "muster"), "-c", path],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, cwd=self.dir,
                                     preexec_fn=raise_nofile)

    def request(self, req):
        deadline = time.monotonic() + 30
        while True:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.sock)
                break
            except OSError:
                s.close()
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise
                time.sleep(0.05)
        with s:
            s.sendall((json.dumps(req) + "\n").encode())
            return json.loads(s.makefile("rb").readline())

    def wait_all_ready(self, timeout=300):
        """Polls status (nothing else to wait on from outside) until every
        instance is ready; the interval only spaces the polls."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.request({"cmd": "status"})
            ready = sum(i["state"] == "ready" for s in r["services"] for i in s["instances"])
            if ready == self.n:
                return
            time.sleep(0.5)
        raise SystemExit(f"only {ready} of {self.n} instances ready after {timeout} s")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["rm", "-rf", self.dir])


def measure(bin_dir, n, seconds):
    host = Host(bin_dir, n)
    try:
        host.wait_all_ready()
        time.sleep(3)  # let the start-up (log writes, first pings) settle
        t0, c0 = time.monotonic(), cpu_ticks(host.proc.pid)
        time.sleep(seconds)
        t1, c1 = time.monotonic(), cpu_ticks(host.proc.pid)
        cpu = (c1 - c0) / HZ / (t1 - t0) * 100
        lat = []
        for _ in range(20):
            s = time.perf_counter()
            r = host.request({"cmd": "status"})
            lat.append((time.perf_counter() - s) * 1000)
            assert r["ok"] and len(r["services"][0]["instances"]) == n
        return cpu, lat, rss_kb(host.proc.pid)
    finally:
        host.stop()


def floor(n, seconds):
    """CPU % of bench/scale_floor.c: the same pings with nothing but the
    system calls. None when there is no C compiler."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "scale_floor.c")
    d = tempfile.mkdtemp(prefix="muster-floor-")
    try:
        exe = os.path.join(d, "scale_floor")
        if subprocess.run(["cc", "-O2", "-o", exe, src], capture_output=True).returncode != 0:
            return None
        out = subprocess.run([exe, str(n), str(int(seconds))], capture_output=True, text=True,
                             preexec_fn=raise_nofile, timeout=seconds + 120).stdout
        return float(out.strip())
    finally:
        subprocess.run(["rm", "-rf", d])


def report(label, bin_dir, n, runs, rss_1):
    cpus = [r[0] for r in runs]
    lat = [x for r in runs for x in r[1]]
    rss_n = statistics.median(r[2] for r in runs)
    per = (rss_n - rss_1) / max(n - 1, 1)
    print(f"  {label:<10} idle CPU {statistics.median(cpus):5.2f} % of a core "
          f"(rounds: {' '.join('%.2f' % c for c in cpus)}); status median "
          f"{statistics.median(lat):6.2f} ms, max {max(lat):6.2f} ms; RSS {rss_n / 1024:.1f} MiB "
          f"with {n}, {rss_1 / 1024:.1f} MiB with 1: {per:.1f} KiB per instance  [{bin_dir}]")
    return statistics.median(cpus), statistics.median(lat)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=DEFAULT_BIN)
    ap.add_argument("--baseline", help="another build's bin dir, measured in the same run")
    ap.add_argument("--baseline-label", default="baseline")
    ap.add_argument("--label", default="muster")
    ap.add_argument("--instances", type=int, default=int(os.environ.get("BENCH_INSTANCES", 1000)))
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 20)))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 1)))
    a = ap.parse_args()
    builds = [(a.label, os.path.abspath(a.bin))]
    if a.baseline:
        builds.append((a.baseline_label, os.path.abspath(a.baseline)))
    runs = {label: [] for label, _ in builds}
    floors = []
    for _ in range(a.rounds):  # interleaved: the machine's mood hits every build alike
        for label, bin_dir in builds:
            runs[label].append(measure(bin_dir, a.instances, a.seconds))
        f = floor(a.instances, a.seconds)
        if f is not None:
            floors.append(f)
    print(f"scale: {a.instances} idle dummy_service instances, heartbeat_ms 1000, "
          f"{a.seconds:.0f} s per reading, {a.rounds} round(s)")
    results = {}
    for label, bin_dir in builds:
        _, _, rss_1 = measure(bin_dir, 1, 2)
        results[label] = report(label, bin_dir, a.instances, runs[label], rss_1)
    if floors:
        print(f"  {'floor':<10} idle CPU {statistics.median(floors):5.2f} % of a core (rounds: "
              f"{' '.join('%.2f' % f for f in floors)}): bench/scale_floor.c, the same pings and "
              f"pongs with nothing but the system calls")
    cpu, lat = results[a.label]
    print(f"  targets: idle CPU < 1 %: {'MET' if cpu < 1 else 'MISSED'}; "
          f"status < 20 ms: {'MET' if lat < 20 else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
