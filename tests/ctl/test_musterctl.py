"""musterctl, the control client (SPEC sections 1 and 5).

Most tests run $MUSTER_BIN_DIR/musterctl against a fake control server: a
thread serving a Unix socket in a temp dir that records the request line it
receives and answers with canned bytes. They check the exact request sent,
the exit status, stdout (human text, or --json passed through byte for
byte) and stderr. Streaming tests hand the server its next step through a
threading.Event once musterctl has printed what came before, so nothing
sleeps; timeouts only bound how long a failing test takes. The last test
drives the real muster (with dummy_service) from the same folder.
"""
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from musterproc import BIN, TIMEOUT, Muster, service  # noqa: E402

MUSTERCTL = os.path.join(BIN, "musterctl")

OK = b'{"ok":true}\n'

STATUS = {
    "ok": True,
    "services": [
        {"name": "dummy", "state": "degraded", "restarts": 3, "instances": [
            {"index": 0, "pid": 1234, "state": "ready", "restarts": 0, "uptime_ms": 5230,
             "rss_bytes": 3145728, "cpu_percent": 12.5, "inflight": 2, "requests": 17,
             "last_exit": None},
            {"index": 1, "pid": 0, "state": "backoff", "restarts": 3, "uptime_ms": 0,
             "rss_bytes": 0, "inflight": 0, "requests": 4,
             "last_exit": {"code": -1, "signal": 9}},
            {"index": 2, "pid": 1240, "state": "starting", "restarts": 0, "uptime_ms": 192000,
             "rss_bytes": 1048576, "cpu_percent": 99.97, "inflight": 0, "requests": 0,
             "last_exit": {"code": 1, "signal": 0}},
        ]},
        {"name": "readmongo", "state": "running", "instances": [
            {"index": 0, "pid": 99999, "state": "ready", "restarts": 12,
             "uptime_ms": 266400000, "rss_bytes": 512, "cpu_percent": 0, "inflight": 0,
             "requests": 123456,
             "last_exit": None},
        ]},
    ],
}

STATUS_TABLE = """\
SERVICE    #    PID  STATE     UPTIME  RESTARTS     CPU   RSS  INFLIGHT  REQUESTS  LAST EXIT
dummy      -      -  degraded       -         3  112.5%  4.0M         2        21  -
dummy      0   1234  ready         5s         0   12.5%  3.0M         2        17  -
dummy      1      -  backoff        -         3       -     -         0         4  SIGKILL
dummy      2   1240  starting   3m12s         0    100%  1.0M         0         0  1
readmongo  -      -  running        -        12      0%  512B         0    123456  -
readmongo  0  99999  ready       3d2h        12      0%  512B         0    123456  -
"""

EXIT_EVENT = {"time": "2026-11-23T03:02:01.123Z", "type": "exit", "service": "dummy",
              "index": 1, "pid": 1234, "code": -1, "signal": 9,
              "detail": "killed by signal 9 (Killed)"}
EXIT_LINE = "03:02:01.123 dummy[1] exit killed by signal 9 (Killed)\n"
RELOAD_EVENT = {"time": "2026-11-23T03:02:02.000Z", "type": "reload", "service": None,
                "index": -1, "pid": 0, "code": -1, "signal": 0,
                "detail": "added: x; removed: ; changed: dummy"}
RELOAD_LINE = "03:02:02.000 muster reload added: x; removed: ; changed: dummy\n"
FAILED_EVENT = {"time": "2026-11-23T03:02:03.500Z", "type": "failed", "service": "dummy",
                "index": -1, "pid": 0, "code": 0, "signal": 0, "detail": ""}
FAILED_LINE = "03:02:03.500 dummy failed\n"


def line(obj):
    """obj as one JSON line, as the server sends it."""
    return (json.dumps(obj, separators=(",", ":")) + "\n").encode()


def base_env(**extra):
    """The environment for musterctl: ours without MUSTER_SOCKET, plus extra."""
    env = {k: v for k, v in os.environ.items() if k != "MUSTER_SOCKET"}
    env.update(extra)
    return env


def wait_event(ev):
    """A server step that waits until the test sets ev."""
    def step(conn):
        if not ev.wait(TIMEOUT):
            raise AssertionError("the test never released the server")
    return step


