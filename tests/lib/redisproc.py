"""A redis-server of the test's own (Debian's redis-server): on 127.0.0.1
(or a given address), on a free port, without persistence, in a temp dir,
stopped by pid. Plus a tiny RESP client for what tests ask Redis."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from musterproc import TIMEOUT, end_process, free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def have_redis():
    return os.path.exists(REDIS_SERVER)


def resp(*args):
    """A command in RESP."""
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def _read_reply(f):
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise RuntimeError("bad reply %r" % line)


class Redis:
    """One redis-server process."""

    def __init__(self, host="127.0.0.1", port=None, wrap=None):
        self.host = host
        self.port = port or free_port()
        self.wrap = wrap or []
        self.dir = tempfile.mkdtemp(prefix="muster-redis-")
        self.proc = None

    @property
    def url(self):
        return "redis://%s:%d" % (self.host, self.port)

    def start(self, timeout=TIMEOUT):
        self.proc = subprocess.Popen(
            self.wrap + [REDIS_SERVER, "--bind", self.host, "--port", str(self.port),
                         "--save", "", "--appendonly", "no", "--dir", self.dir,
                         "--protected-mode", "no", "--logfile", os.path.join(self.dir, "log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.cmd("PING") == "PONG":
                    return self
            except OSError:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("redis-server exited: %s" % self.log())
            time.sleep(0.05)
        raise RuntimeError("redis-server did not answer within %s s" % timeout)

    def log(self):
        try:
            return open(os.path.join(self.dir, "log")).read()[-2000:]
        except OSError:
            return ""

    def cmd(self, *args, timeout=5):
        with socket.create_connection((self.host, self.port), timeout=timeout) as s:
            s.sendall(resp(*args))
            return _read_reply(s.makefile("rb"))

    def signal(self, sig):
        self.proc.send_signal(sig)

    def kill(self):
        """SIGKILL, and wait for it to be gone."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a stopped one cannot act on SIGTERM
            end_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
