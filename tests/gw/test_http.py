"""Integration tests of the HTTP gateway (issue 4): every row of SPEC §4,
pipelining, 100-continue, chunked uploads, large and streamed responses,
slowloris, max_connections, and request-smuggling vectors. Real muster,
raw sockets for everything malformed or slow."""
import json
import os
import re
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import (Muster, ctl, free_port, gateway_addr, service,  # noqa: E402
                        TIMEOUT)


def dummy(name="dummy", instances=1, **kw):
    kw.setdefault("routes", ["/" + name])
    return service(name, ["dummy_service"], instances=instances, **kw)


class Resp:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    def json(self):
        return json.loads(self.body)


class Client:
    """A raw HTTP/1.1 connection that reads responses one at a time."""

    def __init__(self, m, timeout=TIMEOUT):
        self.sock = socket.create_connection(gateway_addr(m), timeout=timeout)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _take(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self):
        status_line = self._line()
        m = re.match(rb"HTTP/1\.1 (\d{3}) ", status_line)
        assert m, status_line
        headers = {}
        while True:
            line = self._line()
            if not line:
                break
            k, v = line.split(b":", 1)
            headers[k.decode().lower()] = v.strip().decode()
        return int(m.group(1)), headers

    def chunks(self):
        """Yields each chunk of a chunked body as it arrives."""
        while True:
            size = int(self._line().split(b";")[0], 16)
            if size == 0:
                self._line()
                return
            data = self._take(size)
            assert self._take(2) == b"\r\n"
            yield data

    def response(self, head_only=False):
        status, headers = self.head()
        if head_only or status in (204, 304) or status < 200:
            return Resp(status, headers, b"")
        if headers.get("transfer-encoding") == "chunked":
            body = b"".join(self.chunks())
        else:
            assert "content-length" in headers, headers
            body = self._take(int(headers["content-length"]))
        return Resp(status, headers, body)

    def closed(self):
        """True when the server has closed the connection (after buffered data)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def get(m, path, headers=b"", method=b"GET", body=b""):
    c = Client(m)
    try:
        req = b"%s %s HTTP/1.1\r\nHost: t\r\n%s" % (method, path.encode(), headers)
        if body:
            req += b"Content-Length: %d\r\n" % len(body)
        c.send(req + b"\r\n" + body)
        return c.response(head_only=(method == b"HEAD"))
    finally:
        c.close()


def pids_of(m, name):
    r = ctl(m, cmd="status", service=name)
    return {i["index"]: i["pid"] for i in r["services"][0]["instances"] if i["state"] == "ready"}


def wait_ready(m, name, n):
    for i in range(n):
        m.seen_or_expect(r"%s\[%d\]: ready: " % (re.escape(name), i))


class GatewayTableTest(unittest.TestCase):
    """One test per row of the SPEC §4 table."""

    def test_every_response_has_length_and_request_id(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy", 1)
            r = get(m, "/dummy/echo")
            self.assertEqual(r.status, 200)
            self.assertIn("content-length", r.headers)
            self.assertTrue(r.headers["x-request-id"])
            # muster is the origin for an IPC service: an IMF-fixdate date (RFC 9110 §6.6.1)
            self.assertRegex(r.headers["date"], r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d "
                             r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} "
                             r"\d\d:\d\d:\d\d GMT$")
            r = get(m, "/nowhere")
            self.assertEqual(r.status, 404)
            self.assertIn("date", r.headers)  # its own answers too
            r = get(m, "/dummy/echo", b"X-Request-Id: abc-123\r\n")
            self.assertEqual(r.headers["x-request-id"], "abc-123")
            self.assertEqual(r.json()["headers"]["x-request-id"], "abc-123")

    def test_no_route_404(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy", 1)
            for path in ("/nope", "/dummyx/echo", "/"):
                r = get(m, path)
                self.assertEqual(r.status, 404, path)
                self.assertEqual(r.headers["content-type"], "application/json")
                self.assertIsInstance(r.json()["error"], str)

    def test_no_ready_instance_503_retry_after(self):
        svcs = [dummy(), service("dead", ["/bin/false"], routes=["/dead"],
                                 restart={"max_restarts": 0})]
        with Muster(svcs).start() as m:
            m.expect(r"dead: failed: ")
            r = get(m, "/dead/x")
            self.assertEqual(r.status, 503)
            self.assertIn("retry-after", r.headers)
            self.assertIn("error", r.json())

    def test_instance_dies_idempotent_retried_else_502(self):
        with Muster([dummy(instances=2)]).start() as m:
            wait_ready(m, "dummy", 2)
            for method, want in ((b"GET", 200), (b"POST", 502)):
                pids = set(pids_of(m, "dummy").values())
                c = Client(m)
                c.send(b"%s /dummy/sleep?ms=1500 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n"
                       % method)
                # Least-loaded balancing sends the echo to the idle instance:
                # the other one holds the sleep.
                (victim,) = pids - {get(m, "/dummy/echo").json()["pid"]}
                os.kill(victim, signal.SIGKILL)
                r = c.response()
                c.close()
                self.assertEqual(r.status, want, method)
                if method == b"GET":  # retried on the survivor, which answered
                    self.assertEqual(r.json()["slept_ms"], 1500)
                m.expect(r"dummy\[\d\]: ready: ")  # the replacement

    def test_request_timeout_504(self):
        gw = {"listen": "127.0.0.1:%d" % free_port(), "request_timeout_ms": 500}
        with Muster([dummy()], gateway=gw).start() as m:
            wait_ready(m, "dummy", 1)
            c = Client(m)
            t0 = time.monotonic()
            c.send(b"GET /dummy/sleep?ms=5000 HTTP/1.1\r\nHost: t\r\n\r\n")
            r = c.response()
            self.assertEqual(r.status, 504)
            self.assertLess(time.monotonic() - t0, 4.5)
            c.send(b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\n\r\n")  # still usable
            self.assertEqual(c.response().status, 200)
            c.close()

    def test_max_inflight_sheds_503(self):
        # queue_timeout_ms 0: no queue, shed at once (the queue:
        # tests/gw/test_resilience.py)
        gw = {"listen": "127.0.0.1:%d" % free_port(), "queue_timeout_ms": 0}
        with Muster([dummy(max_inflight=1)], gateway=gw).start() as m:
            wait_ready(m, "dummy", 1)
            c = Client(m)
            c.send(b"GET /dummy/sleep?ms=2000 HTTP/1.1\r\nHost: t\r\n\r\n")
            # No event says "routed": read the in-flight count from status
            # (bounded; each call is a round trip, not a sleep).
            deadline = time.monotonic() + TIMEOUT
            while ctl(m, cmd="status")["services"][0]["instances"][0]["inflight"] < 1:
                self.assertLess(time.monotonic(), deadline)
            r = get(m, "/dummy/echo")
            self.assertEqual(r.status, 503)
            self.assertIn("overloaded", r.json()["error"])
            self.assertEqual(c.response().status, 200)
            c.close()

    def test_malformed_requests_400_and_close(self):
        vectors = {
            "bad request line": b"GET\r\n\r\n",
            "doubled space": b"GET  /dummy/echo HTTP/1.1\r\nHost: t\r\n\r\n",
            "bad header line": b"GET /dummy/echo HTTP/1.1\r\nHost t\r\n\r\n",
            "CL and TE": b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "two CL": b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                      b"Content-Length: 5\r\n\r\nabcde",
            "TE chunked, identity": b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\n"
                                    b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
            "obs-fold": b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n",
            "bare LF": b"GET /dummy/echo HTTP/1.1\nHost: t\n\n",
            "invalid chunk size": b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\n"
                                  b"Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
            "NUL in header": b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n",
            "space before colon": b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX-A : a\r\n\r\n",
        }
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy", 1)
            for name, req in vectors.items():
                with self.subTest(name):
                    c = Client(m)
                    c.send(req)
                    r = c.response()
                    self.assertEqual(r.status, 400)
                    self.assertIn("error", r.json())
                    self.assertTrue(c.closed(), "connection left open")
                    c.close()
            self.assertEqual(get(m, "/dummy/echo").status, 200)

    def test_header_and_body_limits(self):
        gw = {"listen": "127.0.0.1:%d" % free_port(), "max_header_bytes": 4096,
              "max_body_bytes": 1000}
        with Muster([dummy()], gateway=gw).start() as m:
            wait_ready(m, "dummy", 1)
            self.assertEqual(get(m, "/dummy/echo", b"X-Big: " + b"a" * 5000 + b"\r\n").status, 431)
            r = get(m, "/dummy/echo?q=" + "a" * 5000)  # the target alone: 414, as nginx
            self.assertEqual((r.status, json.loads(r.body)["error"]), (414, "request target too long"))
            self.assertEqual(get(m, "/dummy/echo", method=b"POST", body=b"x" * 1001).status, 413)
            self.assertEqual(get(m, "/dummy/echo", method=b"POST", body=b"x" * 1000).status, 200)
            c = Client(m)
            c.send(b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   + b"".join(b"1f4\r\n" + b"y" * 500 + b"\r\n" for _ in range(3)) + b"0\r\n\r\n")
            self.assertEqual(c.response().status, 413)
            c.close()
            c = Client(m)  # 100-continue over the limit: 413 without "100 Continue"
            c.send(b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            self.assertEqual(c.response().status, 413)
            c.close()

    def test_client_still_sending_reads_the_413(self):
        # A client that sends its whole body before reading (Python's
        # http.client, `requests`) gets the early 413, not a reset: muster
        # reads and drops the rest of the body before it closes (RFC 9112
        # §9.6, nginx's lingering close).
        import http.client
        gw = {"listen": "127.0.0.1:%d" % free_port(), "max_body_bytes": 1000}
        with Muster([dummy()], gateway=gw).start() as m:
            wait_ready(m, "dummy", 1)
            host, port = gateway_addr(m)
            for chunked in (False, True):
                with self.subTest(chunked=chunked):
                    c = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
                    body = b"x" * (32 << 20)
                    if chunked:
                        c.request("POST", "/dummy/echo", body=iter([body]),
                                  encode_chunked=True)
                    else:
                        c.request("POST", "/dummy/echo", body=body)
                    r = c.getresponse()
                    self.assertEqual(r.status, 413)
                    self.assertIn(b"too large", r.read())
                    c.close()
            self.assertEqual(get(m, "/dummy/echo").status, 200)

    def test_header_timeout_408(self):
        gw = {"listen": "127.0.0.1:%d" % free_port(), "header_timeout_ms": 500}
        with Muster([dummy()], gateway=gw).start() as m:
            wait_ready(m, "dummy", 1)
            c = Client(m)
            t0 = time.monotonic()
            c.send(b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\n")  # and nothing more
            r = c.response()
            self.assertEqual(r.status, 408)
            self.assertTrue(c.closed())
            self.assertLess(time.monotonic() - t0, 4.5)
            c.close()

    def test_invalid_service_response_502(self):
        svc = service("bad", ["misbehave_service"], routes=["/bad"],
                      env={"MISBEHAVE": "bad_reply"})
        with Muster([dummy(), svc]).start() as m:
            m.seen_or_expect(r"bad\[0\]: ready: ")
            wait_ready(m, "dummy", 1)
            for q in ("status", "name", "value"):
                r = get(m, "/bad/x?kind=" + q)
                self.assertEqual(r.status, 502, q)
            self.assertEqual(get(m, "/dummy/echo").status, 200)

    def test_health_path(self):
        svcs = [dummy(), service("dead", ["/bin/false"], routes=["/dead"],
                                 restart={"max_restarts": 0})]
        with Muster(svcs[:1]).start() as m:
            wait_ready(m, "dummy", 1)
            r = get(m, "/healthz")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["status"], "ok")
        with Muster(svcs).start() as m:
            m.expect(r"dead: failed: ")
            wait_ready(m, "dummy", 1)
            r = get(m, "/healthz")
            self.assertEqual(r.status, 503)
            self.assertEqual(r.json()["services"], {"dummy": "running", "dead": "failed"})


class GatewayBehaviourTest(unittest.TestCase):

    def test_keepalive_pipelining_in_order(self):
        with Muster([dummy(instances=2)]).start() as m:
            wait_ready(m, "dummy", 2)
            c = Client(m)
            c.send(b"GET /dummy/sleep?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n"
                   b"GET /dummy/echo?n=2 HTTP/1.1\r\nHost: t\r\n\r\n"
                   b"GET /dummy/sleep?ms=10 HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(c.response().json()["slept_ms"], 300)
            self.assertEqual(c.response().json()["query"], "n=2")
            self.assertEqual(c.response().json()["slept_ms"], 10)
            c.close()

    def test_http10_closes_and_11_keeps_alive(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy", 1)
            c = Client(m)
            c.send(b"GET /dummy/echo HTTP/1.0\r\n\r\n")
            self.assertEqual(c.response().status, 200)
            self.assertTrue(c.closed())
            c.close()
            c = Client(m)
            for _ in range(3):
                c.send(b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\n\r\n")
                self.assertEqual(c.response().status, 200)
            c.close()

    def test_keepalive_timeout_closes_idle(self):
        gw = {"listen": "127.0.0.1:%d" % free_port(), "keepalive_timeout_ms": 300}
        with Muster([dummy()], gateway=gw).start() as m:
            wait_ready(m, "dummy", 1)
            c = Client(m)
            c.send(b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(c.response().status, 200)
            self.assertTrue(c.closed())  # recv returns b"" after ~300 ms
            c.close()

    def test_expect_100_continue(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy", 1)
            c = Client(m)
            c.send(b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            status, _ = c.head()
            self.assertEqual(status, 100)
            c.send(b"hello")
            r = c.response()
            self.assertEqual((r.status, r.json()["body"]), (200, "hello"))
            c.close()

    def test_chunked_upload_echo(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy", 1)
            c = Client(m)
            c.send(b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\n\r\n")
            self.assertEqual(c.response().json()["body"], "hello world")
            c.close()

    def test_binary_body_round_trip(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy", 1)
            body = bytes(range(256))
            r = get(m, "/dummy/echo", method=b"POST", body=body)
            import base64
            self.assertEqual(base64.b64decode(r.json()["body_base64"]), body)

    def test_2mb_response(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy", 1)
            r = get(m, "/dummy/bytes?n=2097152")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers["content-length"], "2097152")
            self.assertEqual(r.body, bytes(ord("a") + i % 26 for i in range(2097152)))

    def test_sse_stream_arrives_event_by_event(self):
        gw = {"listen": "127.0.0.1:%d" % free_port(), "request_timeout_ms": 500}
        with Muster([dummy()], gateway=gw).start() as m:
            wait_ready(m, "dummy", 1)
            c = Client(m)
            t0 = time.monotonic()
            c.send(b"GET /dummy/stream?n=5&interval_ms=300 HTTP/1.1\r\nHost: t\r\n\r\n")
            status, headers = c.head()
            self.assertEqual((status, headers["content-type"]), (200, "text/event-stream"))
            self.assertEqual(headers["transfer-encoding"], "chunked")
            events, times = [], []
            for chunk in c.chunks():
                events.append(chunk)
                times.append(time.monotonic() - t0)
            self.assertEqual(len(events), 5)
            self.assertTrue(events[0].startswith(b"id: 0\ndata: "))
            # event by event: the first came long before the last was sent,
            # and the stream outlived request_timeout_ms (which bounds the head)
            self.assertGreaterEqual(times[-1] - times[0], 4 * 0.3 * 0.9)
            c.send(b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(c.response().status, 200)
            c.close()

    def test_least_loaded_balancing_round_robin(self):
        with Muster([dummy(instances=2)]).start() as m:
            wait_ready(m, "dummy", 2)
            seen = [get(m, "/dummy/echo").json()["pid"] for _ in range(10)]
            self.assertEqual(len(set(seen)), 2)
            self.assertTrue(all(a != b for a, b in zip(seen, seen[1:])), "ties alternate")

    def test_routes_longest_prefix_method_and_host(self):
        svcs = [dummy("a", routes=["/api"]), dummy("b", routes=["/api/v2"]),
                dummy("c", routes=[{"prefix": "/x", "methods": ["GET"], "host": "api.example.com"}])]
        with Muster(svcs).start() as m:
            for n in "abc":
                wait_ready(m, n, 1)
            self.assertEqual(get(m, "/api/v2/echo").json()["prefix"], "/api/v2")
            self.assertEqual(get(m, "/api/echo").json()["prefix"], "/api")
            self.assertEqual(get(m, "/api/v22/echo").status, 404)  # a's, whole segments:
            # /api/v22/echo is under /api, and dummy has no /v22/echo endpoint
            self.assertEqual(get(m, "/x/echo").status, 404)  # Host: t
            c = Client(m)
            c.send(b"GET /x/echo HTTP/1.1\r\nHost: api.example.com:8080\r\n\r\n")
            self.assertEqual(c.response().status, 200)
            c.send(b"POST /x/echo HTTP/1.1\r\nHost: api.example.com\r\nContent-Length: 0\r\n\r\n")
            self.assertEqual(c.response().status, 404)
            c.close()

    def test_slowloris_does_not_block_others(self):
        gw = {"listen": "127.0.0.1:%d" % free_port(), "header_timeout_ms": 800}
        with Muster([dummy()], gateway=gw).start() as m:
            wait_ready(m, "dummy", 1)
            slow = [Client(m) for _ in range(50)]
            for s in slow:
                s.send(b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX-Slow: ")
            self.assertEqual(get(m, "/dummy/echo").status, 200)
            for s in slow:
                self.assertEqual(s.response().status, 408)
                s.close()

    def test_max_connections(self):
        gw = {"listen": "127.0.0.1:%d" % free_port(), "max_connections": 20}
        with Muster([dummy()], gateway=gw).start() as m:
            wait_ready(m, "dummy", 1)
            idle = [Client(m) for _ in range(20)]
            extra = Client(m)
            r = extra.response()
            self.assertEqual(r.status, 503)
            self.assertTrue(extra.closed())
            extra.close()
            for c in idle:
                c.close()
            # once they are gone, new clients are served again
            while True:
                r = get(m, "/dummy/echo")
                if r.status == 200:
                    break
                self.assertEqual(r.status, 503)
            self.assertIsNone(m.proc.poll())

    @unittest.skipUnless(os.environ.get("MUSTER_NODE"), "node not found")
    def test_node_example_service_through_the_gateway(self):
        src = os.environ.get("MUSTER_SRC_DIR", os.path.join(os.path.dirname(__file__), "../.."))
        svc = service("hello", [os.environ["MUSTER_NODE"],
                                os.path.join(src, "services/examples/hello_node.js")],
                      instances=2, routes=["/hello"])
        with Muster([svc]).start() as m:
            wait_ready(m, "hello", 2)
            r = get(m, "/hello/muster?x=1")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.headers["content-type"], "application/json")
            self.assertEqual((r.json()["hello"], r.json()["query"]), ("muster", "x=1"))
            self.assertEqual(len({get(m, "/hello/x").json()["pid"] for _ in range(4)}), 2)

    @unittest.skipUnless(os.environ.get("MUSTER_NODE"), "node not found")
    def test_node_example_websocket(self):
        # The same example speaks WebSocket through muster: an echo, a join.
        import asyncio
        import websockets
        src = os.environ.get("MUSTER_SRC_DIR", os.path.join(os.path.dirname(__file__), "../.."))
        svc = service("hello", [os.environ["MUSTER_NODE"],
                                os.path.join(src, "services/examples/hello_node.js")],
                      instances=2, routes=["/hello"])

        async def go(base):
            async with websockets.connect(base + "?name=Ada") as a, \
                    websockets.connect(base + "?name=Bob+B") as b:
                await a.send("hi there")
                self.assertEqual(await a.recv(), "hi there")
                await a.send(b"\x00\xff")
                self.assertEqual(await a.recv(), b"\x00\xff")
                await a.send("join lobby")
                self.assertEqual(await a.recv(), "Ada joined lobby")
                await b.send("join lobby")
                self.assertEqual(await a.recv(), "Bob B joined lobby")
                self.assertEqual(await b.recv(), "Bob B joined lobby")

        with Muster([svc]).start() as m:
            wait_ready(m, "hello", 2)
            asyncio.run(asyncio.wait_for(go("ws://%s:%d/hello/ws" % gateway_addr(m)), TIMEOUT))

    def test_access_log_lines(self):
        gw = {"listen": "127.0.0.1:%d" % free_port(), "access_log": "logs/access.log"}
        with Muster([dummy()], gateway=gw).start() as m:
            wait_ready(m, "dummy", 1)
            get(m, "/dummy/echo", b"X-Request-Id: rid-1\r\n")
            get(m, "/nope")
            m.signal(signal.SIGTERM)
            self.assertEqual(m.wait(), 0)
            with open(os.path.join(m.dir, "logs", "access.log")) as f:
                lines = [json.loads(line) for line in f]
            self.assertEqual([x["status"] for x in lines], [200, 404])
            first = lines[0]
            for key in ("time", "remote", "method", "path", "status", "bytes", "duration_ms",
                        "service", "instance", "request_id"):
                self.assertIn(key, first)
            self.assertEqual((first["service"], first["instance"], first["request_id"]),
                             ("dummy", 0, "rid-1"))
            self.assertIsNone(lines[1]["service"])


if __name__ == "__main__":
    unittest.main()
