"""Surviving bad moments (SPEC §4, issue 18 point 4) for upstream services
(SPEC §9): the queue of requests waiting for an instance, the retry
budget and the poison-request quarantine, as tests/gw/test_resilience.py
checks them for IPC services. The real muster binary with
tests/helpers/crashy_upstream.js instances (plain Node `http`); events
are awaited (a response, a log line, an event), state that has no event
(`status`) is polled, bounded."""
import os
import re
import signal
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "gw"))
from uplib import NODE, SRC, Muster, up_svc  # noqa: E402
from gwtest import GatewayCase, gw, wait_gateway, wait_ready, TIMEOUT  # noqa: E402
from musterproc import poll_until  # noqa: E402
from test_resilience import Events, admin, metric, status_of  # noqa: E402

APP = os.path.join(SRC, "tests", "helpers", "crashy_upstream.js")
FAST_RESTART = {"backoff_initial_ms": 1, "backoff_max_ms": 5, "max_restarts": 100000,
                "window_s": 1}


def web(instances=1, **kw):
    """An upstream service "web" on every path, running crashy_upstream.js."""
    kw.setdefault("command", [NODE, APP])
    return up_svc("web", instances, **kw)


def queued(m):
    return status_of(m, "web")["queued"]


def deaths(m):
    """Deaths of web's instances (their restarts: counted as muster handles
    the exit, before the requests the instance held are answered)."""
    return status_of(m, "web")["restarts"]


def wmetric(m, name, **labels):
    return metric(m, name, service="web", **labels)


class QueueTest(GatewayCase):

    def test_request_before_the_port_is_ready_waits_and_gets_200(self):
        svc = web(env={"READY_DELAY_MS": "1000"})
        with Muster([svc], gateway=gw(queue_timeout_ms=20000), admin=admin()).start() as m:
            wait_gateway(m)
            m.seen_or_expect(r"web\[0\]: spawn: ")
            c = self.client(m)
            c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            poll_until(lambda: queued(m) == 1, what="the request queued")
            r = self.read(c, "request before the port was ready")
            self.assertEqual(r.status, 200, r)
            m.seen_or_expect(r"web\[0\]: ready: ")
            self.assertEqual(wmetric(m, "muster_queue_wait_seconds_count"), 1)

    def test_request_during_a_restart_waits_and_gets_200(self):
        # The only instance is killed; its replacement listens after 300 ms.
        svc = web(env={"READY_DELAY_MS": "300"}, restart=FAST_RESTART)
        # (a loaded machine may take long to restart: wait up to 20 s)
        with Muster([svc], gateway=gw(queue_timeout_ms=20000), admin=admin()).start() as m:
            pid = wait_ready(m, "web")[0]
            os.kill(pid, signal.SIGKILL)
            m.expect(r"web\[0\]: exit: killed by signal 9")
            r = self.get(m, "/")
            self.assertEqual(r.status, 200, r)
            self.assertNotEqual(r.json()["pid"], pid)
            self.assertEqual(wmetric(m, "muster_queue_wait_seconds_count"), 1)
            self.assertEqual(wmetric(m, "muster_queued_requests"), 0)

    def test_retry_that_finds_no_instance_waits_for_the_restart(self):
        # The only instance is killed holding a GET: its retry waits for
        # the replacement instead of a 503.
        svc = web(env={"READY_DELAY_MS": "300"}, restart=FAST_RESTART)
        with Muster([svc], gateway=gw(queue_timeout_ms=20000), admin=admin()).start() as m:
            pid = wait_ready(m, "web")[0]
            c = self.client(m)
            c.send(b"GET /slow?ms=1000 HTTP/1.1\r\nHost: t\r\n\r\n")
            poll_until(lambda: status_of(m, "web")["instances"][0]["inflight"] == 1,
                       what="the slow request in flight")
            os.kill(pid, signal.SIGKILL)
            r = self.read(c, "GET retried after the only instance died")
            self.assertEqual((r.status, r.json()["slept"]), (200, 1000), r)
            self.assertNotEqual(r.json()["pid"], pid)
            self.assertEqual(wmetric(m, "muster_retries_total", outcome="retried"), 1)

    def test_queue_bound_and_timeout_give_503_with_retry_after(self):
        # Never ready: every request waits. Two may (max_queued 2); the
        # third gets the 503 at once; the two get theirs at queue_timeout_ms.
        svc = web(command=["/bin/sleep", "60"], ready_timeout_ms=120000)
        with Muster([svc], gateway=gw(max_queued=2, queue_timeout_ms=3000),
                    admin=admin()).start() as m:
            wait_gateway(m)
            m.seen_or_expect(r"web\[0\]: spawn: ")
            t0 = time.monotonic()
            waiting = [self.client(m) for _ in range(2)]
            for c in waiting:
                c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            poll_until(lambda: queued(m) == 2, what="two requests queued")
            t1 = time.monotonic()
            r = self.get(m, "/")
            self.assertEqual(r.status, 503, r)
            self.assertTrue(r.header("retry-after"), r)
            self.assertIn("the queue is full", r.json()["error"])
            self.assertLess(time.monotonic() - t1, 2.0, "the 503 of a full queue waited")
            for c in waiting:
                r = self.read(c, "queued request past queue_timeout_ms")
                self.assertEqual(r.status, 503, r)
                self.assertTrue(r.header("retry-after"), r)
                waited = re.search(r"no ready instance \(starting\) after (\d+) ms in the "
                                   r"queue$", r.json()["error"])
                self.assertTrue(waited, r)
                self.assertGreaterEqual(int(waited.group(1)), 3000, r)
            self.assertGreaterEqual(time.monotonic() - t0, 2.95)
            self.assertEqual(queued(m), 0)
            self.assertEqual(wmetric(m, "muster_queue_rejected_total", reason="full"), 1)
            self.assertEqual(wmetric(m, "muster_queue_rejected_total", reason="timeout"), 2)

    def test_client_leaving_the_queue_sends_nothing(self):
        svc = web(env={"READY_DELAY_MS": "1500"})
        with Muster([svc], gateway=gw(queue_timeout_ms=10000)).start() as m:
            wait_gateway(m)
            m.seen_or_expect(r"web\[0\]: spawn: ")
            c = self.client(m)
            c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            poll_until(lambda: queued(m) == 1, what="the request queued")
            c.close()
            poll_until(lambda: queued(m) == 0, what="the request gone from the queue")
            m.seen_or_expect(r"web\[0\]: ready: ")
            r = self.get(m, "/count")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["seen"], 0, "the abandoned request was sent")

    def test_full_instance_queues_then_serves(self):
        # max_inflight 1: while the slow request holds the only slot, the
        # next waits and is sent as the slot frees.
        with Muster([web(max_inflight=1)], gateway=gw()).start() as m:
            wait_ready(m, "web")
            held = self.client(m)
            held.send(b"GET /slow?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n")
            poll_until(lambda: status_of(m, "web")["instances"][0]["inflight"] == 1,
                       what="the slow request in flight")
            nxt = self.client(m)
            nxt.send(b"GET /count HTTP/1.1\r\nHost: t\r\n\r\n")
            poll_until(lambda: queued(m) == 1, what="the next one queued")
            self.assertEqual(self.read(held).status, 200)
            r = self.read(nxt)
            self.assertEqual((r.status, r.json()["seen"]), (200, 1), r)


