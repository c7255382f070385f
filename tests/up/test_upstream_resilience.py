"""Surviving bad moments (SPEC §4, issue 18 point 4) for upstream services
(SPEC §9): the queue of requests waiting for an instance, the retry
budget and the poison-request quarantine, as tests/gw/test_resilience.py
checks them for IPC services. The real muster binary with
tests/helpers/crashy_upstream.js instances (plain Node `http`); events
are awaited (a response, a log line, an event), state that has no event
(`status`) is polled, bounded."""
import hashlib
import json
import os
import select
import signal
import sys
import threading
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "gw"))
from uplib import NODE, SRC, Muster, up_svc  # noqa: E402
from gwtest import GatewayCase, gateway_addr, gw, wait_gateway, wait_ready  # noqa: E402
from musterproc import poll_until  # noqa: E402
from test_resilience import (admin, check_budget_storm, check_query_of_death,  # noqa: E402
                             check_queue_bound_and_timeout, leave_the_queue, metric,
                             status_of)

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


def inflight(m):
    """Requests web's first instance holds."""
    return status_of(m, "web")["instances"][0]["inflight"]


def hold_the_slot(case, m, ms):
    """A request (case's client) that web's first instance holds for ms,
    returned once it does (with max_inflight 1: its only slot)."""
    held = case.client(m)
    held.send(b"GET /slow?ms=%d HTTP/1.1\r\nHost: t\r\n\r\n" % ms)
    poll_until(lambda: inflight(m) == 1, what="the slow request in flight")
    return held


def release_the_slot(m, held):
    """Ends the request of hold_the_slot before its time."""
    held.close()
    poll_until(lambda: inflight(m) == 0, what="the slot free again")


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
            c = hold_the_slot(self, m, 1000)
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
            check_queue_bound_and_timeout(self, m, "/", "web")

    def test_client_leaving_the_queue_sends_nothing(self):
        svc = web(env={"READY_DELAY_MS": "1500"})
        with Muster([svc], gateway=gw(queue_timeout_ms=10000)).start() as m:
            wait_gateway(m)
            m.seen_or_expect(r"web\[0\]: spawn: ")
            leave_the_queue(self, m, "/", "web")
            m.seen_or_expect(r"web\[0\]: ready: ")
            r = self.get(m, "/count")
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["seen"], 0, "the abandoned request was sent")

    def test_full_instance_queues_then_serves(self):
        # max_inflight 1: while the slow request holds the only slot, the
        # next waits and is sent as the slot frees.
        with Muster([web(max_inflight=1)], gateway=gw()).start() as m:
            wait_ready(m, "web")
            held = hold_the_slot(self, m, 300)
            nxt = self.client(m)
            nxt.send(b"GET /count HTTP/1.1\r\nHost: t\r\n\r\n")
            poll_until(lambda: queued(m) == 1, what="the next one queued")
            self.assertEqual(self.read(held).status, 200)
            r = self.read(nxt)
            self.assertEqual((r.status, r.json()["seen"]), (200, 1), r)

    def test_post_whose_body_is_still_arriving_waits_and_passes_whole(self):
        # The POST's head comes while the only slot is taken: it waits with
        # its body still arriving (2 MiB, past what muster keeps before it
        # stops reading), then goes up whole once the slot frees.
        # (header_timeout_ms 2000 bounds the gaps of what the client sends,
        # not the time muster holds the body: the slot frees at 5 s.)
        body = bytes(range(256)) * 8192
        with Muster([web(max_inflight=1)],
                    gateway=gw(queue_timeout_ms=20000, header_timeout_ms=2000)).start() as m:
            wait_ready(m, "web")
            held = hold_the_slot(self, m, 5000)
            post = self.client(m)
            post.send(b"POST /sink HTTP/1.1\r\nHost: t\r\ncontent-length: %d\r\n\r\n"
                      % len(body) + body[:1000])
            poll_until(lambda: queued(m) == 1, what="the POST queued")
            sender = threading.Thread(target=post.send, args=(body[1000:],))
            sender.start()
            self.addCleanup(sender.join, 30)
            self.assertEqual(self.read(held).status, 200)
            r = self.read(post)
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["bytes"], len(body), r)
            self.assertEqual(r.json()["sha256"], hashlib.sha256(body).hexdigest())
            # chunked: the pieces wait chunk-encoded again, end included
            held = hold_the_slot(self, m, 1500)
            post.send(b"POST /sink HTTP/1.1\r\nHost: t\r\ntransfer-encoding: chunked\r\n\r\n"
                      b"5\r\nhello\r\n")
            poll_until(lambda: queued(m) == 1, what="the chunked POST queued")
            post.send(b"6\r\n world\r\n0\r\n\r\n")
            self.assertEqual(self.read(held).status, 200)
            r = self.read(post)
            self.assertEqual((r.status, r.json()["bytes"]), (200, 11), r)
            self.assertEqual(r.json()["sha256"], hashlib.sha256(b"hello world").hexdigest())

    def test_post_waiting_with_its_body_gets_503_at_queue_timeout(self):
        # Both ways a waiting body can be: trickling in (the wait is checked
        # at each piece) and stopped by muster past what it keeps (the
        # request timer runs): each gets the queue's 503 while the slot is
        # still taken.
        with Muster([web(max_inflight=1)], gateway=gw(queue_timeout_ms=600)).start() as m:
            wait_ready(m, "web")
            for how in ("trickle", "paused"):
                held = hold_the_slot(self, m, 8000)
                post = self.client(m)
                post.send(b"POST /sink HTTP/1.1\r\nHost: t\r\ncontent-length: 4194304\r\n\r\n")
                poll_until(lambda: queued(m) == 1, what="the POST queued (%s)" % how)
                if how == "trickle":
                    for _ in range(40):  # 100 bytes every 50 ms, until the answer
                        try:
                            post.send(b"x" * 100)
                        except OSError:
                            break
                        if select.select([post.sock], [], [], 0.05)[0]:
                            break
                else:
                    sender = threading.Thread(target=self.send_until_closed,
                                              args=(post, b"y" * (1 << 20), 4))
                    sender.start()
                    self.addCleanup(sender.join, 30)
                r = self.read(post)
                self.assertEqual(r.status, 503, (how, r))
                self.assertEqual(r.headers.get("retry-after"), "1", r)
                self.assertRegex(r.json()["error"], r"after \d+ ms in the queue", r)
                self.assertEqual(inflight(m), 1, "the 503 came once the slow request was over")
                self.assertEqual(queued(m), 0)
                release_the_slot(m, held)

    @staticmethod
    def send_until_closed(c, chunk, n):
        for _ in range(n):
            try:
                c.send(chunk)
            except OSError:
                return


