"""systemd notifications (SPEC section 11) without systemd: a datagram
socket in a temp dir (or the abstract namespace) stands in for systemd's
$NOTIFY_SOCKET, and the test reads what muster sends there: READY=1 once
every service has a ready instance or failed to get one, RELOADING=1 with
MONOTONIC_USEC and READY=1 around a reload, STOPPING=1 at SIGTERM, STATUS=
lines, WATCHDOG=1 every half of $WATCHDOG_USEC. The instances' environment
(/proc/PID/environ) must hold none of these variables."""
import os
import signal
import socket
import subprocess
import sys
import time
import unittest
import uuid

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import BIN, TIMEOUT, Muster, ctl, service  # noqa: E402

PRIVATE = ("NOTIFY_SOCKET", "LISTEN_", "WATCHDOG_")


class FakeSystemd:
    """The receiving end of $NOTIFY_SOCKET: every datagram, parsed."""

    def __init__(self, path=None):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if path is None:
            self.name = "@muster-test-%s" % uuid.uuid4().hex
            self.sock.bind("\0" + self.name[1:])
        else:
            self.name = path
            self.sock.bind(path)
        self.got = []  # every message so far, as dicts, in order

    def next(self, pred, what, timeout=TIMEOUT):
        """The next message (after those already returned) for which
        pred(msg) is true; the ones skipped stay in self.got."""
        deadline = time.monotonic() + timeout
        while True:
            for msg in self.got[self.pos:]:
                self.pos += 1
                if pred(msg):
                    return msg
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s within %.0f s; got: %r" % (what, timeout, self.got))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            self.got.append(dict(kv.split("=", 1) for kv in data.decode().split("\n") if kv))

    pos = 0

    def close(self):
        self.sock.close()


def dummy(name, **kw):
    kw.setdefault("routes", ["/" + name])
    return service(name, ["dummy_service"], **kw)


def instances(m):
    """{(service, index): instance} from status."""
    out = {}
    for s in ctl(m, cmd="status")["services"]:
        for i in s["instances"]:
            out[(s["name"], i["index"])] = i
    return out


