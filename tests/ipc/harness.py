"""Helpers for the IPC integration tests (SPEC section 3).

A `Child` is one service process spawned the way muster spawns an instance:
its end of an AF_UNIX socketpair is fd 3, stdin is /dev/null, stdout and
stderr go to a temporary file, and the environment carries MUSTER_CHANNEL_FD,
NODE_CHANNEL_FD, NODE_CHANNEL_SERIALIZATION_MODE, MUSTER_SERVICE and
MUSTER_INSTANCE. The test talks to it with newline-delimited JSON.

Rules the helpers follow (and tests should too):
  * timeouts are failure limits only; synchronisation is always on a message
    or on process exit (a pidfd), never on time.sleep;
  * every child is stopped and reaped, and every fd closed, when the test
    ends (`ChildTestCase.spawn` registers the cleanup);
  * a child's stderr is printed when its test fails, and a sanitizer report
    in it fails the test.

Standard library only (Debian's /usr/bin/python3).
"""

import base64
import fcntl
import json
import os
import select
import signal
import socket
import sys
import tempfile
import time
import unittest

SRC_DIR = os.environ.get("MUSTER_SRC_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BIN_DIR = os.environ.get("MUSTER_BIN_DIR") or os.path.join(SRC_DIR, "build", "bin")
NODE = os.environ.get("MUSTER_NODE", "")

# Failure limit for one wait (binaries are built with sanitizers: slow).
TIMEOUT = float(os.environ.get("MUSTER_TEST_TIMEOUT", "20"))

CHANNEL_FD = 3

# Text in a child's stderr that means a sanitizer found a bug.
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "WARNING: AddressSanitizer",
    "runtime error:",
    "SUMMARY: UndefinedBehaviorSanitizer",
)


class ChannelClosed(AssertionError):
    """The child closed its end of the channel (EOF) before the awaited message."""


class Timeout(AssertionError):
    """A failure limit expired while waiting for a message or an exit."""


class ProtocolError(AssertionError):
    """The child wrote something that is not a valid channel message."""


def bin_path(name):
    return os.path.join(BIN_DIR, name)


def _short(obj, limit=300):
    s = obj if isinstance(obj, str) else repr(obj)
    return s if len(s) <= limit else s[:limit] + "...(%d chars)" % len(s)


def _dup_high(fd):
    """A close-on-exec duplicate of fd numbered >= 10, so that the spawn's
    dup2 actions onto 0..3 can never clobber one another."""
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)


def header(resp, name):
    """A response header's value (case-insensitive name), arrays joined with ', '."""
    for k, v in (resp.get("headers") or {}).items():
        if k.lower() == name.lower():
            return ", ".join(v) if isinstance(v, list) else v
    return None


def body_bytes(resp):
    """The body of a response as bytes, whether sent as `body` or `body_base64`."""
    if "body_base64" in resp:
        return base64.b64decode(resp["body_base64"], validate=True)
    if "body" in resp:
        return resp["body"].encode("utf-8")
    return b""


def chunk_bytes(msg):
    """The data of a `chunk` message as bytes (`data` or `data_base64`)."""
    if "data_base64" in msg:
        return base64.b64decode(msg["data_base64"], validate=True)
    return msg.get("data", "").encode("utf-8")


