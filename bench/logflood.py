"""Benchmark: the gateway while a neighbour service floods its output.

A service that logs as fast as it can (`yes`) shares muster's loop with
the gateway: muster reads and writes every line to the service's log.
Measured in the same run, rounds interleaved, `wrk -t1 -c8` GET on
/dummy/echo (one dummy_service instance):

  quiet    no flooding service
  devnull  the same `yes`, writing to /dev/null (the CPU it takes, no log)
  captured the same `yes`, its output captured into logs/flood.log

The ratio captured/devnull is what the capture itself costs the gateway
(the machine's CPU shared alike). Medians of BENCH_ROUNDS rounds (3)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
from musterproc import free_port, wait_http  # noqa: E402
sys.path.insert(0, HERE)
from benchlib import median, stop as stop_proc  # noqa: E402
from gateway import wrk  # noqa: E402

BIN = os.environ.get("MUSTER_BIN_DIR", os.path.join(HERE, "..", "build", "bin"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
LINE = "a fairly long line of debug output that a chatty service writes"
DUMMY = os.path.join(os.path.abspath(BIN), "dummy_service")


def run(mode):
    d = tempfile.mkdtemp(prefix="muster-bench-flood-")
    port = free_port()
    services = [{"name": "dummy", "command": ["dummy_service"], "routes": ["/dummy"]}]
    # yes beside a dummy_service that keeps the instance ready (fd 3 is
    # its channel); a stop ends the whole process group, yes with it
    if mode == "devnull":
        services.append({"name": "flood", "command": [
            "sh", "-c", "yes '%s' >/dev/null & exec %s" % (LINE, DUMMY)]})
    elif mode == "captured":
        services.append({"name": "flood", "command": [
            "sh", "-c", "yes '%s' & exec %s" % (LINE, DUMMY)]})
    cfg = {"gateway": {"listen": "127.0.0.1:%d" % port, "access_log": None},
           "control": {"socket": "m.sock"},
           "logs": {"dir": "logs", "max_bytes": 64 << 20, "keep": 1},
           "services": services}
    with open(os.path.join(d, "m.json"), "w") as f:
        json.dump(cfg, f)
    p = subprocess.Popen([os.path.join(BIN, "muster"), "-c", os.path.join(d, "m.json")],
                         stderr=subprocess.DEVNULL, cwd=d)
    try:
        wait_http(port, "/healthz")  # 200 once every instance is ready
        wrk("http://127.0.0.1:%d/dummy/echo" % port, duration="1s")  # warm-up, the flood going
        r = wrk("http://127.0.0.1:%d/dummy/echo" % port)
        logs = os.path.join(d, "logs")
        logged = sum(os.path.getsize(os.path.join(logs, n)) for n in os.listdir(logs)
                     if n.startswith("flood.log"))
        return r, logged
    finally:
        stop_proc(p)
        shutil.rmtree(d, ignore_errors=True)


def main():
    modes = ("quiet", "devnull", "captured")
    res = {k: [] for k in modes}
    logged = []
    for i in range(ROUNDS):
        for mode in modes:
            r, n = run(mode)
            res[mode].append(r)
            if mode == "captured":
                logged.append(n)
            print("  round %d %-8s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms"
                  % (i + 1, mode, r["rps"], r["p50"], r["p99"]), flush=True)
    rps = {k: median([r["rps"] for r in v]) for k, v in res.items()}
    p99 = {k: median([r["p99"] for r in v]) for k, v in res.items()}
    print("median req/s: quiet %.0f, devnull %.0f, captured %.0f; captured/devnull %.2fx; "
          "p99 ms: %.2f, %.2f, %.2f; flood.log* after a round: %.0f MB"
          % (rps["quiet"], rps["devnull"], rps["captured"], rps["captured"] / rps["devnull"],
             p99["quiet"], p99["devnull"], p99["captured"], median(logged) / 1e6))


if __name__ == "__main__":
    main()
