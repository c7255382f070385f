#!/usr/bin/env python3
"""Benchmark: static files and gzip on the fly, muster (`static`,
`gateway.compression`) against nginx (1 worker: `root`, `sendfile`,
`gzip on` at the same level, types and minimum length), in the same run.

Three loads, `wrk -t1 -c64` each: a 16 KiB HTML page as it is, the same
page gzipped on the fly (accept-encoding: gzip), and a 1 MiB file (bytes
through). BENCH_ROUNDS rounds (default 5) run every server in turn; the
medians and the ratio muster / nginx are printed. The page is regular
text (not one byte repeated), so the compression does real work."""
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "lib"))
from musterproc import free_port, wait_http  # noqa: E402
sys.path.insert(0, HERE)
from benchlib import median, nginx_argv, stop  # noqa: E402

BIN = os.environ.get("MUSTER_BIN_DIR", os.path.join(HERE, "..", "build", "bin"))
DURATION = os.environ.get("BENCH_DURATION", "4s")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
LEVEL = 5
LOADS = [("page", "/page.html", []), ("page gzip", "/page.html", ["-H", "Accept-Encoding: gzip"]),
         ("1 MiB", "/big.bin", [])]


def make_site(d):
    """The files, readable by nginx's worker (it runs as another user when
    the bench runs as root; mkdtemp's directory is 0700)."""
    os.chmod(d, 0o755)
    www = os.path.join(d, "www")
    os.makedirs(www)
    rnd = random.Random(7)
    words = ["muster", "gateway", "instance", "route", "static", "service", "ready", "nginx"]
    text = "".join("<p>%s</p>\n" % " ".join(rnd.choice(words) for _ in range(12))
                   for _ in range(300))
    page = ("<!doctype html><html><body>\n" + text)[:16384].encode()
    with open(os.path.join(www, "page.html"), "wb") as f:
        f.write(page)
    with open(os.path.join(www, "big.bin"), "wb") as f:
        f.write(os.urandom(1 << 20))
    return www


def start_muster(d, www):
    port = free_port()
    cfg = {"gateway": {"listen": "127.0.0.1:%d" % port, "access_log": None,
                       "compression": {"level": LEVEL, "min_bytes": 1024}},
           "control": {"socket": os.path.join(d, "muster.sock")},
           "logs": {"dir": os.path.join(d, "logs")},
           "static": [{"prefix": "/", "root": www}]}
    path = os.path.join(d, "muster.json")
    with open(path, "w") as f:
        json.dump(cfg, f)
    p = subprocess.Popen([os.path.join(BIN, "muster"), "-c", path],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(port, "/page.html")
    return p, port


def start_nginx(d, www):
    port = free_port()
    body = """  sendfile on; tcp_nopush on; keepalive_requests 1000000;
  gzip on; gzip_comp_level %d; gzip_min_length 1024;
  include /etc/nginx/mime.types;
  server { listen 127.0.0.1:%d; root %s; }
""" % (LEVEL, port, www)
    nd = os.path.join(d, "nginx")
    os.makedirs(nd)
    p = subprocess.Popen(nginx_argv(nd, body), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    wait_http(port, "/page.html")
    return p, port


def wrk(port, path, extra):
    cmd = ["wrk", "-t1", "-c64", "-d" + DURATION, "--latency"] + extra + \
        ["http://127.0.0.1:%d%s" % (port, path)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    mb = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out)
    scale = {"B": 1 / 2 ** 20, "KB": 1 / 1024, "MB": 1, "GB": 1024}[mb.group(2)]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if bad:
        raise RuntimeError("wrk saw %s failed answers on %s" % (bad.group(1), path))
    return rps, float(mb.group(1)) * scale


def check_gzip(port):
    """The gzip load really gets gzip from this server."""
    out = subprocess.run(["curl", "-s", "-D", "-", "-o", "/dev/null", "-H",
                          "Accept-Encoding: gzip", "http://127.0.0.1:%d/page.html" % port],
                         capture_output=True, text=True, check=True).stdout.lower()
    if "content-encoding: gzip" not in out:
        raise RuntimeError("no gzip from port %d:\n%s" % (port, out))


def main():
    d = tempfile.mkdtemp(prefix="muster-bench-static-")
    www = make_site(d)
    servers = {"muster": start_muster(d, www), "nginx": start_nginx(d, www)}
    res = {(s, name): [] for s in servers for name, _, _ in LOADS}
    try:
        for _, port in servers.values():
            check_gzip(port)
        for r in range(ROUNDS):
            order = list(servers) if r % 2 == 0 else list(reversed(list(servers)))
            for name, path, extra in LOADS:
                for s in order:
                    res[(s, name)].append(wrk(servers[s][1], path, extra))
    finally:
        for p, _ in servers.values():
            stop(p)
        shutil.rmtree(d, ignore_errors=True)
    print("static files, wrk -t1 -c64 -d%s, %d rounds, medians (compression level %d)"
          % (DURATION, ROUNDS, LEVEL))
    print("%-10s %14s %14s %10s %14s" % ("load", "muster req/s", "nginx req/s", "ratio",
                                          "MiB/s m / n"))
    for name, _, _ in LOADS:
        m = [x[0] for x in res[("muster", name)]]
        n = [x[0] for x in res[("nginx", name)]]
        ratios = [a / b for a, b in zip(m, n)]
        mm = median([x[1] for x in res[("muster", name)]])
        nm = median([x[1] for x in res[("nginx", name)]])
        print("%-10s %14.0f %14.0f %9.2fx %7.0f / %.0f   (ratio per round: %s)"
              % (name, median(m), median(n), median(ratios), mm, nm,
                 " ".join("%.2f" % x for x in ratios)))


if __name__ == "__main__":
    main()