def until_client_closes(conn):
    """A server step that keeps the connection open until the client goes."""
    while conn.recv(4096):
        pass


def byte_by_byte(data):
    """A server step that sends data one byte per write."""
    def step(conn):
        for i in range(len(data)):
            conn.sendall(data[i:i + 1])
    return step


class FakeServer:
    """A control socket that accepts one connection, records the request
    line, then runs its steps: bytes are sent, callables get the
    connection. The connection is closed after the last step."""

    def __init__(self, steps, path=None):
        self.dir = tempfile.mkdtemp(prefix="ctl-test-")
        self.path = path or os.path.join(self.dir, "muster.sock")
        self.steps = steps
        self.requests = []   # each request line received, with its "\n"
        self.errors = []     # exceptions raised while serving
        self.client_gone = threading.Event()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return  # closed by the test: no client came
        with conn:
            try:
                buf = b""
                while b"\n" not in buf:
                    chunk = conn.recv(65536)
                    if not chunk:
                        self.errors.append("client closed before sending a request line")
                        return
                    buf += chunk
                req, rest = buf.split(b"\n", 1)
                self.requests.append(req + b"\n")
                if rest:
                    self.errors.append("bytes after the request line: %r" % rest)
                for step in self.steps:
                    if callable(step):
                        step(conn)
                    else:
                        conn.sendall(step)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client left early; tests that care check its output
            except Exception as e:  # noqa: BLE001 - reported by close()
                self.errors.append(repr(e))
            finally:
                self.client_gone.set()

    def close(self):
        """Stops listening (waking a pending accept), joins the thread and
        removes the temp dir. Returns the errors seen while serving."""
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(TIMEOUT)
        shutil.rmtree(self.dir, ignore_errors=True)
        return self.errors


def read_line(proc, timeout=TIMEOUT):
    """The next line proc prints on stdout (a bytes pipe, read unbuffered),
    or "" at its end; fails after timeout instead of hanging."""
    fd = proc.stdout.fileno()
    out = b""
    while not out.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], timeout)
        if not ready:
            raise AssertionError("musterctl printed no line within %.0f s (got %r)"
                                 % (timeout, out))
        b = os.read(fd, 1)
        if not b:
            break
        out += b
    return out.decode()


