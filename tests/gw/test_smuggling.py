"""Gateway request-parsing hardening (SPEC §4): malformed requests and
request-smuggling vectors get 400 and the connection is closed (nothing
after them is read as a request, nothing reaches the service); header and
the host header (RFC 9112 §3.2); body limits (431, 413, 100-continue
over the limit); the header timeout
(408, slowloris). Raw sockets only; each test starts its own muster."""
import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest import GatewayCase, dummy, gateway_addr, gw, service_requests, wait_ready  # noqa: E402
from httpclient import chunked  # noqa: E402
from musterproc import Muster  # noqa: E402

# Appended to some vectors: a request that must never be answered or
# forwarded (it would be the smuggled one).
SMUGGLED = b"GET /dummy/echo?smuggled=1 HTTP/1.1\r\nHost: t\r\n\r\n"


class MalformedTest(GatewayCase):
    """Each: status 400, JSON error, then the server closes the connection
    (recv returns b"" with no further response), the service received
    nothing, and muster still serves a clean request."""

    def assert_400_close(self, vectors):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            for name, data in vectors:
                with self.subTest(name):
                    c = self.client(m)
                    try:
                        c.send(data)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    what = "%s: sent %r" % (name, data)
                    try:
                        r = c.read_response()
                    except EOFError as e:
                        self.fail("%s: closed without a response (%s)" % (what, e))
                    self.check_common(r, what)
                    self.assertEqual(r.status, 400, "%s: got %r" % (what, r))
                    self.assert_closed(c, what)
                    c.close()
            self.assertEqual(service_requests(m, "dummy"), 0,
                             "a rejected request reached the service")
            r = self.get(m, "/dummy/echo")
            self.assertEqual(r.status, 200)
            self.assertIsNone(m.proc.poll())

    def echo_headers(self, m, data):
        """Sends data (one request for /dummy/echo) on a new connection:
        the headers the service saw, once it answered 200."""
        c = self.client(m)
        c.send(data)
        r = c.read_response()
        c.close()
        self.assertEqual(r.status, 200, r)
        return json.loads(r.body)["headers"]

    def test_malformed_request_line(self):
        self.assert_400_close([
            ("no target", b"GET\r\n\r\n"),
            ("junk after version", b"GET /dummy/echo HTTP/1.1 junk\r\nHost: t\r\n\r\n"),
            ("space in target", b"GET /dummy/e cho HTTP/1.1\r\nHost: t\r\n\r\n"),
            ("not a version", b"GET /dummy/echo HTTP1.1\r\nHost: t\r\n\r\n"),
            ("binary junk", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n"),
        ])

    def test_malformed_header_line(self):
        self.assert_400_close([
            ("no colon", b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX-A b\r\n\r\n"),
            ("bad name char", b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX(A): b\r\n\r\n"),
            ("empty name", b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\n: b\r\n\r\n"),
        ])

    def test_content_length_and_transfer_encoding(self):
        self.assert_400_close([
            ("CL then TE", b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
            ("TE then CL", b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked"
                           b"\r\nContent-Length: 60\r\n\r\n0\r\n\r\n" + SMUGGLED),
        ])

    def test_two_different_content_lengths(self):
        self.assert_400_close([
            ("4 then 5", b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n"
                         b"Content-Length: 5\r\n\r\nabcde"),
            ("5 then 4", b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                         b"Content-Length: 4\r\n\r\nabcd" + SMUGGLED),
        ])

    def test_transfer_encoding_chunked_identity(self):
        self.assert_400_close([
            ("chunked, identity", b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\n"
                                  b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
                                  + SMUGGLED),
        ])

    def test_transfer_encoding_in_http10(self):
        # RFC 9112 §6.1: an HTTP/1.0 message with transfer-encoding has
        # faulty framing (an HTTP/1.0 server behind a proxy reads no chunks)
        self.assert_400_close([
            ("HTTP/1.0 chunked", b"POST /dummy/echo HTTP/1.0\r\nHost: t\r\n"
                                 b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
        ])

    def test_obs_fold(self):
        self.assert_400_close([
            ("space continuation", b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX-A: a\r\n b\r\n\r\n"),
            ("tab continuation", b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX-A: a\r\n\tb\r\n\r\n"),
            ("folded TE", b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                          b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
            # a fold after an empty value: llhttp skips its blank as leading
            # whitespace and read "chunked" as the value
            ("folded TE alone", b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\n"
                                b"Transfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n" + SMUGGLED),
            ("fold after an empty value",
             b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX-A:\r\n\t b\r\n\r\n"),
        ])

    def test_empty_header_values_pass(self):
        # "X-Empty:" is a header with an empty value (curl -H 'X-Empty;'), not a fold
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            for data in (b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX-Empty:\r\nX-B: 1\r\n\r\n",
                         b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX-B: 1\r\nX-Empty: \t\r\n\r\n"):
                with self.subTest(data):
                    seen = self.echo_headers(m, data)
                    self.assertEqual((seen.get("x-empty"), seen.get("x-b")), ("", "1"), seen)

    def test_bare_lf(self):
        self.assert_400_close([
            ("all LF", b"GET /dummy/echo HTTP/1.1\nHost: t\n\n"),
            ("LF after request line", b"GET /dummy/echo HTTP/1.1\nHost: t\r\n\r\n"),
            ("LF after a header", b"GET /dummy/echo HTTP/1.1\r\nHost: t\nX-A: b\r\n\r\n"),
        ])

    def test_invalid_chunk_size(self):
        head = b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        self.assert_400_close([
            ("zz", head + b"zz\r\nabc\r\n0\r\n\r\n"),
            ("negative", head + b"-3\r\nabc\r\n0\r\n\r\n"),
            ("size overflow", head + b"ffffffffffffffffff1\r\nabc\r\n0\r\n\r\n"),
            ("data longer than size (non-hex)", head + b"3\r\nabcxyz\r\n0\r\n\r\n"),
            # "def" after the 3 bytes is not the CRLF that must end the chunk;
            # read as a chunk size it would swallow what follows
            ("data longer than size (hex)", head + b"3\r\nabcdef\r\n0\r\n\r\n"),
            ("no CRLF after data", head + b"3\r\nabc0\r\n\r\n"),
        ])

    def test_nul_in_header_value(self):
        self.assert_400_close([
            ("NUL", b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX-A: a\x00b\r\n\r\n"),
        ])


    def test_target_form(self):
        # "*" is for OPTIONS alone; an absolute form is http(s):// (llhttp
        # takes any scheme, and "ftp://x/y" reached the service as a path).
        self.assert_400_close([
            ("GET *", b"GET * HTTP/1.1\r\nHost: t\r\n\r\n"),
            ("ftp scheme", b"GET ftp://t/dummy/echo HTTP/1.1\r\nHost: t\r\n\r\n" + SMUGGLED),
            ("ws scheme", b"GET ws://t/dummy/echo HTTP/1.1\r\nHost: t\r\n\r\n"),
            # the authority stands for the host: it must be one (RFC 9110 §4.2)
            ("userinfo", b"GET http://u@t/dummy/echo HTTP/1.1\r\nHost: t\r\n\r\n" + SMUGGLED),
            ("empty authority", b"GET http:///dummy/echo HTTP/1.1\r\nHost: t\r\n\r\n"),
        ])

    def test_target_bytes(self):
        # A fragment is never sent (HAProxy and Envoy refuse it: a program
        # cutting the path at "#" sees another path than the one routed);
        # a bad or NUL percent-escape in the path is refused, as nginx does.
        self.assert_400_close([
            ("fragment", b"GET /dummy/echo#x HTTP/1.1\r\nHost: t\r\n\r\n" + SMUGGLED),
            ("fragment after query", b"GET /dummy/echo?a#x HTTP/1.1\r\nHost: t\r\n\r\n"),
            ("bad escape", b"GET /dummy/%zzecho HTTP/1.1\r\nHost: t\r\n\r\n" + SMUGGLED),
            ("cut escape", b"GET /dummy/echo%4 HTTP/1.1\r\nHost: t\r\n\r\n"),
            ("escaped NUL", b"GET /dummy/echo%00.txt HTTP/1.1\r\nHost: t\r\n\r\n"),
        ])
        with Muster([dummy()]).start() as m:  # what the rule lets through
            wait_ready(m, "dummy")
            r = self.get(m, "/dummy/echo?q=100%&r=%00#")
            self.assertEqual(r.status, 400, r)
            r = self.get(m, "/dummy/echo?q=100%&r=%00")
            self.assertEqual((r.status, json.loads(r.body)["query"]), (200, "q=100%&r=%00"), r)
            r = self.get(m, "/dummy/%7Eecho%2F")  # good escapes reach the service (its 404)
            self.assertEqual((r.status, r.body), (404, b'{"error":"no such endpoint"}'), r)
            self.assertEqual(service_requests(m, "dummy"), 2)

    def test_dot_segments(self):
        # "/other/../dummy/echo" is dummy's "/dummy/echo" (RFC 3986
        # §5.2.4, "%2e" a dot, as nginx and Envoy read it): the route and
        # the path the service gets never disagree; above "/" is a 400.
        self.assert_400_close([
            ("above the root", b"GET /../dummy/echo HTTP/1.1\r\nHost: t\r\n\r\n" + SMUGGLED),
            ("above, escaped", b"GET /dummy/%2e%2e/%2E%2E/etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n"),
        ])
        with Muster([dummy(), dummy("other")]).start() as m:
            wait_ready(m, "dummy")
            wait_ready(m, "other")
            for target, prefix in (("/other/../dummy/echo?a=/../b", "/dummy"),
                                   ("/dummy/%2e%2e/other/./echo?a=/../b", "/other"),
                                   ("/dummy/x/.%2E/echo?a=/../b", "/dummy")):
                r = self.get(m, target)
                self.assertEqual(r.status, 200, (target, r))
                echo = json.loads(r.body)
                self.assertEqual((echo["prefix"], echo["path"], echo["query"]),
                                 (prefix, prefix + "/echo", "a=/../b"), target)
            r = self.get(m, "/dummy/...%2fecho")  # no dot segment: as sent (the service's 404)
            self.assertEqual((r.status, r.body), (404, b'{"error":"no such endpoint"}'), r)

    def test_host_header(self):
        # RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request
        # without host, with two, or with an invalid one (nginx does); a
        # host of "a, b" would otherwise reach the service as one value.
        self.assert_400_close([
            ("missing", b"GET /dummy/echo HTTP/1.1\r\nX-A: b\r\n\r\n" + SMUGGLED),
            ("twice", b"GET /dummy/echo HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + SMUGGLED),
            ("twice, equal", b"GET /dummy/echo HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"),
            ("space", b"GET /dummy/echo HTTP/1.1\r\nHost: a b\r\n\r\n"),
            ("empty", b"GET /dummy/echo HTTP/1.1\r\nHost:\r\n\r\n"),
            ("path", b"GET /dummy/echo HTTP/1.1\r\nHost: a/b\r\n\r\n"),
            ("userinfo", b"GET /dummy/echo HTTP/1.1\r\nHost: u@a\r\n\r\n"),
            ("bad port", b"GET /dummy/echo HTTP/1.1\r\nHost: a:8x\r\n\r\n"),
            ("bare IPv6", b"GET /dummy/echo HTTP/1.1\r\nHost: ::1\r\n\r\n"),
        ])

    def test_host_header_taken(self):
        # What the rule lets through: a port, an IPv6 literal, HTTP/1.0
        # without host (the service gets the address the client reached, as
        # an upstream program does), absolute form without host (its
        # authority is the host).
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            for data, host in (
                    (b"GET /dummy/echo HTTP/1.1\r\nHost: api.example:8080\r\n\r\n",
                     "api.example:8080"),
                    (b"GET /dummy/echo HTTP/1.1\r\nHost: [::1]:8080 \r\n\r\n", "[::1]:8080"),
                    (b"GET /dummy/echo HTTP/1.0\r\n\r\n", "%s:%d" % gateway_addr(m)),
                    (b"GET http://api.example/dummy/echo HTTP/1.1\r\n\r\n", "api.example")):
                with self.subTest(data):
                    self.assertEqual(self.echo_headers(m, data).get("host"), host)


class LimitTest(GatewayCase):

    def limits(self):
        return Muster([dummy()], gateway=gw(max_header_bytes=4096, max_body_bytes=1000))

    def test_headers_too_large_431_and_close(self):
        with self.limits().start() as m:
            wait_ready(m, "dummy")
            for name, hdrs in (("one big header", b"X-Big: " + b"a" * 5000 + b"\r\n"),
                               ("many headers", b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 40)
                                                        for i in range(150)))):
                with self.subTest(name):
                    c = self.client(m)
                    data = b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\n" + hdrs + b"\r\n"
                    c.send(data)
                    r = self.read(c, "%s (%d bytes of headers)" % (name, len(data)))
                    self.assertEqual(r.status, 431, r)
                    self.assert_closed(c, name)
                    c.close()
            # just under the limit is fine
            r = self.get(m, "/dummy/echo", headers=[("X-Ok", "c" * 3000)])
            self.assertEqual(r.status, 200)
            self.assertEqual(service_requests(m, "dummy"), 1)

    def test_body_too_large_413(self):
        with self.limits().start() as m:
            wait_ready(m, "dummy")
            r = self.get(m, "/dummy/echo", method="POST", body=b"x" * 1001)
            self.assertEqual(r.status, 413, r)
            r = self.get(m, "/dummy/echo", method="POST", body=b"x" * 1000)
            self.assertEqual((r.status, len(r.json()["body"])), (200, 1000))
            # content-length announced over the limit, body not sent yet
            c = self.client(m)
            c.send(b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n")
            r = self.read(c, "content-length 100000")
            self.assertEqual(r.status, 413, r)
            self.assertEqual(service_requests(m, "dummy"), 1)

    def test_chunked_body_too_large_413(self):
        with self.limits().start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            c.request("POST", "/dummy/echo", chunked_parts=[b"y" * 500] * 3)
            r = self.read(c, "1500 bytes chunked")
            self.assertEqual(r.status, 413, r)
            c = self.client(m)
            c.request("POST", "/dummy/echo", chunked_parts=[b"y" * 500, b"z" * 500])
            r = self.read(c, "1000 bytes chunked")
            self.assertEqual((r.status, len(r.json()["body"])), (200, 1000))
            self.assertEqual(service_requests(m, "dummy"), 1)

    def test_expect_100_continue_over_limit_413_without_continue(self):
        with self.limits().start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            c.send(b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n"
                   b"Expect: 100-continue\r\n\r\n")
            r = c.read_response(skip_interim=False)
            self.check_common(r, "100-continue over the limit")
            self.assertEqual(r.status, 413, "first answer must be the 413, not %r" % r)
            self.assertEqual(service_requests(m, "dummy"), 0)


class TimeoutTest(GatewayCase):

    def test_slowloris_header_timeout_408_and_close(self):
        with Muster([dummy()], gateway=gw(header_timeout_ms=500)).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            t0 = time.monotonic()
            c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and nothing more
            r = self.read(c, "incomplete headers")
            took = time.monotonic() - t0
            self.assertEqual(r.status, 408, r)
            self.assert_closed(c, "after the 408")
            self.assertGreaterEqual(took, 0.45, "408 before header_timeout_ms")
            self.assertLess(took, 3.0, "408 long after header_timeout_ms")
            # others are served meanwhile and after
            self.assertEqual(self.get(m, "/dummy/echo").status, 200)

    def test_slow_clients_do_not_block_others(self):
        with Muster([dummy()], gateway=gw(header_timeout_ms=1000)).start() as m:
            wait_ready(m, "dummy")
            slow = []
            for i in range(30):
                c = self.client(m)
                c.send(b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX-Slow: %d" % i)
                slow.append(c)
            t0 = time.monotonic()
            self.assertEqual(self.get(m, "/dummy/echo").status, 200)
            self.assertLess(time.monotonic() - t0, 0.9, "a fast client waited for slow ones")
            for c in slow:
                self.assertEqual(self.read(c).status, 408)
                self.assert_closed(c, "slow client")


if __name__ == "__main__":
    unittest.main()