class Child:
    """A service process with the channel on fd 3."""

    def __init__(self, argv, env=None, service="dummy", instance=0, cwd=None,
                 inherit_env=True):
        self.argv = list(argv)
        self.pid = None
        self.returncode = None
        self.sock = None
        self.pidfd = None
        self.received = []          # every message read, in order
        self._buf = bytearray()
        self._scan = 0              # bytes of _buf known to hold no newline
        self._eof = False

        full_env = dict(os.environ) if inherit_env else {}
        # Test knobs of the parent's environment must not leak into a child.
        for k in list(full_env):
            if k.startswith("DUMMY_"):
                del full_env[k]
        full_env.update({
            "MUSTER_CHANNEL_FD": str(CHANNEL_FD),
            "NODE_CHANNEL_FD": str(CHANNEL_FD),
            "NODE_CHANNEL_SERIALIZATION_MODE": "json",
            "MUSTER_SERVICE": str(service),
            "MUSTER_INSTANCE": str(instance),
        })
        if env:
            for k, v in env.items():
                if v is None:
                    full_env.pop(k, None)
                else:
                    full_env[k] = str(v)
        self.env = full_env

        self._log = tempfile.TemporaryFile(prefix="muster-test-stderr-")
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        child_fd = log_fd = -1
        try:
            child_fd = _dup_high(child.fileno())
            log_fd = _dup_high(self._log.fileno())
            child.close()
            actions = [
                (os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0),
                (os.POSIX_SPAWN_DUP2, log_fd, 1),
                (os.POSIX_SPAWN_DUP2, log_fd, 2),
                (os.POSIX_SPAWN_DUP2, child_fd, CHANNEL_FD),
            ]
            old_cwd = None
            if cwd is not None:
                old_cwd = os.getcwd()
                os.chdir(cwd)
            try:
                # setsigdef: like subprocess's restore_signals, undo Python's
                # SIG_IGN for SIGPIPE/SIGXFSZ, which exec would keep.
                self.pid = os.posix_spawn(
                    self.argv[0], self.argv, full_env, file_actions=actions,
                    setsigdef=(signal.SIGPIPE, signal.SIGXFSZ))
            finally:
                if old_cwd is not None:
                    os.chdir(old_cwd)
        except BaseException:
            parent.close()
            child.close()
            self._log.close()
            raise
        finally:
            for fd in (child_fd, log_fd):
                if fd >= 0:
                    os.close(fd)
        self.sock = parent
        self.sock.setblocking(False)
        try:
            self.pidfd = os.pidfd_open(self.pid)
        except (AttributeError, OSError):
            self.pidfd = None

    # ---- sending ----

    def send_raw(self, data):
        """Write bytes to the channel. Incoming data is read meanwhile, so a
        child blocked on writing to us can never deadlock a large send."""
        view = memoryview(bytes(data))
        deadline = time.monotonic() + TIMEOUT
        while view:
            if self.sock is None:
                raise AssertionError("channel already closed by the test")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout("send of %d bytes did not complete within %.0f s"
                              % (len(data), TIMEOUT))
            rlist = [self.sock] if not self._eof else []
            r, w, _ = select.select(rlist, [self.sock], [], remaining)
            if r:
                self._read_some()
            if w:
                try:
                    n = self.sock.send(view)
                except BlockingIOError:
                    continue
                view = view[n:]

    def send(self, obj, ensure_ascii=False):
        """Send one message: json.dumps(obj) + "\\n" (raw UTF-8 like Node's
        JSON.stringify unless ensure_ascii)."""
        self.send_raw((json.dumps(obj, ensure_ascii=ensure_ascii) + "\n").encode("utf-8"))

    def request(self, id, method, path, query="", body="", headers=None,
                prefix="/dummy", body_base64=None, remote="127.0.0.1:50000",
                send=True, ensure_ascii=False):
        """Build (and by default send) a SPEC section 3 `request` message.
        `path` is the full path as received (e.g. "/dummy/echo"); `body_base64`
        (bytes) replaces `body`. Returns the message dict."""
        msg = {
            "type": "request",
            "id": id,
            "method": method,
            "path": path,
            "query": query,
            "prefix": prefix,
            "headers": dict(headers or {}),
            "remote": remote,
        }
        if body_base64 is not None:
            msg["body_base64"] = base64.b64encode(body_base64).decode("ascii")
        else:
            msg["body"] = body
        if send:
            self.send(msg, ensure_ascii=ensure_ascii)
        return msg

    def ping(self, seq):
        self.send({"type": "ping", "seq": seq})

    def cancel(self, id):
        self.send({"type": "cancel", "id": id})

    def shutdown(self, deadline_ms=10000):
        self.send({"type": "shutdown", "deadline_ms": deadline_ms})

    # ---- receiving ----

    def _read_some(self):
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        except ConnectionResetError:
            data = b""
        if not data:
            self._eof = True
        else:
            self._buf += data

    def _pop(self):
        nl = self._buf.find(b"\n", self._scan)
        if nl < 0:
            self._scan = len(self._buf)
            return None
        line = bytes(self._buf[:nl])
        del self._buf[:nl + 1]
        self._scan = 0
        try:
            msg = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as e:
            raise ProtocolError("child sent a line that is not JSON (%s): %s"
                                % (e, _short(line)))
        if not isinstance(msg, dict) or not isinstance(msg.get("type"), str):
            raise ProtocolError("child sent a line that is not an object with a "
                                "string type: %s" % _short(line))
        self.received.append(msg)
        return msg

    def recv(self, timeout=TIMEOUT):
        """The next message. Raises Timeout after `timeout` seconds (a failure
        limit) and ChannelClosed at EOF."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self._pop()
            if msg is not None:
                return msg
            if self._eof:
                if self._buf:
                    raise ProtocolError("EOF after an unterminated line: %s"
                                        % _short(bytes(self._buf)))
                raise ChannelClosed("channel closed by the child (EOF); exit status %r"
                                    % self.poll())
            if self.sock is None:
                raise AssertionError("channel already closed by the test")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout("no message within %.1f s (last received: %s)"
                              % (timeout, _short(self.received[-3:])))
            r, _, _ = select.select([self.sock], [], [], remaining)
            if r:
                self._read_some()

    def recv_until(self, pred, timeout=TIMEOUT):
        """Messages up to and including the first one for which pred(msg) is
        true. Raises Timeout (with what was collected) if it does not come."""
        deadline = time.monotonic() + timeout
        got = []
        while True:
            try:
                msg = self.recv(max(0.0, deadline - time.monotonic()))
            except Timeout:
                raise Timeout("awaited message did not come within %.1f s; got %d "
                              "other(s): %s" % (timeout, len(got), _short(got, 600)))
            except ChannelClosed as e:
                raise ChannelClosed("%s; awaited message never came; got: %s"
                                    % (e, _short(got, 600)))
            got.append(msg)
            if pred(msg):
                return got

    def recv_response(self, id, timeout=TIMEOUT):
        """(response for id, messages received before it)."""
        got = self.recv_until(lambda m: m["type"] == "response" and m.get("id") == id,
                              timeout)
        return got[-1], got[:-1]

    def call(self, id, method, path, query="", body="", headers=None,
             prefix="/dummy", timeout=TIMEOUT, **kw):
        """Send a request and return its response (other messages are skipped
        and remain in self.received)."""
        self.request(id, method, path, query, body, headers, prefix, **kw)
        return self.recv_response(id, timeout)[0]

    def roundtrip_ping(self, seq, timeout=TIMEOUT):
        """Send a ping; return the messages received before its pong."""
        self.ping(seq)
        got = self.recv_until(lambda m: m["type"] == "pong" and m.get("seq") == seq,
                              timeout)
        return got[:-1]

    def drain(self, timeout=TIMEOUT):
        """Every message until EOF (the child closed the channel, usually by
        exiting)."""
        got = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                got.append(self.recv(max(0.0, deadline - time.monotonic())))
            except ChannelClosed:
                return got

    # ---- the channel and the process ----

    def close_channel(self):
        """Close the parent's end of the channel: the child reads EOF."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _reap(self, flags):
        if self.returncode is not None:
            return self.returncode
        try:
            pid, status = os.waitpid(self.pid, flags)
        except ChildProcessError:
            raise AssertionError("child %d was already reaped elsewhere" % self.pid)
        if pid == 0:
            return None
        self.returncode = os.waitstatus_to_exitcode(status)
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        return self.returncode

    def poll(self):
        """The exit code (negative signal number, as subprocess) or None if alive."""
        return self._reap(os.WNOHANG)

    def alive(self):
        return self.poll() is None

    def wait_exit(self, timeout=TIMEOUT):
        """Wait for the child to exit; return its exit code. Raises Timeout."""
        if self.returncode is not None:
            return self.returncode
        deadline = time.monotonic() + timeout
        while True:
            rc = self.poll()
            if rc is not None:
                return rc
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise Timeout("child %d (%s) did not exit within %.1f s"
                              % (self.pid, self.argv[0], timeout))
            if self.pidfd is not None:
                # The pidfd becomes readable when the process exits.
                select.select([self.pidfd], [], [], remaining)
            else:  # very old kernel: poll (fallback only)
                select.select([], [], [], min(remaining, 0.01))

    def kill(self, sig=signal.SIGKILL):
        """Signal the child if not yet reaped (a zombie is still ours: safe)."""
        if self.returncode is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def stderr_text(self):
        """What the child wrote to stdout/stderr so far (pread: the child's
        file offset is shared, so do not seek)."""
        if self._log is None or self._log.closed:
            return getattr(self, "_final_log", "")
        fd = self._log.fileno()
        size = os.fstat(fd).st_size
        return os.pread(fd, size, 0).decode("utf-8", "replace")

    def cleanup(self):
        """Kill (if alive) and reap the child, close every fd; return its log."""
        try:
            if self.returncode is None:
                self.kill(signal.SIGKILL)
                self.wait_exit(TIMEOUT)
        finally:
            self.close_channel()
            if self.pidfd is not None:
                os.close(self.pidfd)
                self.pidfd = None
            if self._log is not None and not self._log.closed:
                self._final_log = self.stderr_text()
                self._log.close()
        return self._final_log