class CtlTestCase(unittest.TestCase):

    def setUp(self):
        self.assertTrue(os.access(MUSTERCTL, os.X_OK),
                        "musterctl not built: %s (MUSTER_BIN_DIR=%r)"
                        % (MUSTERCTL, os.environ.get("MUSTER_BIN_DIR")))
        self.servers = []

    def tearDown(self):
        for s in self.servers:
            self.assertEqual(s.close(), [], "the fake server saw errors")

    def server(self, *steps, path=None):
        s = FakeServer(list(steps), path)
        self.servers.append(s)
        return s

    def run_ctl(self, *args, env=None, cwd=None):
        """Runs musterctl to its end: (exit status, stdout, stderr) as text."""
        p = subprocess.run([MUSTERCTL] + list(args), stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=TIMEOUT, env=env or base_env(),
                           cwd=cwd)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def popen_ctl(self, *args):
        """Starts musterctl ARGS with stdout and stderr piped. SIGINT gets its
        default action back: a shell running the suite in the background
        ignores it, and musterctl keeps an ignored SIGINT ignored."""
        p = subprocess.Popen([MUSTERCTL] + list(args), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             env=base_env(), bufsize=0,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        self.addCleanup(self.reap, p)
        return p

    def reap(self, p):
        """Kills p if a failed test left it running, and closes its pipes."""
        if p.poll() is None:
            p.kill()
        p.communicate()

    def finish(self, p):
        """Waits for a Popen'd musterctl: (exit status, rest of stdout, stderr)."""
        out, err = p.communicate(timeout=TIMEOUT)
        return p.returncode, out.decode(), err.decode()

    def ctl(self, srv, *args):
        """Runs musterctl -s srv ARGS: (status, stdout, stderr)."""
        return self.run_ctl("-s", srv.path, *args)

    def assert_request(self, srv, expected):
        """The server received exactly one request, equal to expected (a dict,
        compared as JSON text with no spaces, the way musterctl writes it)."""
        want = (json.dumps(expected, separators=(",", ":")) + "\n").encode()
        self.assertEqual(srv.requests, [want])


# ---- Commands and their output ----

class CommandTest(CtlTestCase):

    def test_status_table(self):
        srv = self.server(line(STATUS))
        rc, out, err = self.ctl(srv, "status")
        self.assert_request(srv, {"cmd": "status"})
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, STATUS_TABLE)

    def test_status_of_one_service(self):
        one = {"ok": True, "services": STATUS["services"][1:]}
        srv = self.server(line(one))
        rc, out, err = self.ctl(srv, "status", "readmongo")
        self.assert_request(srv, {"cmd": "status", "service": "readmongo"})
        self.assertEqual((rc, err), (0, ""))
        rows = [r.split() for r in out.splitlines()]
        self.assertEqual(rows[0][:10], ["SERVICE", "#", "PID", "STATE", "UPTIME", "RESTARTS",
                                        "CPU", "RSS", "INFLIGHT", "REQUESTS"])
        self.assertEqual(rows[2], ["readmongo", "0", "99999", "ready", "3d2h", "12", "0%",
                                   "512B", "0", "123456", "-"])

    def test_status_no_services(self):
        srv = self.server(b'{"ok":true,"services":[]}\n')
        self.assertEqual(self.ctl(srv, "status"), (0, "no services\n", ""))

    def test_status_unknown_service_fails(self):
        srv = self.server(b'{"ok":false,"error":"no service \\"nope\\""}\n')
        rc, out, err = self.ctl(srv, "status", "nope")
        self.assert_request(srv, {"cmd": "status", "service": "nope"})
        self.assertEqual((rc, out, err), (1, "", 'musterctl: no service "nope"\n'))

    def test_json_passes_replies_through_byte_exact(self):
        raw = b'{ "ok" : true,"services":[ ],  "extra": "\\u00e9\xc3\xa9", "n": 1.50 }\n'
        srv = self.server(raw)
        p = subprocess.run([MUSTERCTL, "--json", "-s", srv.path, "status"],
                           capture_output=True, timeout=TIMEOUT, env=base_env())
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, raw, b""))

    def test_json_error_reply_exits_1(self):
        raw = b'{"ok":false,"error":"no service \\"x\\""}\n'
        srv = self.server(raw)
        rc, out, err = self.run_ctl("-s", srv.path, "stop", "x", "--json")
        self.assert_request(srv, {"cmd": "stop", "service": "x"})
        self.assertEqual((rc, out.encode()), (1, raw))
        self.assertEqual(err, 'musterctl: no service "x"\n')

    def test_start_stop_restart(self):
        for cmd, said in (("start", "starting"), ("stop", "stopping"),
                          ("restart", "restarted")):
            with self.subTest(cmd=cmd):
                srv = self.server(b'{"ok":true,"service":"dummy"}\n')
                rc, out, err = self.ctl(srv, cmd, "dummy")
                self.assert_request(srv, {"cmd": cmd, "service": "dummy"})
                self.assertEqual((rc, out, err), (0, "dummy: %s\n" % said, ""))

    def test_scale(self):
        srv = self.server(b'{"ok":true,"service":"dummy","instances":4}\n')
        rc, out, err = self.ctl(srv, "scale", "dummy", "4")
        self.assert_request(srv, {"cmd": "scale", "service": "dummy", "instances": 4})
        self.assertEqual((rc, out, err), (0, "dummy: scaling to 4 instances\n", ""))

    def test_scale_refused(self):
        srv = self.server(b'{"ok":false,"error":"scale: field \\"instances\\" must be an '
                          b'integer 0..1024"}\n')
        rc, out, err = self.ctl(srv, "scale", "dummy", "5000")
        self.assert_request(srv, {"cmd": "scale", "service": "dummy", "instances": 5000})
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, 'musterctl: scale: field "instances" must be an integer 0..1024\n')

    def test_service_name_is_escaped(self):
        name = 'we"ird\\name\u00e9'
        srv = self.server(line({"ok": True, "service": name}))
        rc, out, err = self.ctl(srv, "start", name)
        self.assertEqual(json.loads(srv.requests[0]), {"cmd": "start", "service": name})
        self.assertEqual(srv.requests[0], b'{"cmd":"start","service":"we\\"ird\\\\name'
                                          b'\xc3\xa9"}\n')
        self.assertEqual((rc, out, err), (0, name + ": starting\n", ""))

    def test_reload_with_changes(self):
        srv = self.server(b'{"ok":true,"added":["x","y"],"removed":[],"changed":["dummy"]}\n')
        rc, out, err = self.ctl(srv, "reload")
        self.assert_request(srv, {"cmd": "reload"})
        self.assertEqual((rc, out, err), (0, "reload: added x, y; changed dummy\n", ""))

    def test_reload_every_kind(self):
        srv = self.server(b'{"ok":true,"added":["a"],"removed":["b"],"changed":["c"]}\n')
        self.assertEqual(self.ctl(srv, "reload"),
                         (0, "reload: added a; removed b; changed c\n", ""))

    def test_reload_no_change(self):
        srv = self.server(b'{"ok":true,"added":[],"removed":[],"changed":[]}\n')
        self.assertEqual(self.ctl(srv, "reload"), (0, "reload: no service changed\n", ""))

    def test_reload_invalid_config_lists_problems(self):
        reply = {"ok": False, "error": "config invalid",
                 "problems": ["services[0].instances: must be 1..1024",
                              "muster.json:3:7: expected ','"]}
        srv = self.server(line(reply))
        rc, out, err = self.ctl(srv, "reload")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, "musterctl: config invalid\n"
                              "  services[0].instances: must be 1..1024\n"
                              "  muster.json:3:7: expected ','\n")

    def test_logs_default_lines(self):
        lines = ["2026-11-23T03:02:01.123Z dummy[0] out: hello",
                 "2026-11-23T03:02:01.124Z dummy[1] err: \u00e9 \x1b[1mbold"]
        srv = self.server(line({"ok": True, "lines": lines}))
        rc, out, err = self.ctl(srv, "logs", "dummy")
        self.assert_request(srv, {"cmd": "logs", "service": "dummy", "lines": 50})
        self.assertEqual((rc, out, err), (0, "\n".join(lines) + "\n", ""))

    def test_logs_n(self):
        srv = self.server(b'{"ok":true,"lines":[]}\n')
        self.assertEqual(self.ctl(srv, "logs", "dummy", "7"), (0, "", ""))
        self.assert_request(srv, {"cmd": "logs", "service": "dummy", "lines": 7})

    def test_logs_n_as_tail_takes_it(self):
        for args in (["logs", "dummy", "-n", "7"], ["-n", "7", "logs", "dummy"],
                     ["logs", "dummy", "--lines", "7"], ["logs", "--lines=7", "dummy"]):
            with self.subTest(args=args):
                srv = self.server(b'{"ok":true,"lines":[]}\n')
                self.assertEqual(self.ctl(srv, *args), (0, "", ""))
                self.assert_request(srv, {"cmd": "logs", "service": "dummy", "lines": 7})

    def test_shutdown(self):
        srv = self.server(OK)
        self.assertEqual(self.ctl(srv, "shutdown"), (0, "muster: shutting down\n", ""))
        self.assert_request(srv, {"cmd": "shutdown"})

    def test_version(self):
        srv = self.server(b'{"ok":true,"version":"0.1.0"}\n')
        self.assertEqual(self.ctl(srv, "version"), (0, "muster 0.1.0 (server)\n", ""))
        self.assert_request(srv, {"cmd": "version"})

    def test_error_without_message(self):
        srv = self.server(b'{"ok":false}\n')
        rc, out, err = self.ctl(srv, "shutdown")
        self.assertEqual((rc, out), (1, ""))
        self.assertRegex(err, r"^musterctl: .+\n$")

    def test_options_after_the_command(self):
        srv = self.server(b'{"ok":true,"version":"0.1.0"}\n')
        rc, out, err = self.run_ctl("version", "--json", "--socket", srv.path)
        self.assertEqual((rc, out, err), (0, '{"ok":true,"version":"0.1.0"}\n', ""))


