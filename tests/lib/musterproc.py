"""Start the real `muster` binary on a temp dir and watch what it does.

Used by the integration tests. muster logs one line per event to stderr;
a reader thread queues those lines so tests can wait for an event (a line
matching a pattern) instead of sleeping. Every process a test starts is
stopped by it: Muster is a context manager, and stop() kills what is left.
"""
import json
import os
import queue
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time

BIN = os.environ.get("MUSTER_BIN_DIR", os.path.join(os.path.dirname(__file__), "../../build/bin"))
SRC = os.environ.get("MUSTER_SRC_DIR", os.path.join(os.path.dirname(__file__), "../.."))

# Generous limits: the suite runs under ASan on a loaded 2-core machine.
# They bound how long a test may fail, never how long a step waits.
TIMEOUT = float(os.environ.get("MUSTER_TEST_TIMEOUT", "30"))


def bin_path(name):
    return os.path.join(BIN, name)


def pid_alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except FileNotFoundError:
        return False


def wait_pid_gone(pid, timeout=TIMEOUT):
    """Waits for a process we are not the parent of to end (pidfd: an event)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        deadline = time.monotonic() + timeout
        while pid_alive(pid):
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            # Readable when the process exits; a zombie counts as gone.
            select.select([fd], [], [], min(left, 1.0))
        return True
    finally:
        os.close(fd)


def service(name, command, **kw):
    """A service entry of the config with fast test-friendly defaults."""
    s = {"name": name, "command": command, "instances": kw.pop("instances", 1),
         "ready_timeout_ms": kw.pop("ready_timeout_ms", 5000),
         "heartbeat_ms": kw.pop("heartbeat_ms", 200),
         "heartbeat_misses": kw.pop("heartbeat_misses", 3),
         "stop_timeout_ms": kw.pop("stop_timeout_ms", 2000)}
    s.update(kw)
    return s


class Muster:
    """One muster process with its own temp dir, config and log reader."""

    def __init__(self, services, **top):
        self.dir = tempfile.mkdtemp(prefix="muster-test-")
        self.config = {"gateway": {"listen": "127.0.0.1:%d" % free_port()},
                       "control": {"socket": "run/muster.sock"},
                       "logs": {"dir": "logs"}, "services": services}
        self.config.update(top)
        self.config_path = os.path.join(self.dir, "muster.json")
        self.write_config()
        self.lines = queue.Queue()
        self.history = []
        self.proc = None

    def write_config(self, config=None):
        with open(self.config_path, "w") as f:
            json.dump(config or self.config, f, indent=2)

    def start(self, extra_env=None, wrap=None, pass_fds=()):
        """Starts muster; wrap: a command line that runs it (it must exec
        muster, keeping the pid), such as unshare; pass_fds: descriptors
        the wrapper (or muster) inherits."""
        env = dict(os.environ)
        env.update(extra_env or {})
        env["PATH"] = BIN + ":" + env.get("PATH", "")
        self.proc = subprocess.Popen((wrap or []) + [bin_path("muster"), "-c", self.config_path],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env, cwd=self.dir,
                                     pass_fds=pass_fds)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        return self

    def _read(self):
        for raw in self.proc.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.put(line)
        self.lines.put(None)

    def expect(self, pattern, timeout=TIMEOUT):
        """Waits for the next log line matching pattern; returns the match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no log line matching %r within %.0f s; log:\n%s"
                                     % (pattern, timeout, "\n".join(self.history[-40:])))
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError("muster exited (code %s) before %r; log:\n%s"
                                     % (self.proc.wait(), pattern, "\n".join(self.history[-40:])))
            self.history.append(line)
            m = rx.search(line)
            if m:
                return m

    def seen_or_expect(self, pattern, timeout=TIMEOUT):
        """Like expect, but also accepts a line already read (for events whose
        order relative to the ones awaited before is not fixed)."""
        rx = re.compile(pattern)
        for line in self.history:
            m = rx.search(line)
            if m:
                return m
        return self.expect(pattern, timeout)

    def spawned_pid(self, label, timeout=TIMEOUT):
        """Waits for `label: spawn` and returns the pid."""
        m = self.expect(re.escape(label) + r": spawn: spawned pid (\d+)", timeout)
        return int(m.group(1))

    def ready(self, label, timeout=TIMEOUT):
        return self.expect(re.escape(label) + r": ready: ", timeout)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def wait(self, timeout=TIMEOUT):
        """Waits for muster to exit, draining its log; returns the exit code."""
        code = self.proc.wait(timeout)
        self.reader.join(timeout)
        self.exit_code = code
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.history.append(line)
        return code

    def log_text(self):
        return "\n".join(self.history)

    def stop(self):
        """Stops muster (gracefully, then by force) and removes the temp dir.
        Fails when muster or one of its instances reported a sanitizer error
        (ASan/UBSan/LSan: muster's stderr, or an instance exit code 86, the
        exit code the test environment gives sanitizers), or when a muster
        stopped by SIGTERM did not exit 0."""
        problem = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.wait(TIMEOUT)
                if code != 0:
                    problem = "muster exited %s after SIGTERM" % code
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                problem = "muster did not exit within %.0f s of SIGTERM" % TIMEOUT
        if self.proc:
            if self.proc.poll() is not None and self.proc.returncode == 86:
                problem = "muster reported a sanitizer error (exit 86)"
            self.reader.join(TIMEOUT)
            self.proc.stderr.close()
        log = self.log_text()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "exited with code 86"):
            if marker in log:
                problem = "sanitizer report in muster's log (%s)" % marker
        shutil.rmtree(self.dir, ignore_errors=True)
        if problem:
            raise AssertionError(problem + "; log:\n" + "\n".join(self.history[-60:]))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def end_process(p, timeout=TIMEOUT):
    """Stops the Popen p: SIGTERM, then SIGKILL when it has not exited
    within timeout; waits for it either way."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def recv_all(s):
    """Every byte the socket s receives until the peer closes."""
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


_GIVEN_PORTS = set()


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago and that this
    process has not handed out before: two picks in a row (a gateway's and
    an admin listener's) may otherwise get the same port from the kernel.
    The ports tried stay bound until the pick, so each try is a new one."""
    import socket
    held = []
    try:
        for _ in range(100):
            s = socket.socket()
            held.append(s)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
            if port not in _GIVEN_PORTS:
                _GIVEN_PORTS.add(port)
                return port
        raise RuntimeError("no free port that was not handed out before")
    finally:
        for s in held:
            s.close()