class EarlyAnswerTest(GatewayCase):

    def test_upload_refused_at_its_head_reaches_a_client_still_sending(self):
        # The program answers 401 without reading the body; the client
        # (Python's http.client) sends all 32 MiB before it reads. muster
        # drops the body past the answer, then closes, lingering: the
        # client gets the 401, not a reset.
        import http.client
        with Muster([web()], gateway=gw(), admin=admin()).start() as m:
            wait_ready(m, "web")
            host, port = gateway_addr(m)
            for chunked in (False, True):
                with self.subTest(chunked=chunked):
                    c = http.client.HTTPConnection(host, port, timeout=30)
                    body = b"u" * (32 << 20)
                    if chunked:
                        c.request("POST", "/refuse", body=iter([body]), encode_chunked=True)
                    else:
                        c.request("POST", "/refuse", body=body)
                    r = c.getresponse()
                    self.assertEqual(r.status, 401)
                    self.assertEqual(json.loads(r.read()), {"error": "not allowed"})
                    c.close()
            self.assertEqual(self.get(m, "/").status, 200)


class QueueH2Test(GatewayCase):
    """The same wait for a body still arriving, over HTTP/2 (its stream's
    window stays shut while muster keeps what it read)."""

    def test_h2_post_waits_with_its_body_then_503_past_the_timeout(self):
        from test_h2 import H2Client
        body = bytes(range(256)) * 4096  # 1 MiB
        # header_timeout_ms 2000: the gaps of the body the client sends are
        # bounded, not the time muster holds it (the slot frees at 4.5 s,
        # then at 10 s, past queue_timeout_ms)
        with Muster([web(max_inflight=1)],
                    gateway=gw(queue_timeout_ms=6500, header_timeout_ms=2000)).start() as m:
            wait_ready(m, "web")
            c = H2Client(gateway_addr(m))
            self.addCleanup(c.close)
            for ms, want in ((4500, 200), (10000, 503)):  # how long the slot is taken
                held = hold_the_slot(self, m, ms)
                sid = c.request("/sink", method="POST",
                                headers=[("content-length", str(len(body)))], body=body[:1000],
                                end=False)
                poll_until(lambda: queued(m) == 1, what="the POST queued")
                c.send_body(sid, body[1000:])  # returns once sent, or once answered
                c.wait(lambda: c.done(sid), "the POST's answer")
                st = c.streams[sid]
                self.assertEqual(st.status, want, st.data)
                if want == 200:
                    self.assertEqual(json.loads(st.data)["bytes"], len(body))
                    self.assertEqual(json.loads(st.data)["sha256"],
                                     hashlib.sha256(body).hexdigest())
                    self.assertEqual(self.read(held).status, 200)
                else:
                    self.assertIn(b"in the queue", st.data)
                    self.assertEqual(inflight(m), 1)
                    release_the_slot(m, held)


class QuarantineTest(GatewayCase):

    def crash_setup(self, **gwkw):
        svc = web(3, restart=FAST_RESTART)
        return Muster([svc], gateway=gw(retries=3, **gwkw), admin=admin())

    def test_query_of_death_kills_two_instances_then_is_quarantined(self):
        with self.crash_setup(quarantine_s=30).start() as m:
            wait_ready(m, "web", 3)
            check_query_of_death(self, m, "web", "/crash", "/")

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
            check_budget_storm(self, m, "web", "/crash", n, threads)


if __name__ == "__main__":
    unittest.main()