# ---- Streams ----

class StreamTest(CtlTestCase):

    def test_events_print_as_they_arrive(self):
        go = threading.Event()
        srv = self.server(OK + line(EXIT_EVENT), wait_event(go),
                          line(RELOAD_EVENT) + line(FAILED_EVENT))
        p = self.popen_ctl("-s", srv.path, "events")
        self.assertEqual(read_line(p), EXIT_LINE)  # printed before the next is sent
        go.set()
        self.assertEqual(self.finish(p), (0, RELOAD_LINE + FAILED_LINE, ""))
        self.assert_request(srv, {"cmd": "events"})

    def test_events_json(self):
        go = threading.Event()
        raw = b'{"time":"2026-11-23T03:02:01.123Z" , "type":"spawn","service":"dummy",' \
              b'"index":0,"pid":7,"code":0,"signal":0,"detail":"spawned pid 7"}\n'
        srv = self.server(OK, wait_event(go), raw)
        p = self.popen_ctl("--json", "-s", srv.path, "events")
        self.assertEqual(read_line(p), OK.decode())
        go.set()
        self.assertEqual(self.finish(p), (0, raw.decode(), ""))

    def test_events_refused(self):
        srv = self.server(b'{"ok":false,"error":"too many listeners"}\n')
        self.assertEqual(self.ctl(srv, "events"), (1, "", "musterctl: too many listeners\n"))

    def test_sigint_ends_a_stream_quietly(self):
        srv = self.server(OK + line(EXIT_EVENT), until_client_closes)
        p = self.popen_ctl("-s", srv.path, "events")
        self.assertEqual(read_line(p), EXIT_LINE)
        p.send_signal(signal.SIGINT)
        self.assertEqual(self.finish(p), (0, "", ""))
        self.assertTrue(srv.client_gone.wait(TIMEOUT))

    def test_logs_follow(self):
        go = threading.Event()
        first = {"ok": True, "lines": ["old 1", "old 2"]}
        srv = self.server(line(first), wait_event(go),
                          line({"line": "new 1"}) + line({"line": "new 2"}))
        p = self.popen_ctl("-s", srv.path, "logs", "-f", "dummy", "2")
        self.assertEqual(read_line(p), "old 1\n")
        self.assertEqual(read_line(p), "old 2\n")
        go.set()
        self.assertEqual(self.finish(p), (0, "new 1\nnew 2\n", ""))
        self.assert_request(srv, {"cmd": "logs", "service": "dummy", "lines": 2,
                                  "follow": True})

    def test_logs_follow_long_option_and_json(self):
        msgs = line({"ok": True, "lines": ["a"]}) + line({"line": "b"})
        srv = self.server(msgs)
        rc, out, err = self.ctl(srv, "--json", "logs", "dummy", "--follow")
        self.assert_request(srv, {"cmd": "logs", "service": "dummy", "lines": 50,
                                  "follow": True})
        self.assertEqual((rc, out.encode(), err), (0, msgs, ""))

    def test_garbage_in_a_stream(self):
        srv = self.server(OK + line(EXIT_EVENT) + b"not json\n" + line(FAILED_EVENT))
        rc, out, err = self.ctl(srv, "events")
        self.assertEqual((rc, out), (1, EXIT_LINE))
        self.assertIn("invalid reply", err)

    def test_event_without_type(self):
        srv = self.server(OK + b'{"time":"x"}\n')
        rc, out, err = self.ctl(srv, "events")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("invalid reply", err)

    def test_error_in_a_stream(self):
        srv = self.server(line({"ok": True, "lines": []}),
                          b'{"ok":false,"error":"service removed"}\n')
        rc, out, err = self.ctl(srv, "logs", "dummy", "-f")
        self.assertEqual((rc, out, err), (1, "", "musterctl: service removed\n"))


