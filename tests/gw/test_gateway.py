"""Integration tests of the HTTP gateway (SPEC §4): routing, availability
(503/502/504 and retries), streaming, keep-alive and pipelining, uploads,
large and binary bodies, health, connection limits, balancing and the
access log. The real muster binary with dummy_service instances; raw
sockets (tests/gw/httpclient.py) for anything slow or pipelined, and
http.client for a few plain requests. Events are awaited (a response, a
log line, a close); timeouts only bound failures."""
import base64
import http.client
import json
import os
import re
import select
import shutil
import signal
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest import (GatewayCase, ctl, dummy, gateway_addr, gw, service,  # noqa: E402
                    service_requests, wait_gateway, wait_ready, TIMEOUT)
from httpclient import RawClient, chunked, sse_events  # noqa: E402
from musterproc import LogFollow, Muster, pid_alive, poll_until, wait_pid_gone  # noqa: E402


def nothing_received_yet(c):
    """True when no byte of a response has arrived on c (a zero-time check
    of what is already there, not a wait)."""
    if c.buf:
        return False
    r, _, _ = select.select([c.sock], [], [], 0)
    return not r


class RequestIdTest(GatewayCase):

    def test_client_request_id_echoed_and_forwarded(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            r = self.get(m, "/dummy/echo", headers=[("X-Request-Id", "abc-123.XYZ")])
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("x-request-id"), "abc-123.XYZ")
            self.assertEqual(r.json()["headers"].get("x-request-id"), "abc-123.XYZ")

    def test_generated_request_ids_are_unique(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            ids = set()
            for path in ("/dummy/echo", "/dummy/echo", "/nope", "/dummy/status/201"):
                r = self.get(m, path)  # check_common: x-request-id non-empty
                ids.add(r.header("x-request-id"))
            self.assertEqual(len(ids), 4, ids)

    def test_generated_request_id_reaches_the_service(self):
        # The request's x-request-id (here the generated one) is what the
        # service sees, so service logs and the client can be correlated.
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            r = self.get(m, "/dummy/echo")
            self.assertEqual(r.json()["headers"].get("x-request-id"), r.header("x-request-id"))

    def test_every_response_has_framing_and_id_keepalive(self):
        # Several kinds of responses on one keep-alive connection: each is
        # delimited (content-length or chunked) and carries an id.
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            for path in ("/dummy/echo", "/dummy/status/201", "/dummy/status/418", "/nothing",
                         "/dummy/stream?n=2&interval_ms=1", "/dummy/bytes?n=0", "/healthz",
                         "/dummy/status/204", "/dummy/status/503", "/dummy/echo"):
                c.request("GET", path)
                r = c.read_response()
                self.check_common(r, path, error_json=not path.startswith("/dummy/status/"))
                self.assertEqual(r.status, int(path.rsplit("/", 1)[1]) if "status/" in path
                                 else 404 if path == "/nothing" else 200, path)


class RoutingTest(GatewayCase):

    def test_prefix_matches_whole_segments(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            r = self.get(m, "/dummy/echo?a=1&b=%20x&&c=%zz;d")
            self.assertEqual(r.status, 200)
            doc = r.json()
            self.assertEqual((doc["path"], doc["prefix"], doc["query"]),
                             ("/dummy/echo", "/dummy", "a=1&b=%20x&&c=%zz;d"))
            n0 = service_requests(m, "dummy")
            r = self.get(m, "/dummy")  # the prefix itself is routed
            self.assertEqual(service_requests(m, "dummy"), n0 + 1, r)
            r = self.get(m, "/dummy?x=1")
            self.assertEqual(service_requests(m, "dummy"), n0 + 2, r)
            for path in ("/dummyx", "/dummyx/echo", "/dumm", "/", "/other/dummy/echo"):
                r = self.get(m, path)
                self.assertEqual(r.status, 404, path)
            self.assertEqual(service_requests(m, "dummy"), n0 + 2,
                             "a non-matching path reached the service")

    def test_longest_prefix_wins(self):
        svcs = [dummy("a", routes=["/api"]), dummy("b", routes=["/api/v2"])]
        with Muster(svcs).start() as m:
            wait_ready(m, "a")
            wait_ready(m, "b")
            r = self.get(m, "/api/v2/echo")
            self.assertEqual((r.status, r.json()["prefix"], r.json()["path"]),
                             (200, "/api/v2", "/api/v2/echo"))
            r = self.get(m, "/api/echo")
            self.assertEqual((r.status, r.json()["prefix"], r.json()["path"]),
                             (200, "/api", "/api/echo"))
            # /api/v3 and /api/v2x are a's (whole segments): counted by a only.
            a0, b0 = service_requests(m, "a"), service_requests(m, "b")
            self.get(m, "/api/v3/echo")
            self.get(m, "/api/v2x/echo")
            self.assertEqual((service_requests(m, "a"), service_requests(m, "b")), (a0 + 2, b0))
            self.get(m, "/api/v2")
            self.assertEqual((service_requests(m, "a"), service_requests(m, "b")),
                             (a0 + 2, b0 + 1))

    def test_route_object_methods_and_host(self):
        route = {"prefix": "/x", "methods": ["GET"], "host": "api.example.com"}
        with Muster([dummy("x", routes=[route])]).start() as m:
            wait_ready(m, "x")
            r = self.get(m, "/x/echo", host="api.example.com")
            self.assertEqual((r.status, r.json()["prefix"], r.json()["path"]),
                             (200, "/x", "/x/echo"))
            r = self.get(m, "/x/echo", host="api.example.com:8080")  # port ignored
            self.assertEqual(r.status, 200)
            for host in ("API.example.com.", "api.example.com.:8080"):  # a trailing dot too
                self.assertEqual(self.get(m, "/x/echo", host=host).status, 200, host)
            n0 = service_requests(m, "x")
            for method, host in (("POST", "api.example.com"), ("DELETE", "api.example.com"),
                                 ("GET", "other.example.com"), ("GET", "example.com"),
                                 ("GET", "t")):
                r = self.get(m, "/x/echo", method=method, host=host,
                             body=b"" if method == "POST" else None)
                self.assertEqual(r.status, 404, (method, host))
            self.assertEqual(service_requests(m, "x"), n0, "a non-matching request was routed")

    def test_no_route_404(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            for method, path in (("GET", "/"), ("GET", "/nope"), ("POST", "/nope/x"),
                                 ("GET", "/Dummy/echo")):
                r = self.get(m, path, method=method, body=b"" if method == "POST" else None)
                self.assertEqual(r.status, 404, path)
                self.assertTrue(r.body, "404 without a JSON body")
            self.assertEqual(service_requests(m, "dummy"), 0)


class AvailabilityTest(GatewayCase):

    def assert_503_retry_after(self, r, what):
        self.assertEqual(r.status, 503, "%s: %r" % (what, r))
        self.assertTrue(r.header("retry-after"), "%s: 503 without retry-after: %r" % (what, r))

    def test_failed_service_503(self):
        svcs = [dummy(), service("dead", ["/bin/false"], routes=["/dead"],
                                 restart={"max_restarts": 0})]
        with Muster(svcs).start() as m:
            wait_ready(m, "dummy")
            m.seen_or_expect(r"dead: failed: ")
            self.assert_503_retry_after(self.get(m, "/dead/x"), "failed")
            self.assertEqual(self.get(m, "/dummy/echo").status, 200)

    def test_starting_service_503(self):
        svcs = [dummy("slow", env={"DUMMY_NO_READY": "1"}, ready_timeout_ms=120000)]
        with Muster(svcs).start() as m:
            wait_gateway(m)
            m.seen_or_expect(r"slow\[0\]: spawn: spawned pid ")
            self.assert_503_retry_after(self.get(m, "/slow/echo"), "starting")

    def test_backoff_service_503(self):
        # exits at once; the first restart is immediate, the next waits a
        # minute in backoff
        svc = service("flaky", ["/bin/false"], routes=["/flaky"],
                      restart={"backoff_initial_ms": 60000, "backoff_max_ms": 60000,
                               "max_restarts": 10, "window_s": 600})
        with Muster([dummy(), svc]).start() as m:
            wait_ready(m, "dummy")
            m.seen_or_expect(r"flaky\[0\]: backoff: ")
            self.assert_503_retry_after(self.get(m, "/flaky/echo"), "backoff")

    def test_stopped_service_503_then_started_again(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            self.assertTrue(ctl(m, cmd="stop", service="dummy")["ok"])
            m.seen_or_expect(r"dummy\[0\]: exit: ")
            self.assert_503_retry_after(self.get(m, "/dummy/echo"), "stopped")
            self.assertTrue(ctl(m, cmd="start", service="dummy")["ok"])
            m.expect(r"dummy\[0\]: ready: ")
            self.assertEqual(self.get(m, "/dummy/echo").status, 200)

    def _hold_and_kill(self, m, pids, method):
        """Sends `method /dummy/sleep?ms=3000` on one connection, learns the
        idle instance with an echo on a second connection (least-loaded:
        the echo goes to the instance not holding the sleep; the sleep was
        read and dispatched before the echo's connection was even opened),
        SIGKILLs the busy one. Returns (client, victim pid, kill time)."""
        c = self.client(m)
        c.send(b"%s /dummy/sleep?ms=3000 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
                % method)
        idle = self.get(m, "/dummy/echo").json()["pid"]
        self.assertIn(idle, pids.values())
        (victim,) = set(pids.values()) - {idle}
        self.assertTrue(nothing_received_yet(c), "the sleep answered before the kill")
        os.kill(victim, signal.SIGKILL)
        return c, victim, time.monotonic()

    def test_idempotent_request_retried_when_instance_dies(self):
        with Muster([dummy(instances=2)]).start() as m:
            pids = wait_ready(m, "dummy", 2)
            c, victim, t_kill = self._hold_and_kill(m, pids, b"GET")
            r = self.read(c, "GET sleep, busy instance killed")
            self.assertEqual(r.status, 200, "GET not retried on the other instance: %r" % r)
            self.assertEqual(r.json()["slept_ms"], 3000)
            self.assertTrue(wait_pid_gone(victim))
            # the connection is still usable
            c.request("GET", "/dummy/echo")
            self.assertEqual(self.read(c).status, 200)

    def test_non_idempotent_request_not_retried_502(self):
        with Muster([dummy(instances=2)]).start() as m:
            pids = wait_ready(m, "dummy", 2)
            c, victim, t_kill = self._hold_and_kill(m, pids, b"POST")
            r = self.read(c, "POST sleep, busy instance killed")
            self.assertEqual(r.status, 502, "POST: %r" % r)
            self.assertLess(time.monotonic() - t_kill, 2.5, "502 only after the sleep's time")

    def test_retries_zero_get_502(self):
        with Muster([dummy(instances=2)], gateway=gw(retries=0)).start() as m:
            pids = wait_ready(m, "dummy", 2)
            c, victim, t_kill = self._hold_and_kill(m, pids, b"GET")
            r = self.read(c, "GET with retries 0, busy instance killed")
            self.assertEqual(r.status, 502, r)

    def test_crash_retried_once_then_502(self):
        # /crash kills the instance that gets it: the GET is retried once
        # on the other instance, which crashes too; then 502.
        with Muster([dummy(instances=2)]).start() as m:
            pids = wait_ready(m, "dummy", 2)
            r = self.get(m, "/dummy/crash")
            self.assertEqual(r.status, 502, r)
            for pid in pids.values():
                self.assertTrue(wait_pid_gone(pid), "instance %d did not get the retry" % pid)
            m.seen_or_expect(r"dummy\[0\]: exit: exited with code 1")
            m.seen_or_expect(r"dummy\[1\]: exit: exited with code 1")
            # both come back, and were not tried a third time by that request
            while len(re.findall(r"dummy\[\d\]: ready: ", m.log_text())) < 4:
                m.expect(r"dummy\[\d\]: ready: ")
            self.assertEqual(self.get(m, "/dummy/echo").status, 200)
            self.assertEqual(len(re.findall(r"exit: exited with code 1", m.log_text())), 2)

    def test_request_timeout_504_keeps_connection(self):
        with Muster([dummy()], gateway=gw(request_timeout_ms=500)).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            t0 = time.monotonic()
            c.send(b"GET /dummy/sleep?ms=5000 HTTP/1.1\r\nHost: t\r\n\r\n")
            r = self.read(c, "sleep 5000 with request_timeout_ms 500")
            took = time.monotonic() - t0
            self.assertEqual(r.status, 504, r)
            self.assertGreaterEqual(took, 0.45)
            self.assertLess(took, 3.0, "504 long after request_timeout_ms")
            c.request("GET", "/dummy/echo")  # keep-alive: same connection still usable
            r = self.read(c, "echo after 504")
            self.assertEqual(r.status, 200)
            # the instance dropped the cancelled request: it is not busy
            st = ctl(m, cmd="status", service="dummy")["services"][0]["instances"][0]
            self.assertEqual(st["inflight"], 0, st)

    def test_answer_already_received_beats_the_timeout(self):
        # muster stalls (here: stopped) past request_timeout_ms while the
        # answer reaches its channel. On waking, the answer that is there
        # wins over the timer that expired meanwhile (as in nginx, which
        # handles events before timers): 200, not a 504 for a response
        # muster holds.
        d = tempfile.mkdtemp(prefix="muster-test-")
        self.addCleanup(shutil.rmtree, d, True)
        answered = os.path.join(d, "answered")
        hold = service("hold", ["misbehave_service"], routes=["/hold"],
                       env={"MISBEHAVE": "hold", "MISBEHAVE_ANSWERED_FILE": answered})
        with Muster([hold], gateway=gw(request_timeout_ms=300)).start() as m:
            pid = wait_ready(m, "hold")[0]
            logs = LogFollow(m, "hold")
            self.addCleanup(logs.close)
            c = self.client(m)
            c.send(b"GET /hold/x HTTP/1.1\r\nHost: t\r\n\r\n")
            logs.expect(r"request \d+$")  # dispatched: the timer runs
            m.signal(signal.SIGSTOP)
            try:
                os.kill(pid, signal.SIGUSR1)
                poll_until(lambda: os.path.exists(answered), what="the answer written")
                time.sleep(0.6)  # the stall: twice request_timeout_ms, muster stopped
            finally:
                m.signal(signal.SIGCONT)
            r = self.read(c, "the answer held in the channel")
            self.assertEqual((r.status, r.body), (200, b"late"), r)
            c.request("GET", "/hold/now")
            self.assertEqual(self.read(c).status, 200)

    def test_stream_outlives_request_timeout(self):
        with Muster([dummy()], gateway=gw(request_timeout_ms=500)).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            t0 = time.monotonic()
            c.send(b"GET /dummy/stream?n=5&interval_ms=300 HTTP/1.1\r\nHost: t\r\n\r\n")
            version, status, reason, hl, raw = c.read_head()
            heads = dict(hl)
            self.assertEqual(status, 200, raw)
            self.assertEqual(heads.get("transfer-encoding", "").lower(), "chunked", raw)
            self.assertNotIn("content-length", heads, raw)
            self.assertTrue(heads.get("content-type", "").startswith("text/event-stream"), raw)
            self.assertTrue(heads.get("x-request-id"), raw)
            body, times = b"", []
            for data, t in c.iter_chunks():
                body += data
                for _ in range(body.count(b"\n\n") - len(times)):  # complete events
                    times.append(t - t0)
            events = sse_events(body)
            self.assertEqual([e.get("id") for e in events], ["0", "1", "2", "3", "4"], body)
            self.assertLess(times[0], 1.0, "first event late: %r" % times)
            self.assertGreaterEqual(times[-1], 4 * 0.3 * 0.95, times)
            self.assertGreaterEqual(times[-1] - times[0], 3 * 0.3, "not event by event: %r"
                                    % times)
            c.request("GET", "/dummy/echo")
            self.assertEqual(self.read(c).status, 200)

    def test_max_inflight_sheds_503(self):
        # queue_timeout_ms 0: no queue, the overload is shed at once (the
        # queue itself: tests/gw/test_resilience.py)
        with Muster([dummy(max_inflight=1)], gateway=gw(queue_timeout_ms=0)).start() as m:
            wait_ready(m, "dummy")
            held = self.client(m)
            t0 = time.monotonic()
            held.send(b"GET /dummy/sleep?ms=3000 HTTP/1.1\r\nHost: t\r\n\r\n")
            r = self.get(m, "/dummy/echo")  # opened after the sleep was dispatched
            self.assertEqual(r.status, 503, "second request not shed: %r" % r)
            self.assertLess(time.monotonic() - t0, 2.5, "the 503 waited (queued)")
            self.assertTrue(nothing_received_yet(held))
            r = self.read(held)
            self.assertEqual((r.status, r.json()["slept_ms"]), (200, 3000))
            self.assertEqual(self.get(m, "/dummy/echo").status, 200)

    def test_invalid_service_response_502(self):
        # misbehave_service (a test helper) answers with an invalid status,
        # header name or header value (CR LF: response splitting).
        svc = service("bad", ["misbehave_service"], routes=["/bad"],
                      env={"MISBEHAVE": "bad_reply"})
        with Muster([dummy(), svc]).start() as m:
            wait_ready(m, "dummy")
            m.seen_or_expect(r"bad\[0\]: ready: ")
            for kind in ("status", "name", "value"):
                c = self.client(m)
                c.request("GET", "/bad/x?kind=" + kind)
                r = self.read(c, kind)
                self.assertEqual(r.status, 502, "%s: %r" % (kind, r))
                self.assertNotIn("set-cookie", dict(r.header_list), kind)
                closed, extra = c.wait_closed(0)
                self.assertEqual(extra, b"", "%s: bytes after the 502: %r" % (kind, extra))
                c.close()
            self.assertEqual(self.get(m, "/dummy/echo").status, 200)


class ConnectionTest(GatewayCase):

    def test_http11_keepalive_many_requests(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            for i in range(5):
                c.request("GET", "/dummy/echo?i=%d" % i)
                r = self.read(c)
                self.assertEqual((r.status, r.json()["query"]), (200, "i=%d" % i))
            c.request("POST", "/dummy/echo", body=b"last", headers=[("Connection", "close")])
            r = self.read(c)
            self.assertEqual(r.json()["body"], "last")
            self.assert_closed(c, "after Connection: close")

    def test_http_client_keepalive(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            host, port = gateway_addr(m)
            conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
            self.addCleanup(conn.close)
            conn.request("GET", "/dummy/echo")
            r = conn.getresponse()
            r.read()
            sock = conn.sock
            for _ in range(3):
                conn.request("GET", "/dummy/echo")
                r = conn.getresponse()
                self.assertEqual(r.status, 200)
                r.read()
            self.assertIs(conn.sock, sock, "http.client had to reconnect")

    def test_http10_without_keepalive_closes(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            c.send(b"GET /dummy/echo HTTP/1.0\r\n\r\n")
            r = self.read(c, "HTTP/1.0")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["path"], "/dummy/echo")
            if not r.closed:
                self.assert_closed(c, "HTTP/1.0 without keep-alive")

    def test_keepalive_timeout_closes_idle_connection(self):
        with Muster([dummy()], gateway=gw(keepalive_timeout_ms=500)).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            c.request("GET", "/dummy/echo")
            self.assertEqual(self.read(c).status, 200)
            t0 = time.monotonic()
            self.assert_closed(c, "idle keep-alive connection")
            took = time.monotonic() - t0
            self.assertGreaterEqual(took, 0.4, "closed before keepalive_timeout_ms")
            self.assertLess(took, 5.0, "closed long after keepalive_timeout_ms")

    def test_pipelined_requests_answered_in_order(self):
        with Muster([dummy(instances=2)]).start() as m:
            wait_ready(m, "dummy", 2)
            c = self.client(m)
            c.send(b"GET /dummy/sleep?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n"
                   b"GET /dummy/echo?n=2 HTTP/1.1\r\nHost: t\r\n\r\n"
                   b"GET /dummy/sleep?ms=10 HTTP/1.1\r\nHost: t\r\n\r\n")
            r1, r2, r3 = self.read(c), self.read(c), self.read(c)
            self.assertEqual((r1.status, r1.json().get("slept_ms")), (200, 300), r1)
            self.assertEqual((r2.status, r2.json().get("query")), (200, "n=2"), r2)
            self.assertEqual((r3.status, r3.json().get("slept_ms")), (200, 10), r3)
            self.assertEqual(len({r.header("x-request-id") for r in (r1, r2, r3)}), 3)

    def test_pipelined_with_bodies_and_error(self):
        # a POST with a body, a 404 and a chunked POST back to back
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            c.send(b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nonE"
                   b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n"
                   b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + chunked([b"tw", b"o"]))
            r1, r2, r3 = self.read(c), self.read(c), self.read(c)
            self.assertEqual((r1.status, r1.json()["body"]), (200, "onE"))
            self.assertEqual(r2.status, 404)
            self.assertEqual((r3.status, r3.json()["body"]), (200, "two"))

    def test_max_connections(self):
        g = gw(max_connections=20, keepalive_timeout_ms=120000, header_timeout_ms=120000)
        with Muster([dummy()], gateway=g).start() as m:
            wait_ready(m, "dummy")
            conns = []
            for i in range(20):  # 20 accepted, served, then idle
                c = self.client(m)
                c.request("GET", "/dummy/echo")
                self.assertEqual(self.read(c).status, 200, "connection %d" % i)
                conns.append(c)
            try:
                extra = self.client(m)
            except ConnectionRefusedError:
                extra = None  # refused: accepted
            if extra is not None:
                try:
                    extra.request("GET", "/dummy/echo")
                except (BrokenPipeError, ConnectionResetError):
                    pass
                try:
                    r = extra.read_response()
                except EOFError:
                    r = None  # closed (or reset) without an answer: accepted
                if r is not None:
                    self.check_common(r, "21st connection")
                    self.assertEqual(r.status, 503, "21st connection served: %r" % r)
                    self.assert_closed(extra, "21st connection after its 503")
                extra.close()
            self.assertIsNone(m.proc.poll(), "muster died")
            conns[0].request("GET", "/dummy/echo")  # the 20 are still served
            self.assertEqual(self.read(conns[0]).status, 200)
            for c in conns:
                c.close()
            # Once the server has seen them close, new clients are served
            # again; until then each attempt ends with a 503 or a close.
            deadline = time.monotonic() + TIMEOUT
            while True:
                c = RawClient(gateway_addr(m), connect=False)
                try:
                    c.connect()
                    c.request("GET", "/dummy/echo")
                    r = c.read_response()
                    if r.status == 200:
                        break
                    self.assertEqual(r.status, 503, r)
                except (EOFError, BrokenPipeError, ConnectionResetError, ConnectionRefusedError):
                    pass
                finally:
                    c.close()
                self.assertLess(time.monotonic(), deadline, "never served again")
            self.assertIsNone(m.proc.poll(), "muster died")


class BodyTest(GatewayCase):

    def test_expect_100_continue(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            c.send(b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            version, status, reason, hl, raw = c.read_head()
            self.assertEqual(status, 100, raw)
            self.assertTrue(raw.startswith(b"HTTP/1.1 100 Continue\r\n"), raw)
            c.send(b"hello")
            r = self.read(c)
            self.assertEqual((r.status, r.json()["body"]), (200, "hello"))

    def test_chunked_upload(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            parts = [b"hello", b" ", b"chunked " * 100, b"world\r\n", b"x" * 4000]
            c = self.client(m)
            c.request("POST", "/dummy/echo", chunked_parts=parts)
            r = self.read(c)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["body"], b"".join(parts).decode())
            # with chunk extensions, upper-case hex and a trailer
            c.send(b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"A;ext=1\r\n0123456789\r\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n"
                   b"X-Trailer: t\r\n\r\n")
            r = self.read(c)
            self.assertEqual((r.status, r.json()["body"]), (200, "0123456789abcdefghijklmnopqrstuvwxyz"))

    def test_2mb_response(self):
        n = 2 * 1024 * 1024
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            c.request("GET", "/dummy/bytes?n=%d" % n)
            r = self.read(c)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("content-length"), str(n))
            self.assertEqual(len(r.body), n)
            self.assertEqual(r.body, bytes(ord("a") + i % 26 for i in range(n)))
            c.request("GET", "/dummy/echo")  # framing intact: the next response parses
            self.assertEqual(self.read(c).status, 200)

    def test_binary_body_round_trip(self):
        body = bytes(range(256)) * 4 + b"\xff\xfe\x00\xc3("
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            r = self.get(m, "/dummy/echo", method="POST", body=body,
                         headers=[("Content-Type", "application/octet-stream")])
            self.assertEqual(r.status, 200)
            doc = r.json()
            self.assertIn("body_base64", doc, doc)
            self.assertEqual(base64.b64decode(doc["body_base64"]), body)

    def test_utf8_body_round_trip(self):
        text = "héllo wörld ✓ \u00e9\U0001F600"
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            r = self.get(m, "/dummy/echo", method="PUT", body=text.encode())
            self.assertEqual((r.status, r.json()["method"], r.json()["body"]), (200, "PUT", text))


class HealthTest(GatewayCase):

    @staticmethod
    def states(doc):
        s = doc.get("services")
        if isinstance(s, dict):
            return {k: v if isinstance(v, str) else v.get("state") for k, v in s.items()}
        if isinstance(s, list):
            return {x.get("name"): x.get("state") for x in s}
        return s

    def test_health_ok(self):
        with Muster([dummy(), dummy("other", instances=2)]).start() as m:
            wait_ready(m, "dummy")
            wait_ready(m, "other", 2)
            host, port = gateway_addr(m)
            conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
            self.addCleanup(conn.close)
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, body)
            self.assertTrue(r.getheader("content-type", "").startswith("application/json"))
            self.assertTrue(r.getheader("x-request-id"))
            self.assertEqual(json.loads(body)["status"], "ok")

    def test_health_503_lists_states(self):
        svcs = [dummy(), service("dead", ["/bin/false"], routes=["/dead"],
                                 restart={"max_restarts": 0})]
        with Muster(svcs).start() as m:
            wait_ready(m, "dummy")
            m.seen_or_expect(r"dead: failed: ")
            c = self.client(m)
            c.request("GET", "/healthz")
            r = c.read_response()
            # a health report, not an error: its body need not have "error"
            self.check_common(r, "health 503", error_json=False)
            self.assertEqual(r.status, 503, r)
            self.assertTrue(r.header("content-type", "").startswith("application/json"), r)
            doc = r.json()
            self.assertNotEqual(doc.get("status"), "ok")
            self.assertEqual(self.states(doc), {"dummy": "running", "dead": "failed"}, doc)

    def test_health_path_configured(self):
        with Muster([dummy()], gateway=gw(health_path="/-/health")).start() as m:
            wait_ready(m, "dummy")
            r = self.get(m, "/-/health")
            self.assertEqual((r.status, r.json()["status"]), (200, "ok"))
            self.assertEqual(self.get(m, "/healthz").status, 404)


class BalancingTest(GatewayCase):

    def test_both_instances_used(self):
        with Muster([dummy(instances=2)]).start() as m:
            pids = wait_ready(m, "dummy", 2)
            host, port = gateway_addr(m)
            seen = []
            for _ in range(20):
                conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
                try:
                    conn.request("GET", "/dummy/echo")
                    r = conn.getresponse()
                    self.assertEqual(r.status, 200)
                    seen.append(json.loads(r.read())["pid"])
                finally:
                    conn.close()
            self.assertEqual(set(seen), set(pids.values()), seen)

    def test_never_routed_to_unready_instance(self):
        script = ('if [ "$MUSTER_INSTANCE" = 1 ]; then export DUMMY_NO_READY=1; fi; '
                  'exec dummy_service')
        svc = service("dummy", ["/bin/sh", "-c", script], instances=2, routes=["/dummy"],
                      ready_timeout_ms=120000)
        with Muster([svc]).start() as m:
            pids = wait_ready(m, "dummy", 1)
            m.seen_or_expect(r"dummy\[1\]: spawn: spawned pid ")
            c = self.client(m)
            for _ in range(20):
                c.request("GET", "/dummy/echo")
                r = self.read(c)
                self.assertEqual((r.status, r.json()["instance"], r.json()["pid"]),
                                 (200, 0, pids[0]))

    def test_killed_instance_gets_no_traffic(self):
        with Muster([dummy(instances=2, restart={"policy": "never"})]).start() as m:
            pids = wait_ready(m, "dummy", 2)
            os.kill(pids[1], signal.SIGKILL)
            m.expect(r"dummy\[1\]: exit: killed by signal 9")
            for _ in range(10):
                r = self.get(m, "/dummy/echo")
                self.assertEqual((r.status, r.json()["pid"]), (200, pids[0]))
            self.assertTrue(pid_alive(pids[0]))


class AccessLogTest(GatewayCase):

    def test_access_log_lines(self):
        with Muster([dummy()], gateway=gw(access_log="logs/access.log")).start() as m:
            wait_ready(m, "dummy")
            sent = [self.get(m, "/dummy/echo", headers=[("X-Request-Id", "rid-1")]),
                    self.get(m, "/nope"),
                    self.get(m, "/dummy/echo?q=1", method="POST", body=b"abc")]
            m.signal(signal.SIGTERM)
            self.assertEqual(m.wait(), 0)
            with open(os.path.join(m.dir, "logs", "access.log")) as f:
                text = f.read()
            lines = [json.loads(line) for line in text.splitlines() if line.strip()]
            self.assertEqual(len(lines), 3, text)
            keys = ("time", "remote", "method", "path", "status", "bytes", "duration_ms",
                    "service", "instance", "request_id")
            for line, r in zip(lines, sent):
                self.assertIsInstance(line, dict)
                for k in keys:
                    self.assertIn(k, line, line)
                self.assertEqual(line["status"], r.status, line)
                self.assertEqual(line["request_id"], r.header("x-request-id"), line)
                self.assertIsInstance(line["bytes"], int)
                self.assertIsInstance(line["duration_ms"], (int, float))
                self.assertGreaterEqual(line["duration_ms"], 0)
                self.assertTrue(line["time"])
                self.assertIn("127.0.0.1", str(line["remote"]))
            first, second, third = lines
            self.assertEqual((first["method"], first["path"], first["service"],
                              first["instance"], first["request_id"]),
                             ("GET", "/dummy/echo", "dummy", 0, "rid-1"))
            self.assertGreater(first["bytes"], 0)
            self.assertEqual((second["path"], second["status"]), ("/nope", 404))
            self.assertIn(second["service"], (None, ""))
            self.assertEqual((third["method"], third["service"], third["status"]),
                             ("POST", "dummy", 200))
            self.assertTrue(third["path"].startswith("/dummy/echo"), third)

    def test_access_log_follows_a_reload(self):
        # As nginx's reload does: a new path is opened (what was buffered
        # goes to the old file first), "" turns the log off, and the same
        # path again appends to that file.
        with Muster([dummy()], gateway=gw(access_log="logs/a.log")).start() as m:
            wait_ready(m, "dummy")

            def reload_to(path, seen):
                m.config["gateway"]["access_log"] = path
                m.write_config()
                self.assertTrue(ctl(m, cmd="reload")["ok"])
                m.expect(r"access log: " + seen)

            ids = []
            for path, seen in (("logs/b.log", r'now ".*/logs/b\.log"'), ("", "off"),
                               ("logs/a.log", r'now ".*/logs/a\.log"'), (None, None)):
                r = self.get(m, "/dummy/echo")
                self.assertEqual(r.status, 200)
                ids.append(r.header("x-request-id"))
                if path is not None:
                    reload_to(path, seen)
            m.signal(signal.SIGTERM)
            self.assertEqual(m.wait(), 0)

            def logged(name):
                with open(os.path.join(m.dir, "logs", name)) as f:
                    return [json.loads(line)["request_id"] for line in f if line.strip()]

            self.assertEqual(logged("a.log"), [ids[0], ids[3]])
            self.assertEqual(logged("b.log"), [ids[1]])  # ids[2] came while it was off


if __name__ == "__main__":
    unittest.main()