def _open_fds():
    """{fd: what it points to} for this process (None if /proc is missing)."""
    try:
        dfd = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fds = {}
        for name in os.listdir(dfd):
            if name == str(dfd):
                continue
            try:
                fds[name] = os.readlink(name, dir_fd=dfd)
            except OSError:
                pass
        return fds
    finally:
        os.close(dfd)


class ChildTestCase(unittest.TestCase):
    """TestCase whose children are stopped, reaped and checked after each test.

    On a failure the children's stderr and last messages are printed; a
    sanitizer report in a child's stderr fails the test; an fd left open by
    the test fails it too."""

    # Set to False in a test (self.check_sanitizers = False) to skip the
    # sanitizer scan, e.g. when a test deliberately provokes one.
    check_sanitizers = True

    def setUp(self):
        super().setUp()
        self._children = []
        self._child_logs = []
        fds = _open_fds()
        # Registered first, so it runs last (after every child's cleanup).
        self.addCleanup(self._check_fds, fds)

    def spawn(self, argv, **kw):
        child = Child(argv, **kw)
        self._children.append(child)
        self.addCleanup(self._cleanup_child, child)
        return child

    def _cleanup_child(self, child):
        log = child.cleanup()
        self._child_logs.append((child, log))
        if self.check_sanitizers:
            for marker in SANITIZER_MARKERS:
                if marker in log:
                    self.fail("sanitizer report in the stderr of %s (pid %d):\n%s"
                              % (child.argv[0], child.pid, log[-20000:]))

    def _check_fds(self, before):
        after = _open_fds()
        if before is None or after is None:
            return
        leaked = sorted("%s -> %s" % (fd, target) for fd, target in after.items()
                        if before.get(fd) != target)
        if leaked:
            self.fail("test leaked fds: %s" % ", ".join(leaked))

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        ret = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            self._dump_children()
        return ret

    def _dump_children(self):
        out = sys.stderr
        for child, log in getattr(self, "_child_logs", []):
            out.write("\n----- %s: child %s (pid %s) exit %r -----\n"
                      % (self.id(), " ".join(child.argv), child.pid, child.returncode))
            out.write("last messages received: %s\n" % _short(child.received[-10:], 2000))
            tail = log[-20000:]
            out.write("stderr%s:\n%s\n" % (" (tail)" if len(log) > len(tail) else "", tail))
        out.flush()