# ---- Framing and garbage ----

class FramingTest(CtlTestCase):

    def test_reply_in_one_byte_writes(self):
        srv = self.server(byte_by_byte(line(STATUS)))
        self.assertEqual(self.ctl(srv, "status"), (0, STATUS_TABLE, ""))

    def test_many_messages_in_one_write(self):
        srv = self.server(OK + line(EXIT_EVENT) + line(RELOAD_EVENT) + line(FAILED_EVENT))
        self.assertEqual(self.ctl(srv, "events"),
                         (0, EXIT_LINE + RELOAD_LINE + FAILED_LINE, ""))

    def test_crlf_and_blank_lines(self):
        srv = self.server(b'\n\r\n{"ok":true,"version":"0.1.0"}\r\n')
        self.assertEqual(self.ctl(srv, "version"), (0, "muster 0.1.0 (server)\n", ""))

    def test_last_line_without_newline(self):
        srv = self.server(b'{"ok":true,"version":"0.1.0"}')
        self.assertEqual(self.ctl(srv, "version"), (0, "muster 0.1.0 (server)\n", ""))

    def test_only_the_first_reply_counts(self):
        srv = self.server(b'{"ok":true,"service":"a"}\n{"ok":false,"error":"x"}\n')
        self.assertEqual(self.ctl(srv, "start", "a"), (0, "a: starting\n", ""))

    def test_garbage_replies(self):
        cases = [b"hello\n", b"[1,2]\n", b'"ok"\n', b"{\"ok\":true\n", b'{"ok":1}\n',
                 b'{"error":"x"}\n', b'{"ok":true}\n', b'{"ok":true,"services":{}}\n',
                 b'{"ok":true,"services":[{"name":"a","instances":[1]}]}\n',
                 b'{"ok":true,"services":[7]}\n', b"\xff\xfe\n", b"{\"ok\":true,\x00}\n"]
        for raw in cases:
            with self.subTest(reply=raw):
                srv = self.server(raw)
                rc, out, err = self.ctl(srv, "status")
                self.assertEqual((rc, out), (1, ""))
                self.assertRegex(err, r"^musterctl: invalid reply from muster on .*: .+\n$")

    def test_garbage_fields_do_not_crash(self):
        weird = {"ok": True, "services": [
            {"name": "w", "state": 5, "restarts": "x", "instances": [
                {"index": "0", "pid": 1e300, "state": None, "uptime_ms": -5,
                 "rss_bytes": True, "inflight": [], "requests": {},
                 "last_exit": {"code": "x", "signal": -3}},
                {}, {"pid": 12, "last_exit": 4}]}]}
        srv = self.server(line(weird))
        rc, out, err = self.ctl(srv, "status")
        self.assertEqual((rc, err), (0, ""))
        self.assertIn("w", out)
        self.assertIn("?", out)

    def test_other_garbage_replies(self):
        cases = [("reload", b'{"ok":true,"added":"x"}\n'),
                 ("reload", b'{"ok":true,"changed":[1]}\n'),
                 ("version", b'{"ok":true}\n'),
                 ("logs", b'{"ok":true,"lines":[1]}\n'),
                 ("logs", b'{"ok":true}\n')]
        for cmd, raw in cases:
            with self.subTest(cmd=cmd, reply=raw):
                srv = self.server(raw)
                args = [cmd, "dummy"] if cmd == "logs" else [cmd]
                rc, out, err = self.ctl(srv, *args)
                self.assertEqual((rc, out), (1, ""))
                self.assertIn("invalid reply", err)

    def test_closed_without_reply(self):
        srv = self.server()
        rc, out, err = self.ctl(srv, "status")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("closed", err)
        self.assertIn(srv.path, err)

    def test_closed_in_the_middle_of_a_reply(self):
        srv = self.server(b'{"ok":true,"serv')
        rc, out, err = self.ctl(srv, "status")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("invalid reply", err)

    def test_reply_over_64_mib(self):
        big = b'{"ok":true,"lines":["' + b"a" * (64 << 20)

        def flood(conn):
            try:
                conn.sendall(big)
            except (BrokenPipeError, ConnectionResetError):
                pass  # musterctl gave up before the end, as it should
        srv = self.server(flood)
        rc, out, err = self.ctl(srv, "logs", "dummy")
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("longer than 64 MiB", err)


