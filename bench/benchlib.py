"""What the benchmarks share: the machine's CPU steal over a run, medians,
MET / NOT MET, a process's CPU time, and stopping a server by pid."""
import os
import signal
import subprocess


def read_stat():
    """The aggregate `cpu` line of /proc/stat (jiffies per state)."""
    with open("/proc/stat") as f:
        return [int(v) for v in f.readline().split()[1:]]


def steal_pct(a, b):
    """Percentage of CPU time the hypervisor gave to other guests between
    two read_stat() samples."""
    d = [y - x for x, y in zip(a, b)]
    return 100.0 * d[7] / max(1, sum(d[:8])) if len(d) > 7 else 0.0


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def met(ok):
    return "MET" if ok else "NOT MET"


def cpu_s(pid):
    """User + system CPU time of pid (all its threads), seconds; 0 when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(p, timeout=20):
    """Stops the process p (a Popen) by its pid: SIGTERM, then SIGKILL."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


NGINX_HEAD = """worker_processes 1;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path %(d)s;
"""


def nginx_argv(d, http_body):
    """Writes d/nginx.conf (one worker; its pid, logs and temporary files in
    d; the lines of http_body inside `http { }`) and returns the command
    that runs nginx on it in the foreground."""
    conf = os.path.join(d, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_HEAD % {"d": d} + http_body + "}\n")
    return ["nginx", "-c", conf, "-p", d, "-g", "daemon off;"]
