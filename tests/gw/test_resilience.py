"""Surviving bad moments (SPEC §4, issue 18): the queue of requests waiting
for an instance (queue_timeout_ms, max_queued), the retry budget
(retry_budget) and the poison-request quarantine (quarantine_s), with what
`status`, `events` and /metrics show of them. The real muster binary with
dummy_service instances; events are awaited (a response, a log line, an
event), state that has no event (`status`) is polled, bounded."""
import os
import re
import signal
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest import (GatewayCase, ctl, dummy, gw, service_requests,  # noqa: E402
                    wait_gateway, wait_ready, TIMEOUT)
from musterproc import CtlConn, Muster, http_get, poll_until  # noqa: E402


def status_of(m, name="dummy"):
    r = ctl(m, cmd="status", service=name)
    assert r.get("ok"), r
    return r["services"][0]


def queued(m, name="dummy"):
    return status_of(m, name)["queued"]


def metric(m, name, **labels):
    """The value of one sample of the admin listener's /metrics, or None."""
    status, _, body = http_get(m, "/metrics", addr=admin_addr(m))
    assert status == 200, status
    want = ",".join('%s="%s"' % kv for kv in sorted(labels.items()))
    for line in body.decode().splitlines():
        m_ = re.match(r"^(\w+)(?:\{(.*)\})? (\S+)$", line)
        if m_ and m_.group(1) == name:
            got = ",".join(sorted((m_.group(2) or "").split(","))) if m_.group(2) else ""
            if got == want:
                return float(m_.group(3))
    return None


def admin_addr(m):
    host, port = m.config["admin"]["listen"].rsplit(":", 1)
    return host, int(port)


def admin():
    from musterproc import free_port
    return {"listen": "127.0.0.1:%d" % free_port()}


def deaths(m, name="dummy"):
    """How many times instances of service name died and were restarted
    (its `restarts` in status: counted as muster handles the exit, before
    the requests the instance held are answered)."""
    return status_of(m, name)["restarts"]


def all_ready(m, name="dummy"):
    """Waits (polling status) until every instance of name is ready."""
    poll_until(lambda: all(i["state"] == "ready" for i in status_of(m, name)["instances"]),
               what="every instance of %s ready" % name)


class Events:
    """The control `events` stream, read as it comes."""

    def __init__(self, m):
        self.conn = CtlConn(m)
        assert self.conn.cmd(cmd="events")["ok"]

    def expect(self, type_, timeout=TIMEOUT):
        deadline = time.monotonic() + timeout
        self.conn.sock.settimeout(timeout)
        while time.monotonic() < deadline:
            ev = self.conn.recv()
            if ev.get("type") == type_:
                return ev
        raise AssertionError("no %s event within %.0f s" % (type_, timeout))

    def close(self):
        self.conn.close()


def leave_the_queue(case, m, path, name):
    """A request for path waits in service name's queue; its client goes
    away: it leaves the queue at once."""
    c = case.client(m)
    c.send(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path.encode())
    poll_until(lambda: queued(m, name) == 1, what="the request queued")
    c.close()
    poll_until(lambda: queued(m, name) == 0, what="the request gone from the queue")


def check_queue_bound_and_timeout(case, m, path, name):
    """Service name, never ready, under max_queued 2 and queue_timeout_ms
    3000: two requests for path wait, the third gets the 503 at once, the
    two get theirs at queue_timeout_ms (case: the GatewayCase asking; the
    upstream tests ask it too)."""
    t0 = time.monotonic()
    waiting = [case.client(m) for _ in range(2)]
    for c in waiting:
        c.send(b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path.encode())
    poll_until(lambda: queued(m, name) == 2, what="two requests queued")
    t1 = time.monotonic()
    r = case.get(m, path)
    case.assertEqual(r.status, 503, r)
    case.assertTrue(r.header("retry-after"), r)
    case.assertIn("the queue is full", r.json()["error"])
    case.assertLess(time.monotonic() - t1, 2.0, "the 503 of a full queue waited")
    for c in waiting:
        r = case.read(c, "queued request past queue_timeout_ms")
        case.assertEqual(r.status, 503, r)
        case.assertTrue(r.header("retry-after"), r)
        waited = re.search(r"no ready instance \(starting\) after (\d+) ms in the "
                           r"queue$", r.json()["error"])
        case.assertTrue(waited, r)
        case.assertGreaterEqual(int(waited.group(1)), 3000, r)
    case.assertGreaterEqual(time.monotonic() - t0, 2.95)
    case.assertEqual(queued(m, name), 0)
    case.assertEqual(metric(m, "muster_queue_rejected_total", service=name,
                            reason="full"), 1)
    case.assertEqual(metric(m, "muster_queue_rejected_total", service=name,
                            reason="timeout"), 2)
    case.assertEqual(metric(m, "muster_queue_wait_seconds_count", service=name), 2)