# ---- Socket, usage ----

class SocketTest(CtlTestCase):

    def version_server(self, path=None):
        return self.server(b'{"ok":true,"version":"0.1.0"}\n', path=path)

    def test_s_beats_env_beats_default(self):
        root = tempfile.mkdtemp(prefix="ctl-root-")
        self.addCleanup(shutil.rmtree, root, True)
        os.makedirs(os.path.join(root, "config", "run"))
        default = self.version_server(os.path.join(root, "config", "run", "muster.sock"))
        from_env = self.version_server()
        from_s = self.version_server()
        env = base_env(MUSTER_SOCKET=from_env.path)
        self.assertEqual(self.run_ctl("-s", from_s.path, "version", env=env, cwd=root)[0], 0)
        self.assertEqual(self.run_ctl("version", env=env, cwd=root)[0], 0)
        self.assertEqual(self.run_ctl("version", cwd=root)[0], 0)
        for s in (from_s, from_env, default):
            self.assertEqual(s.requests, [b'{"cmd":"version"}\n'])

    def test_empty_env_means_default(self):
        root = tempfile.mkdtemp(prefix="ctl-root-")
        self.addCleanup(shutil.rmtree, root, True)
        os.makedirs(os.path.join(root, "config", "run"))
        default = self.version_server(os.path.join(root, "config", "run", "muster.sock"))
        rc, out, _ = self.run_ctl("version", env=base_env(MUSTER_SOCKET=""), cwd=root)
        self.assertEqual((rc, out), (0, "muster 0.1.0 (server)\n"))
        self.assertEqual(len(default.requests), 1)

    def test_cannot_connect(self):
        d = tempfile.mkdtemp(prefix="ctl-none-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "muster.sock")
        rc, out, err = self.run_ctl("-s", path, "status")
        self.assertEqual((rc, out), (1, ""))
        first, hint = err.splitlines()
        self.assertEqual(first, "musterctl: cannot connect to %s: No such file or directory"
                         % path)
        self.assertIn("is muster running?", hint)
        rc, out, err = self.run_ctl("status", env=base_env(MUSTER_SOCKET=path))
        self.assertEqual((rc, err.splitlines()[0]), (1, first))
        self.assertIn("$MUSTER_SOCKET", err)

    def test_cannot_connect_to_the_default(self):
        d = tempfile.mkdtemp(prefix="ctl-none-")
        self.addCleanup(shutil.rmtree, d, True)
        rc, out, err = self.run_ctl("status", cwd=d)
        self.assertEqual((rc, out), (1, ""))
        lines = err.splitlines()
        self.assertEqual(lines[0], "musterctl: cannot connect to config/run/muster.sock: "
                                   "No such file or directory")
        self.assertIn("is muster running?", lines[1])
        self.assertIn("-s SOCKET", lines[1])
        self.assertIn("$MUSTER_SOCKET", lines[1])

    def test_connection_refused(self):
        d = tempfile.mkdtemp(prefix="ctl-refused-")
        self.addCleanup(shutil.rmtree, d, True)
        path = os.path.join(d, "muster.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(path)  # bound but not listening: a muster that died
        self.addCleanup(s.close)
        rc, out, err = self.run_ctl("-s", path, "status")
        self.assertEqual(rc, 1)
        self.assertIn("musterctl: cannot connect to %s: Connection refused\n" % path, err)
        self.assertIn("is muster running?", err)

    def test_socket_path_longer_than_sun_path(self):
        d = tempfile.mkdtemp(prefix="ctl-long-")
        self.addCleanup(shutil.rmtree, d, True)
        deep = os.path.join(d, *(["a-rather-long-directory-name"] * 5))
        os.makedirs(deep)
        path = os.path.join(deep, "muster.sock")
        self.assertGreater(len(path), 108)
        cwd = os.getcwd()
        os.chdir(deep)  # bind() needs a short path; connect is musterctl's problem
        try:
            srv = self.version_server(path="muster.sock")
        finally:
            os.chdir(cwd)
        self.assertEqual(self.run_ctl("-s", path, "version"),
                         (0, "muster 0.1.0 (server)\n", ""))
        self.assertEqual(len(srv.requests), 1)


class UsageTest(CtlTestCase):

    def test_usage_errors_exit_2(self):
        d = tempfile.mkdtemp(prefix="ctl-usage-")
        self.addCleanup(shutil.rmtree, d, True)
        sock = os.path.join(d, "none.sock")
        cases = [[], ["frobnicate"], ["start"], ["stop"], ["restart"], ["scale", "dummy"],
                 ["scale", "dummy", "x"], ["scale", "dummy", "-1"], ["scale", "dummy", "1.5"],
                 ["scale", "dummy", "99999999999"], ["logs", "dummy", "ten"],
                 ["status", "a", "b"], ["reload", "x"], ["events", "x"], ["version", "x"],
                 ["start", "a", "b"], ["logs", "a", "1", "2"], ["status", "-f"],
                 ["events", "--follow"], ["--bogus", "status"], ["start", ""],
                 ["logs", "dummy", "-n"], ["logs", "dummy", "-n", "x"], ["status", "-n", "5"],
                 ["logs", "dummy", "5", "-n", "6"]]
        for args in cases:
            with self.subTest(args=args):
                rc, out, err = self.run_ctl("-s", sock, *args)
                self.assertEqual((rc, out), (2, ""))
                self.assertTrue(err.startswith("musterctl: "), err)
                self.assertIn("usage: musterctl", err)
                self.assertNotIn("cannot connect", err)  # it never tried
        for args in (["-s"], ["status", "--socket"], ["-s", "", "status"]):
            with self.subTest(args=args):
                rc, out, err = self.run_ctl(*args)
                self.assertEqual((rc, out), (2, ""))
                self.assertIn("usage: musterctl", err)

    def test_help(self):
        for flag in ("-h", "--help"):
            rc, out, err = self.run_ctl(flag)
            self.assertEqual((rc, err), (0, ""))
            self.assertTrue(out.startswith("usage: musterctl [-s SOCKET] [--json] COMMAND"))
            for cmd in ("status", "start", "stop", "restart", "scale", "reload", "logs",
                        "events", "shutdown", "version", "MUSTER_SOCKET"):
                self.assertIn(cmd, out)

    def test_version(self):
        rc, out, err = self.run_ctl("--version")
        self.assertEqual((rc, err), (0, ""))
        self.assertRegex(out, r"^musterctl \d+\.\d+\.\d+\n$")


# ---- Against the real muster ----

class RealMusterTest(CtlTestCase):

    def test_against_muster(self):
        svc = service("dummy", ["dummy_service"], instances=1, routes=["/dummy"])
        with Muster([svc]).start() as m:
            pid0 = m.spawned_pid("dummy[0]")
            m.ready("dummy[0]")
            m.seen_or_expect(r"control: listening on ")
            sock = os.path.join(m.dir, m.config["control"]["socket"])
            rc, out, err = self.run_ctl("-s", sock, "status")
            self.assertEqual((rc, err), (0, ""))
            rows = [r.split() for r in out.splitlines()]
            self.assertEqual(rows[1][:4], ["dummy", "-", "-", "running"])
            self.assertEqual(rows[2][:4], ["dummy", "0", str(pid0), "ready"])
            self.assertRegex(rows[2][6], r"^\d+(\.\d)?%$")  # CPU, as muster measured it
            self.assertRegex(rows[2][7], r"^\d+\.\d[KMG]$")
            self.assertEqual(self.run_ctl("-s", sock, "version"),
                             (0, "muster 0.1.0 (server)\n", ""))

            # Subscribe (the JSON ack proves it), scale, watch the new instance.
            ev = self.popen_ctl("--json", "-s", sock, "events")
            self.assertEqual(json.loads(read_line(ev)), {"ok": True})
            self.assertEqual(self.run_ctl("-s", sock, "scale", "dummy", "2"),
                             (0, "dummy: scaling to 2 instances\n", ""))
            while True:
                e = json.loads(read_line(ev))
                if (e["service"], e["index"], e["type"]) == ("dummy", 1, "ready"):
                    break
            ev.send_signal(signal.SIGINT)
            self.assertEqual(self.finish(ev)[0::2], (0, ""))

            self.assertEqual(self.run_ctl("-s", sock, "restart", "dummy"),
                             (0, "dummy: restarted\n", ""))
            rc, out, err = self.run_ctl("-s", sock, "status", "nope")
            self.assertEqual((rc, out), (1, ""))
            self.assertIn("nope", err)
            self.assertEqual(self.run_ctl("-s", sock, "logs", "dummy", "5")[0::2], (0, ""))
            self.assertEqual(self.run_ctl("-s", sock, "shutdown"),
                             (0, "muster: shutting down\n", ""))
            self.assertEqual(m.wait(), 0)


if __name__ == "__main__":
    unittest.main()