class QuarantineTest(GatewayCase):

    def crash_setup(self, **gwkw):
        svc = web(3, restart=FAST_RESTART)
        return Muster([svc], gateway=gw(retries=3, **gwkw), admin=admin())

    def test_query_of_death_kills_two_instances_then_is_quarantined(self):
        with self.crash_setup(quarantine_s=30).start() as m:
            wait_ready(m, "web", 3)
            events = Events(m)
            self.addCleanup(events.close)
            r = self.get(m, "/crash?x=1")
            self.assertEqual(r.status, 502, r)
            self.assertRegex(r.json()["error"], r"^quarantined: GET /crash ")
            ev = events.expect("quarantine")
            self.assertEqual(ev["service"], "web")
            self.assertIn("GET /crash", ev["detail"])
            self.assertEqual(deaths(m), 2, "not two instances died")
            # the same method and path, any query: 502 at once, nothing dies
            t0 = time.monotonic()
            for q in ("", "?x=2"):
                r = self.get(m, "/crash" + q)
                self.assertEqual(r.status, 502, r)
                self.assertRegex(r.json()["error"], r"^quarantined: .* s more$")
            self.assertLess(time.monotonic() - t0, 10)
            self.assertEqual(self.get(m, "/").status, 200)
            self.assertEqual(deaths(m), 2, "a quarantined request was sent")
            st = status_of(m, "web")
            self.assertEqual([(q["method"], q["path"]) for q in st["quarantined"]],
                             [("GET", "/crash")])
            self.assertTrue(0 < st["quarantined"][0]["left_ms"] <= 30000, st)
            self.assertEqual(wmetric(m, "muster_quarantined_total"), 3)

    def test_quarantine_off_retries_as_configured(self):
        with self.crash_setup(quarantine_s=0, queue_timeout_ms=20000).start() as m:
            wait_ready(m, "web", 3)
            r = self.get(m, "/crash")
            self.assertEqual(r.status, 502, r)
            self.assertEqual(r.json()["error"], "the instance handling the request exited")
            self.assertEqual(deaths(m), 4, "retries 3: four attempts, four deaths")
            self.assertEqual(wmetric(m, "muster_retries_total", outcome="exhausted"), 1)


class BudgetTest(GatewayCase):

    def test_retry_budget_caps_retries_in_a_storm(self):
        # quarantine off, retries 3: without a budget each /crash would kill
        # four instances. With retry_budget 0.2, retries stay within the
        # floor (10 per 10 s) plus a fifth of the requests.
        n, threads = 30, 3
        g = gw(retries=3, quarantine_s=0, retry_budget=0.2)
        with Muster([web(3, restart=FAST_RESTART)], gateway=g, admin=admin()).start() as m:
            wait_ready(m, "web", 3)
            statuses, lock = [], threading.Lock()
            t0 = time.monotonic()

            def storm():
                for _ in range(n // threads):
                    r = self.get(m, "/crash")
                    with lock:
                        statuses.append(r.status)
            ts = [threading.Thread(target=storm) for _ in range(threads)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(TIMEOUT * 2)
            took = time.monotonic() - t0
            self.assertEqual(len(statuses), n)
            self.assertTrue(set(statuses) <= {502, 503}, statuses)
            retried = wmetric(m, "muster_retries_total", outcome="retried")
            refused = wmetric(m, "muster_retries_total", outcome="budget")
            windows = int(took // 10) + 1
            self.assertLessEqual(retried, windows * (10 + 0.2 * n), (retried, took))
            self.assertGreater(refused, 0)
            # every /crash sent kills its instance: kills <= first tries + retries
            self.assertLessEqual(deaths(m), n + retried)


if __name__ == "__main__":
    unittest.main()