def check_query_of_death(case, m, name, crash, ok):
    """Service name's 3 instances ready, retries 3, quarantine_s 30: GET
    crash kills two instances, is quarantined (event, status, metric) and
    answered 502 at once from then on, while ok is answered 200."""
    events = Events(m)
    case.addCleanup(events.close)
    r = case.get(m, crash + "?x=1")
    case.assertEqual(r.status, 502, r)
    case.assertRegex(r.json()["error"], r"^quarantined: GET %s " % re.escape(crash))
    ev = events.expect("quarantine")
    case.assertEqual(ev["service"], name)
    case.assertIn("GET " + crash, ev["detail"])
    case.assertEqual(deaths(m, name), 2, "not two instances died")
    # the same method and path, any query: 502 at once, nothing dies
    t0 = time.monotonic()
    for q in ("", "?x=2"):
        r = case.get(m, crash + q)
        case.assertEqual(r.status, 502, r)
        case.assertRegex(r.json()["error"], r"^quarantined: .* s more$")
    case.assertLess(time.monotonic() - t0, 10)
    case.assertEqual(case.get(m, ok).status, 200)
    case.assertEqual(deaths(m, name), 2, "a quarantined request was sent")
    st = status_of(m, name)
    case.assertEqual([(q["method"], q["path"]) for q in st["quarantined"]],
                     [("GET", crash)])
    case.assertTrue(0 < st["quarantined"][0]["left_ms"] <= 30000, st)
    case.assertEqual(metric(m, "muster_quarantined_total", service=name), 3)