def wait_http(port, path, timeout=20, host="127.0.0.1", tls=None):
    """Waits until GET path on host:port answers 200 (a server just started:
    polled, bounded by timeout). tls: an ssl.SSLContext to speak HTTPS with
    (server name "localhost")."""
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=1) as raw:
                s = tls.wrap_socket(raw, server_hostname="localhost") if tls else raw
                with s:
                    s.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close"
                               "\r\n\r\n" % path).encode())
                    if s.recv(100).startswith(b"HTTP/1.1 200"):
                        return
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError("nothing answered 200%s on port %d %s"
                       % (" over TLS" if tls else "", port, path))


# ---- Control socket and HTTP helpers (issue 5 tests) ----

def ctl_connect(m):
    """A connected control socket of muster m (waits for it to listen)."""
    import socket
    path = os.path.join(m.dir, m.config["control"]["socket"])
    m.seen_or_expect(r"control: listening on ")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    s.connect(path)
    return s


class CtlConn:
    """One control connection: send a request, read reply lines."""

    def __init__(self, m):
        self.sock = ctl_connect(m)
        self.buf = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def recv(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("control connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, **req):
        self.send_raw((json.dumps(req) + "\n").encode())
        return self.recv()

    def close(self):
        self.sock.close()


def ctl(m, **req):
    """One request on a fresh connection; returns the reply."""
    c = CtlConn(m)
    try:
        return c.cmd(**req)
    finally:
        c.close()


def gateway_addr(m):
    host, port = m.config["gateway"]["listen"].rsplit(":", 1)
    return host, int(port)


def http_get(m, path, addr=None, timeout=TIMEOUT):
    """(status, headers, body) of GET path on the gateway (or addr)."""
    import http.client
    host, port = addr or gateway_addr(m)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read()
    finally:
        conn.close()


class Load:
    """n clients sending GET path over keep-alive connections until stopped;
    counts answers by status and failures (exceptions)."""

    def __init__(self, m, path, n=8):
        self.m, self.path, self.n = m, path, n
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.statuses = {}
        self.errors = []
        self.pids = set()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(n)]

    def _run(self):
        import http.client
        host, port = gateway_addr(self.m)
        conn = None
        while not self.stop_flag.is_set():
            try:
                if conn is None:
                    conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
                conn.request("GET", self.path)
                r = conn.getresponse()
                body = r.read()
                with self.cond:
                    self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
                    self.cond.notify_all()
                    if r.status == 200:
                        try:
                            self.pids.add(json.loads(body)["pid"])
                        except (ValueError, KeyError):
                            pass
                if r.getheader("connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except Exception as e:  # noqa: BLE001 - every failure is counted
                with self.lock:
                    self.errors.append(repr(e))
                if conn:
                    conn.close()
                conn = None
        if conn:
            conn.close()

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def total(self):
        with self.lock:
            return sum(self.statuses.values())

    def wait_for(self, count, timeout=TIMEOUT):
        """Waits until at least count answers were received."""
        with self.cond:
            ok = self.cond.wait_for(lambda: sum(self.statuses.values()) >= count, timeout)
        if not ok:
            raise AssertionError("load made only %d requests" % self.total())

    def stop(self):
        self.stop_flag.set()
        for t in self.threads:
            t.join(TIMEOUT)
        return self


# ---- Process figures (chaos and soak tests) ----

def fd_count(pid):
    """Open file descriptors of pid."""
    return len(os.listdir("/proc/%d/fd" % pid))


def rss_kb(pid):
    """Resident memory of pid, kB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def zombies_of(pid):
    """pids of zombie children of pid."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if fields[0] == "Z" and int(fields[1]) == pid:
                    out.append(int(d))
            except (FileNotFoundError, ProcessLookupError, IndexError):
                pass
    return out


def no_quarantine_env():
    """Environment for a muster whose RSS a test measures: ASan otherwise
    keeps freed memory in a quarantine, hiding whether it was released."""
    return {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
            ":quarantine_size_mb=0:allocator_release_to_os_interval_ms=0"}


# ---- Chaos helpers: process trees, bounded polls, followed service logs ----

def proc_stat(pid):
    """(state, ppid, pgid, starttime) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[0], int(fields[1]), int(fields[2]), int(fields[19])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


def descendants(pid):
    """{pid: starttime} of every live (non-zombie) descendant of pid."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[0] != "Z":
                children.setdefault(st[1], []).append((int(d), st[3]))
    out, todo = {}, [pid]
    while todo:
        for child, start in children.get(todo.pop(), []):
            if child not in out:
                out[child] = start
                todo.append(child)
    return out


def stop_clean(m, timeout=TIMEOUT):
    """Sends SIGTERM to muster and waits for it. Returns (exit code, left):
    left lists the processes that were muster's descendants before the
    signal, or members of their process groups, and are still alive (same
    pid and start time, not a zombie) once muster has exited."""
    before = descendants(m.proc.pid)
    groups = {st[2] for st in map(proc_stat, before) if st}
    m.signal(signal.SIGTERM)
    code = m.wait(timeout)
    left = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            pid = int(d)
            st = proc_stat(pid)
            if st is None or st[0] == "Z":
                continue
            if before.get(pid) == st[3] or (st[2] in groups and st[2] != os.getpgrp()):
                left.append(pid)
    return code, left


def poll_until(pred, timeout=TIMEOUT, interval=0.05, what="condition"):
    """Polls pred() (reading /proc, files or status: things with no event to
    wait on) until it returns a true value, which is returned; fails after
    timeout. The interval only spaces the polls."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError("%s not reached within %.0f s (last: %r)" % (what, timeout, v))
        time.sleep(interval)


class LogFollow:
    """`logs SERVICE follow` on the control socket: waits for lines a
    service writes to its stdout/stderr from now on, as muster captures
    them (the last line already in the file is not looked at)."""

    def __init__(self, m, service):
        self.conn = CtlConn(m)
        reply = self.conn.cmd(cmd="logs", service=service, lines=1, follow=True)
        assert reply.get("ok"), reply
        self.backlog = []
        self.seen = []

    def expect(self, pattern):
        """The match of the next followed line matching pattern."""
        rx = re.compile(pattern)
        while True:
            if self.backlog:
                line = self.backlog.pop(0)
            else:
                line = self.conn.recv()["line"]
            self.seen.append(line)
            mt = rx.search(line)
            if mt:
                return mt

    def close(self):
        self.conn.close()


def survivors(before):
    """Of a descendants() snapshot taken while muster ran, the processes
    still alive (same pid and start time, not a zombie), plus any live
    process in their process groups: what muster left behind."""
    groups = {st[2] for st in map(proc_stat, before) if st} - {os.getpgrp()}
    left = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[0] != "Z" and (before.get(int(d)) == st[3] or st[2] in groups):
                left.append(int(d))
    return left