def environ_of(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return [kv.decode(errors="replace") for kv in f.read().split(b"\0") if kv]


class NotifyTest(unittest.TestCase):

    def test_ready_reload_stopping_watchdog_and_child_env(self):
        d = __import__("tempfile").mkdtemp(prefix="muster-notify-")
        sd = FakeSystemd(os.path.join(d, "notify"))
        services = [dummy("slow", instances=2, env={"DUMMY_READY_DELAY_MS": "300"}),
                    # Never ready: its first try ends at the ready timeout.
                    dummy("never", env={"DUMMY_NO_READY": "1"}, ready_timeout_ms=400,
                          restart={"backoff_initial_ms": 5000, "backoff_max_ms": 5000})]
        env = {"NOTIFY_SOCKET": sd.name, "WATCHDOG_USEC": "200000", "LISTEN_FDS": "0",
               "LISTEN_PID": "1", "LISTEN_FDNAMES": "x", "WATCHDOG_PID": ""}
        try:
            with Muster(services).start(env) as m:
                status = sd.next(lambda x: "STATUS" in x, "a first STATUS")
                self.assertNotIn("READY", status)
                self.assertRegex(status["STATUS"], r"^starting: waiting for ")
                ready = sd.next(lambda x: "READY" in x, "READY=1")
                self.assertEqual(ready["READY"], "1")
                self.assertRegex(ready["STATUS"], r"^running 2 services: [12]/3 instances ready")
                # READY came only once slow had a ready instance and never's
                # first try had ended (muster logs an event before it tells
                # listeners, so both lines are in its log already).
                m.seen_or_expect(r"slow\[\d\]: ready: ")
                m.seen_or_expect(r"never\[0\]: exit: ")
                states = instances(m)
                self.assertTrue(any(i["state"] == "ready" for (s, _), i in states.items()
                                    if s == "slow"), states)
                self.assertNotEqual(states[("never", 0)]["state"], "ready")

                # WATCHDOG=1 every 100 ms.
                for _ in range(3):
                    sd.next(lambda x: x.get("WATCHDOG") == "1", "WATCHDOG=1")

                # The children inherit none of systemd's variables.
                pid = next(i["pid"] for (s, _), i in states.items() if s == "slow" and i["pid"])
                env_child = environ_of(pid)
                self.assertIn("MUSTER_SERVICE=slow", env_child)
                self.assertEqual([kv for kv in env_child if kv.startswith(PRIVATE)], [])

                # Reload: RELOADING=1 with MONOTONIC_USEC, then READY=1.
                before = time.monotonic()
                out = subprocess.run([os.path.join(BIN, "musterctl"), "-s",
                                      os.path.join(m.dir, "run/muster.sock"), "reload"],
                                     capture_output=True, text=True, timeout=TIMEOUT)
                self.assertEqual(out.returncode, 0, out.stderr)
                rel = sd.next(lambda x: "RELOADING" in x, "RELOADING=1")
                self.assertEqual(rel["RELOADING"], "1")
                usec = int(rel["MONOTONIC_USEC"])
                self.assertLessEqual(before * 1e6 - 1e6, usec)
                self.assertLessEqual(usec, time.monotonic() * 1e6 + 1e6)
                self.assertRegex(rel["STATUS"], "^reloading")
                ready = sd.next(lambda x: "READY" in x, "READY=1 after the reload")
                self.assertEqual(ready["READY"], "1")

                # SIGTERM: STOPPING=1, then muster exits 0.
                m.signal(signal.SIGTERM)
                stopping = sd.next(lambda x: "STOPPING" in x, "STOPPING=1")
                self.assertEqual(stopping["STOPPING"], "1")
                self.assertRegex(stopping["STATUS"], "^stopping")
                self.assertEqual(m.wait(), 0)
        finally:
            sd.close()
            __import__("shutil").rmtree(d, ignore_errors=True)

    def test_abstract_socket_and_watchdog_of_another_pid(self):
        sd = FakeSystemd()
        env = {"NOTIFY_SOCKET": sd.name, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1"}
        try:
            with Muster([dummy("dummy")]).start(env) as m:
                ready = sd.next(lambda x: "READY" in x, "READY=1")
                self.assertRegex(ready["STATUS"], r"^running 1 services: 1/1 instances ready$")
                # A reload with nothing changed is still announced.
                self.assertTrue(ctl(m, cmd="reload")["ok"])
                sd.next(lambda x: "RELOADING" in x, "RELOADING=1")
                sd.next(lambda x: "READY" in x, "READY=1 after the reload")
                m.signal(signal.SIGTERM)
                sd.next(lambda x: "STOPPING" in x, "STOPPING=1")
                self.assertEqual(m.wait(), 0)
                # $WATCHDOG_PID is not muster: no pings at all.
                self.assertEqual([x for x in sd.got if "WATCHDOG" in x], [])
        finally:
            sd.close()

    def test_ready_when_a_service_waits_for_a_failed_dependency(self):
        # api waits for db (depends_on), which fails: neither will get ready,
        # and systemd must not wait for them forever.
        sd = FakeSystemd()
        services = [dummy("api", depends_on=["db"]),
                    service("db", ["sh", "-c", "exit 1"], restart={"max_restarts": 0}),
                    dummy("web")]
        try:
            with Muster(services).start({"NOTIFY_SOCKET": sd.name}) as m:
                ready = sd.next(lambda x: "READY" in x, "READY=1")
                self.assertRegex(ready["STATUS"], r"^running 3 services: 1/3 instances ready; "
                                                  r"failed: db$")
                m.seen_or_expect(r"api: waiting: db")
                self.assertNotIn("api[0]: spawn", m.log_text())
        finally:
            sd.close()

    def test_without_notify_socket_nothing_changes(self):
        with Muster([dummy("dummy")]).start({"NOTIFY_SOCKET": ""}) as m:
            m.seen_or_expect(r"dummy\[0\]: ready: ")
            self.assertNotIn("notify:", m.log_text())


if __name__ == "__main__":
    unittest.main()