def check_budget_storm(case, m, name, crash, n, threads):
    """Service name's 3 instances ready, retries 3, quarantine off,
    retry_budget 0.2: n requests for crash (each kills its instance) from
    `threads` threads; retries stay within the budget."""
    statuses, lock = [], threading.Lock()
    t0 = time.monotonic()

    def storm():
        for _ in range(n // threads):
            r = case.get(m, crash)
            with lock:
                statuses.append(r.status)
    ts = [threading.Thread(target=storm) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(TIMEOUT * 2)
    took = time.monotonic() - t0
    case.assertEqual(len(statuses), n)
    case.assertTrue(set(statuses) <= {502, 503}, statuses)
    retried = metric(m, "muster_retries_total", service=name, outcome="retried")
    refused = metric(m, "muster_retries_total", service=name, outcome="budget")
    windows = int(took // 10) + 1
    case.assertLessEqual(retried, windows * (10 + 0.2 * n), (retried, took))
    case.assertGreater(refused, 0)
    # every attempt of a /crash kills its instance: kills = first
    # attempts that found an instance + retries
    case.assertLessEqual(deaths(m, name), n + retried)


class QueueTest(GatewayCase):

    def test_request_during_a_restart_waits_and_gets_200(self):
        # The only instance is killed; its replacement takes 300 ms to be
        # ready. A request arriving meanwhile waits for it: 200, not 503.
        svc = dummy(env={"DUMMY_READY_DELAY_MS": "300"},
                    restart={"backoff_initial_ms": 1, "backoff_max_ms": 1})
        # (a loaded machine may take long to restart: wait up to 20 s)
        with Muster([svc], gateway=gw(queue_timeout_ms=20000), admin=admin()).start() as m:
            pid = wait_ready(m, "dummy")[0]
            os.kill(pid, signal.SIGKILL)
            m.expect(r"dummy\[0\]: exit: killed by signal 9")
            r = self.get(m, "/dummy/echo")
            self.assertEqual(r.status, 200, r)
            self.assertNotEqual(r.json()["pid"], pid)
            m.seen_or_expect(r"dummy\[0\]: ready: ")
            self.assertEqual(metric(m, "muster_queue_wait_seconds_count", service="dummy"), 1)
            self.assertEqual(metric(m, "muster_queued_requests", service="dummy"), 0)

    def test_retry_that_finds_no_instance_waits_for_the_restart(self):
        # One instance holds a GET when it is killed: there is no other
        # instance, so the retry waits for the replacement instead of a 503.
        svc = dummy(env={"DUMMY_READY_DELAY_MS": "300"},
                    restart={"backoff_initial_ms": 1, "backoff_max_ms": 1})
        # (a loaded machine may take long to restart: wait up to 20 s)
        with Muster([svc], gateway=gw(queue_timeout_ms=20000), admin=admin()).start() as m:
            pid = wait_ready(m, "dummy")[0]
            c = self.client(m)
            c.send(b"GET /dummy/sleep?ms=1000 HTTP/1.1\r\nHost: t\r\n\r\n")
            poll_until(lambda: status_of(m)["instances"][0]["inflight"] == 1,
                       what="the sleep in flight")
            os.kill(pid, signal.SIGKILL)
            r = self.read(c, "GET retried after the only instance died")
            self.assertEqual((r.status, r.json()["slept_ms"]), (200, 1000), r)
            self.assertEqual(metric(m, "muster_retries_total", service="dummy",
                                    outcome="retried"), 1)

    def test_queue_bound_and_timeout_give_503_with_retry_after(self):
        # Never ready: every request waits. Two may (max_queued 2); the
        # third gets the 503 at once; the two get theirs at queue_timeout_ms.
        svc = dummy(env={"DUMMY_NO_READY": "1"}, ready_timeout_ms=120000)
        with Muster([svc], gateway=gw(max_queued=2, queue_timeout_ms=3000),
                    admin=admin()).start() as m:
            wait_gateway(m)
            m.seen_or_expect(r"dummy\[0\]: spawn: ")
            check_queue_bound_and_timeout(self, m, "/dummy/echo", "dummy")

    def test_client_leaving_the_queue_sends_nothing(self):
        svc = dummy(env={"DUMMY_READY_DELAY_MS": "1500"})
        with Muster([svc], gateway=gw(queue_timeout_ms=10000)).start() as m:
            wait_gateway(m)
            m.seen_or_expect(r"dummy\[0\]: spawn: ")
            leave_the_queue(self, m, "/dummy/echo", "dummy")
            m.seen_or_expect(r"dummy\[0\]: ready: ")
            self.assertEqual(self.get(m, "/dummy/echo").status, 200)
            self.assertEqual(service_requests(m, "dummy"), 1, "the abandoned request was sent")

    def test_stopped_service_does_not_wait(self):
        # (queue_timeout_ms 20 s: a request that waited would time the test out)
        with Muster([dummy()], gateway=gw(queue_timeout_ms=20000)).start() as m:
            wait_ready(m, "dummy")
            self.assertTrue(ctl(m, cmd="stop", service="dummy")["ok"])
            m.seen_or_expect(r"dummy\[0\]: exit: ")
            t0 = time.monotonic()
            r = self.get(m, "/dummy/echo")
            self.assertEqual(r.status, 503, r)
            self.assertEqual(r.json()["error"], 'service "dummy" has no ready instance (stopped)')
            self.assertLess(time.monotonic() - t0, 10, "a stopped service's request waited")

    def test_reload_removing_the_service_answers_its_waiting_requests(self):
        never = dummy("never", env={"DUMMY_NO_READY": "1"}, ready_timeout_ms=120000)
        with Muster([dummy(), never], gateway=gw(queue_timeout_ms=20000)).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            c.send(b"GET /never/echo HTTP/1.1\r\nHost: t\r\n\r\n")
            poll_until(lambda: queued(m, "never") == 1, what="the request queued")
            m.config["services"] = [s for s in m.config["services"] if s["name"] != "never"]
            m.write_config()
            self.assertTrue(ctl(m, cmd="reload")["ok"])
            r = self.read(c, "queued request of a removed service")
            self.assertEqual(r.status, 503, r)
            self.assertIn("removed from the configuration", r.json()["error"])
            self.assertEqual(self.get(m, "/dummy/echo").status, 200)

    def test_shutdown_answers_waiting_requests(self):
        svc = dummy(env={"DUMMY_NO_READY": "1"}, ready_timeout_ms=120000)
        with Muster([svc], gateway=gw(queue_timeout_ms=20000)).start() as m:
            wait_gateway(m)
            m.seen_or_expect(r"dummy\[0\]: spawn: ")
            c = self.client(m)
            c.send(b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\n\r\n")
            poll_until(lambda: queued(m) == 1, what="the request queued")
            m.signal(signal.SIGTERM)
            r = self.read(c, "queued request at shutdown")
            self.assertEqual(r.status, 503, r)
            self.assertIn("muster is shutting down", r.json()["error"])
            self.assertEqual(r.header("connection"), "close")
            self.assertEqual(m.wait(), 0)

    def test_full_instances_queue_then_serve_in_order(self):
        # max_inflight 1: while the sleep holds the only slot, two more
        # requests wait and are sent, oldest first, as the slot frees.
        with Muster([dummy(max_inflight=1)]).start() as m:
            wait_ready(m, "dummy")
            held = self.client(m)
            held.send(b"GET /dummy/sleep?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n")
            poll_until(lambda: status_of(m)["instances"][0]["inflight"] == 1,
                       what="the sleep in flight")
            first, second = self.client(m), self.client(m)
            first.send(b"GET /dummy/sleep?ms=1 HTTP/1.1\r\nHost: t\r\n\r\n")
            poll_until(lambda: queued(m) == 1, what="the first queued")
            second.send(b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\n\r\n")
            poll_until(lambda: queued(m) == 2, what="the second queued")
            for c in (held, first, second):
                self.assertEqual(self.read(c).status, 200)
            self.assertEqual(service_requests(m, "dummy"), 3)


class QuarantineTest(GatewayCase):

    def crash_setup(self, **gwkw):
        svc = dummy(instances=3, restart={"backoff_initial_ms": 1, "backoff_max_ms": 5,
                                          "max_restarts": 1000, "window_s": 1})
        g = gw(retries=3, **gwkw)
        return Muster([svc], gateway=g, admin=admin())

    def test_query_of_death_kills_two_instances_then_is_quarantined(self):
        with self.crash_setup(quarantine_s=30).start() as m:
            wait_ready(m, "dummy", 3)
            check_query_of_death(self, m, "dummy", "/dummy/crash", "/dummy/echo")

    def test_quarantine_ends_after_quarantine_s(self):
        with self.crash_setup(quarantine_s=1).start() as m:
            wait_ready(m, "dummy", 3)
            r = self.get(m, "/dummy/crash")
            self.assertRegex(r.json()["error"], r"^quarantined: ")
            poll_until(lambda: status_of(m)["quarantined"] == [], timeout=5,
                       what="the quarantine over")
            all_ready(m)
            r = self.get(m, "/dummy/crash")  # tried again: two more deaths
            self.assertRegex(r.json()["error"], r"^quarantined: ")
            self.assertEqual(deaths(m), 4)

    def test_restart_lifts_the_quarantine(self):
        with self.crash_setup().start() as m:
            wait_ready(m, "dummy", 3)
            self.assertRegex(self.get(m, "/dummy/crash").json()["error"], r"^quarantined: ")
            self.assertEqual(len(status_of(m)["quarantined"]), 1)
            self.assertTrue(ctl(m, cmd="restart", service="dummy")["ok"])
            self.assertEqual(status_of(m)["quarantined"], [])
            m.seen_or_expect(r"gateway: dummy: 1 quarantined method and path lifted")
            all_ready(m)
            before = deaths(m)
            r = self.get(m, "/dummy/crash")
            self.assertRegex(r.json()["error"], r"^quarantined: ")
            self.assertEqual(deaths(m), before + 2, "after the restart it was not tried again")

    def test_start_lifts_the_quarantine(self):
        with self.crash_setup().start() as m:
            wait_ready(m, "dummy", 3)
            self.assertRegex(self.get(m, "/dummy/crash").json()["error"], r"^quarantined: ")
            self.assertTrue(ctl(m, cmd="start", service="dummy")["ok"])
            self.assertEqual(status_of(m)["quarantined"], [])

    def test_quarantine_off_retries_as_configured(self):
        with self.crash_setup(quarantine_s=0).start() as m:
            wait_ready(m, "dummy", 3)
            r = self.get(m, "/dummy/crash")
            self.assertEqual(r.status, 502, r)
            self.assertEqual(r.json()["error"], "the instance handling the request exited")
            self.assertEqual(deaths(m), 4, "retries 3: four attempts, four deaths")

    def test_killed_instances_do_not_quarantine_a_path_that_is_served(self):
        # A GET meets two deaths by chance (SIGKILL from outside) while the
        # same path is answered meanwhile: no quarantine, it is retried.
        svc = dummy(instances=3)
        with Muster([svc], gateway=gw(retries=3), admin=admin()).start() as m:
            wait_ready(m, "dummy", 3)
            c = self.client(m)
            c.send(b"GET /dummy/sleep?ms=3000 HTTP/1.1\r\nHost: t\r\n\r\n")
            for _ in range(2):
                holder = poll_until(lambda: [i for i in status_of(m)["instances"]
                                             if i["inflight"] == 1], what="the sleep in flight")
                # the path is answered by another instance meanwhile
                self.assertEqual(self.get(m, "/dummy/sleep?ms=1").status, 200)
                os.kill(holder[0]["pid"], signal.SIGKILL)
                m.expect(r"exit: killed by signal 9")
            r = self.read(c, "GET that met two deaths")
            self.assertEqual((r.status, r.json()["slept_ms"]), (200, 3000), r)
            self.assertEqual(status_of(m)["quarantined"], [])
            self.assertEqual(metric(m, "muster_retries_total", service="dummy",
                                    outcome="retried"), 2)


    def test_path_served_lately_is_not_quarantined_after_an_outage(self):
        # One instance, killed twice while a GET is in flight on it: nothing
        # can answer between the two deaths (the outage). The same path was
        # answered a moment before: no query of death; the GET is retried.
        svc = dummy(restart={"backoff_initial_ms": 1, "backoff_max_ms": 1})
        with Muster([svc], gateway=gw(retries=3), admin=admin()).start() as m:
            wait_ready(m, "dummy")

            def kill_holder():
                inst = poll_until(lambda: [i for i in status_of(m)["instances"]
                                           if i["inflight"] == 1 and i["state"] == "ready"],
                                  what="the sleep in flight")[0]
                os.kill(inst["pid"], signal.SIGKILL)
                m.expect(r"dummy\[0\]: exit: killed by signal 9")
            # first a death of the path, then an answer of it (the retry's)
            c = self.client(m)
            c.send(b"GET /dummy/sleep?ms=500 HTTP/1.1\r\nHost: t\r\n\r\n")
            kill_holder()
            self.assertEqual(self.read(c).status, 200)
            # now the outage: two deaths in a row, nothing answered between
            c.send(b"GET /dummy/sleep?ms=2000 HTTP/1.1\r\nHost: t\r\n\r\n")
            kill_holder()
            kill_holder()
            r = self.read(c, "GET through an outage")
            self.assertEqual((r.status, r.json()["slept_ms"]), (200, 2000), r)
            self.assertEqual(status_of(m)["quarantined"], [])
            self.assertEqual(metric(m, "muster_retries_total", service="dummy",
                                    outcome="retried"), 3)


class BudgetTest(GatewayCase):

    def test_retry_budget_caps_retries_in_a_storm(self):
        # quarantine off, retries 3: without a budget each /crash would kill
        # four instances. With retry_budget 0.2, retries stay within the
        # floor (10 per 10 s) plus a fifth of the requests.
        n, threads = 30, 3
        svc = dummy(instances=3, restart={"backoff_initial_ms": 1, "backoff_max_ms": 5,
                                          "max_restarts": 100000, "window_s": 1})
        g = gw(retries=3, quarantine_s=0, retry_budget=0.2)
        with Muster([svc], gateway=g, admin=admin()).start() as m:
            wait_ready(m, "dummy", 3)
            check_budget_storm(self, m, "dummy", "/dummy/crash", n, threads)


if __name__ == "__main__":
    unittest.main()
