"""HTTP/2 on the gateway (SPEC §13): h2c with prior knowledge on the plain
listener, each stream one request with SPEC §4's answers, and the limits
against abusive clients (128 streams, rapid reset, PING and SETTINGS
floods, oversized and invalid header blocks). Real clients: curl
--http2-prior-knowledge, h2load, and Debian's python3-h2 for frames crafted
by hand."""
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from gwtest import GatewayCase, dummy, free_port, gateway_addr, gw, service_requests, wait_ready  # noqa: E402
from musterproc import Muster, TIMEOUT, http_get  # noqa: E402

import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.errors  # noqa: E402
import h2.events  # noqa: E402
import h2.exceptions  # noqa: E402
import h2.settings  # noqa: E402
from hyperframe.frame import ContinuationFrame, HeadersFrame  # noqa: E402

ENHANCE_YOUR_CALM = h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
COMPRESSION_ERROR = h2.errors.ErrorCodes.COMPRESSION_ERROR


class Stream:
    """What came back on one stream."""

    def __init__(self):
        self.status = None
        self.headers = {}
        self.data = b""
        self.ended = False
        self.reset = None  # the RST_STREAM code, if the server reset it


class H2Client:
    """A python3-h2 client connection to the gateway, read event by event."""

    def __init__(self, addr, timeout=TIMEOUT):
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(
            client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.streams = {}
        self.goaway = None  # the GOAWAY error code, once received
        self.closed = False
        self.host = "%s:%d" % addr
        self.ack = True  # False: received DATA is not acknowledged (windows stay shut)
        self.flush()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            try:
                self.sock.sendall(data)
            except (BrokenPipeError, ConnectionResetError):
                self.closed = True

    def request(self, path, method="GET", headers=(), body=None, end=True):
        sid = self.conn.get_next_available_stream_id()
        hdrs = [(":method", method), (":path", path), (":scheme", "http"),
                (":authority", self.host)] + list(headers)
        self.conn.send_headers(sid, hdrs, end_stream=end and body is None)
        self.streams[sid] = Stream()
        self.flush()
        if body is not None:
            self.send_body(sid, body, end)
        return sid

    def send_body(self, sid, body, end=True):
        """Sends body as the server's windows allow (reading its updates)."""
        while True:
            n = min(len(body), self.conn.local_flow_control_window(sid),
                    self.conn.max_outbound_frame_size)
            if self.done(sid):
                return  # answered (413) before the body was all sent
            if n > 0 or not body:
                self.conn.send_data(sid, body[:n], end_stream=end and n == len(body))
                body = body[n:]
                self.flush()
                if not body:
                    return
            elif not self.pump():
                return  # closed before the body was all sent

    def pump(self):
        """Reads once and handles what came. False once the server closed."""
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
            return False
        for ev in self.conn.receive_data(data):
            self.on_event(ev)
        self.flush()
        return True

    def on_event(self, ev):
        st = self.streams.get(getattr(ev, "stream_id", None))
        if isinstance(ev, h2.events.ResponseReceived):
            st.headers = dict(ev.headers)
            st.raw_headers = list(ev.headers)  # hpack's tuples tell how each was sent
            st.status = int(st.headers[":status"])
        elif isinstance(ev, h2.events.DataReceived):
            st.data += ev.data
            if self.ack:
                self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.StreamEnded):
            st.ended = True
        elif isinstance(ev, h2.events.StreamReset):
            if st is not None:
                st.reset = ev.error_code
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaway = ev.error_code

    def wait(self, cond, what):
        """Reads until cond() holds; fails when the server closes first."""
        deadline = time.monotonic() + TIMEOUT
        while not cond():
            if time.monotonic() > deadline or not self.pump():
                if cond():
                    return
                raise AssertionError("%s: the connection ended first (goaway %r)"
                                     % (what, self.goaway))

    def done(self, sid):
        st = self.streams[sid]
        return st.ended or st.reset is not None

    def get(self, path, **kw):
        sid = self.request(path, **kw)
        self.wait(lambda: self.done(sid), "GET " + path)
        return self.streams[sid]

    def until_closed(self):
        """Reads (dropping what comes) until the server closes; returns the
        GOAWAY code it sent."""
        deadline = time.monotonic() + TIMEOUT
        while self.pump():
            if time.monotonic() > deadline:
                raise AssertionError("the server did not close the connection")
        return self.goaway

    def send_raw(self, data):
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            self.closed = True

    def close(self):
        self.sock.close()


def admin_metrics(m):
    host, port = m.config["admin"]["listen"].rsplit(":", 1)
    status, _, body = http_get(m, "/metrics", addr=(host, int(port)))
    assert status == 200, status
    return body.decode()


def metric(text, name, labels=""):
    m = re.search(r"^%s%s (\d+)$" % (re.escape(name), re.escape(labels)), text, re.M)
    return int(m.group(1)) if m else None


def curl(m, *args):
    host, port = gateway_addr(m)
    out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-i", "--max-time",
                          str(int(TIMEOUT))] + list(args[:-1]) +
                         ["http://%s:%d%s" % (host, port, args[-1])],
                         capture_output=True, timeout=TIMEOUT + 5)
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return lines[0], headers, body


class H2Test(GatewayCase):
    def muster(self, instances=1, **gwkw):
        m = Muster([dummy(instances=instances)], gateway=gw(**gwkw),
                   admin={"listen": "127.0.0.1:%d" % free_port()}).start()
        self.addCleanup(m.stop)
        wait_ready(m, "dummy", instances)
        return m

    def client(self, m):
        c = H2Client(gateway_addr(m))
        self.addCleanup(c.close)
        return c

    # ---- what clients see ----

    def test_curl_get_post_head_stream(self):
        m = self.muster()
        status, h, body = curl(m, "-H", "X-Test: A", "/dummy/echo?x=1")
        self.assertEqual(status.strip(), "HTTP/2 200")
        self.assertTrue(h.get("x-request-id"))
        self.assertEqual(int(h["content-length"]), len(body))
        echo = json.loads(body)
        self.assertEqual((echo["method"], echo["path"], echo["query"]), ("GET", "/dummy/echo", "x=1"))
        self.assertEqual(echo["headers"]["host"], "%s:%d" % gateway_addr(m))  # from :authority
        self.assertEqual(echo["headers"]["x-test"], "A")
        self.assertEqual(echo["headers"]["x-request-id"], h["x-request-id"])
        status, _, body = curl(m, "--data-binary", "hello body", "/dummy/echo")
        self.assertEqual(json.loads(body)["body"], "hello body")
        status, h, body = curl(m, "-I", "/dummy/echo")  # HEAD: the length, no body
        self.assertEqual(status.strip(), "HTTP/2 200")
        self.assertGreater(int(h["content-length"]), 0)
        self.assertEqual(body, b"")
        status, h, body = curl(m, "/dummy/stream?n=3&interval_ms=20")
        self.assertEqual(status.strip(), "HTTP/2 200")
        self.assertNotIn("transfer-encoding", h)  # no connection-specific headers
        self.assertNotIn("connection", h)
        self.assertEqual(body.count(b"data: "), 3)
        status, _, body = curl(m, "/nowhere")
        self.assertEqual(status.strip(), "HTTP/2 404")
        self.assertEqual(json.loads(body)["error"], "no route for this path")

    def test_http1_client_on_the_same_port(self):
        m = self.muster()
        c = self.client(m)
        self.assertEqual(c.get("/dummy/echo").status, 200)
        status, _, body = http_get(m, "/dummy/echo")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["method"], "GET")

    def test_request_id_never_indexed(self):
        """x-request-id is new in every answer: sent as never indexed, so it
        does not churn the HPACK dynamic table (the headers that repeat do
        go in it)."""
        from hpack import NeverIndexedHeaderTuple
        m = self.muster()
        c = self.client(m)
        for _ in range(3):
            hs = dict((k, type(t)) for t in c.get("/dummy/echo").raw_headers for k in t[:1])
            self.assertIs(hs["x-request-id"], NeverIndexedHeaderTuple)
            self.assertIsNot(hs["content-type"], NeverIndexedHeaderTuple)

    def test_big_bodies_both_ways(self):
        """A body larger than the windows goes up (window updates follow
        what the service took) and one larger than the client's window
        comes down."""
        m = self.muster(max_body_bytes=4 << 20)
        c = self.client(m)
        body = b"0123456789abcdef" * 131072  # 2 MiB
        st = c.get("/dummy/echo", method="POST", body=body)
        self.assertEqual(st.status, 200, st.data[:200])
        self.assertEqual(json.loads(st.data)["body"], body.decode())
        st = c.get("/dummy/bytes?n=3000000")
        self.assertEqual((st.status, len(st.data)), (200, 3000000))
        st = c.get("/dummy/echo", method="POST", body=b"x" * (5 << 20))
        self.assertEqual(st.status, 413)

    def test_h2load(self):
        m = self.muster(instances=2)
        host, port = gateway_addr(m)
        out = subprocess.run(["h2load", "-n", "2000", "-c", "10", "-m", "10",
                              "http://%s:%d/dummy/echo" % (host, port)],
                             capture_output=True, text=True, timeout=TIMEOUT * 4)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"requests: 2000 total, 2000 started, 2000 done, "
                                     r"2000 succeeded, 0 failed, 0 errored, 0 timeout")
        text = admin_metrics(m)
        self.assertGreaterEqual(metric(text, "muster_requests_by_version_total",
                                       '{version="2"}'), 2000)
        self.assertGreaterEqual(metric(text, "muster_h2_connections_total"), 10)

    def test_instance_dies_on_one_stream(self):
        """A POST whose instance dies gets its 502 on its stream; a request
        on another stream of the same connection is answered."""
        m = self.muster(instances=2)
        c = self.client(m)
        slow = c.request("/dummy/sleep?ms=300")
        crash = c.request("/dummy/crash", method="POST", body=b"x")
        c.wait(lambda: c.done(crash) and c.done(slow), "both streams")
        self.assertEqual(c.streams[crash].status, 502)
        self.assertEqual(c.streams[slow].status, 200)
        self.assertEqual(c.get("/dummy/echo").status, 200)  # the connection goes on

    def test_websocket_handshake_refused(self):
        """No RFC 8441: an HTTP/1.1 handshake's headers are refused on their
        stream (RFC 9113 §8.2.2); the connection goes on."""
        m = self.muster()
        c = self.client(m)
        c.conn.config.validate_outbound_headers = False
        c.conn.config.normalize_outbound_headers = False  # h2 would drop them
        sid = c.request("/dummy/ws", headers=[("upgrade", "websocket"),
                                              ("connection", "Upgrade"),
                                              ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
                                              ("sec-websocket-version", "13")])
        c.wait(lambda: c.done(sid), "the handshake")
        st = c.streams[sid]
        self.assertEqual(st.reset, h2.errors.ErrorCodes.PROTOCOL_ERROR, vars(st))
        self.assertEqual(c.get("/dummy/echo").status, 200)

    # ---- limits ----

    def test_500_streams_within_the_limit(self):
        """The server says 128 concurrent streams; a client that keeps to it
        gets all of its 500 requests answered on one connection."""
        m = self.muster()
        c = self.client(m)
        c.wait(lambda: c.conn.remote_settings.max_concurrent_streams == 128, "SETTINGS")
        sent = 0
        while sent < 500 or not all(c.done(s) for s in c.streams):
            while sent < 500 and c.conn.open_outbound_streams < 128:
                c.request("/dummy/echo?i=%d" % sent)
                sent += 1
            if not all(c.done(s) for s in c.streams):
                self.assertTrue(c.pump(), "the server closed")
        self.assertEqual([s.status for s in c.streams.values()], [200] * 500)

    def test_500_streams_at_once(self):
        """A client that ignores the limit: at most 128 are taken, the rest
        are refused on their own streams, and the connection stays."""
        m = self.muster()
        c = self.client(m)
        for i in range(500):  # before the server's SETTINGS are read
            c.request("/dummy/sleep?ms=2000&i=%d" % i)  # none ends meanwhile
        c.wait(lambda: all(c.done(s) for s in c.streams), "500 streams")
        ok = [s for s in c.streams.values() if s.status == 200]
        refused = [s for s in c.streams.values() if s.reset is not None]
        self.assertLessEqual(len(ok), 128 + 1)
        self.assertGreater(len(ok), 0)
        self.assertEqual(len(ok) + len(refused), 500)
        self.assertEqual({s.reset for s in refused}, {h2.errors.ErrorCodes.REFUSED_STREAM})
        self.assertIsNone(c.goaway)
        self.assertEqual(c.get("/dummy/echo").status, 200)

    def test_rapid_reset(self):
        """HEADERS then RST_STREAM, over and over (CVE-2023-44487): GOAWAY
        ENHANCE_YOUR_CALM and the close, within a bounded number of streams."""
        m = self.muster()
        c = self.client(m)
        for i in range(2000):
            sid = c.request("/dummy/sleep?ms=1000")
            c.conn.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
            if i % 100 == 99:
                c.flush()
                if c.closed:
                    break
        c.flush()
        self.assertEqual(c.until_closed(), ENHANCE_YOUR_CALM)
        text = admin_metrics(m)
        self.assertGreaterEqual(metric(text, "muster_h2_goaways_total", '{reason="rapid_reset"}'), 1)
        self.assertLess(metric(text, "muster_h2_streams_total"), 1000)
        self.assertEqual(self.client(m).get("/dummy/echo").status, 200)  # muster is fine

    def flood(self, send_one):
        """5000 frames of send_one(client, i): GOAWAY ENHANCE_YOUR_CALM."""
        m = self.muster()
        c = self.client(m)
        for i in range(5000):
            send_one(c, i)
            if i % 500 == 499:
                c.flush()
        c.flush()
        self.assertEqual(c.until_closed(), ENHANCE_YOUR_CALM)
        self.assertGreaterEqual(metric(admin_metrics(m), "muster_h2_goaways_total",
                                       '{reason="flood"}'), 1)

    def test_ping_flood(self):
        self.flood(lambda c, i: c.conn.ping(i.to_bytes(8, "big")))

    def test_settings_flood(self):
        self.flood(lambda c, i: c.conn.update_settings(
            {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 65535 + i}))

    def test_header_list_over_the_limit(self):
        """Over max_header_bytes: 431 on that stream, the connection goes on;
        far past it: GOAWAY and the close."""
        m = self.muster(max_header_bytes=4096)
        c = self.client(m)
        st = c.get("/dummy/echo", headers=[("x-big", "a" * 5000)])
        self.assertEqual(st.status, 431)
        self.assertEqual(json.loads(st.data)["status"], 431)
        self.assertEqual(c.get("/dummy/echo").status, 200)
        st = c.get("/dummy/echo?q=" + "a" * 5000)  # :path passes it: 414, as over HTTP/1.1
        self.assertEqual((st.status, json.loads(st.data)["error"]), (414, "request target too long"))
        c.request("/dummy/echo", headers=[("x-big-%d" % i, "b" * 1000) for i in range(40)])
        self.assertEqual(c.until_closed(), ENHANCE_YOUR_CALM)
        self.assertGreaterEqual(metric(admin_metrics(m), "muster_h2_goaways_total",
                                       '{reason="header_block"}'), 1)

    def test_target_bytes_refused(self):
        """A fragment or a bad percent-escape in :path: 400 on that stream,
        as over HTTP/1.1; the connection goes on."""
        m = self.muster()
        c = self.client(m)
        for path, why in (("/dummy/echo#x", "a fragment (#) in the request target"),
                          ("/dummy/%zz", "a malformed percent-escape in the request path"),
                          ("/dummy/a%00", "an escaped NUL (%00) in the request path")):
            st = c.get(path)
            self.assertEqual((st.status, json.loads(st.data)["error"]), (400, why))
        self.assertEqual(c.get("/dummy/echo?q=100%").status, 200)
        # dot segments resolved as over HTTP/1.1; above "/" refused
        st = c.get("/dummy/x/%2e%2e/echo?a=/..")
        self.assertEqual((st.status, json.loads(st.data)["path"]), (200, "/dummy/echo"))
        st = c.get("/dummy/../../echo")
        self.assertEqual((st.status, json.loads(st.data)["error"]),
                         (400, "the request path climbs above /"))
        # :authority with userinfo (RFC 9113 §8.3.1; nghttp2 takes it): as a host header
        sid = c.conn.get_next_available_stream_id()
        c.conn.send_headers(sid, [(":method", "GET"), (":path", "/dummy/echo"),
                                  (":scheme", "http"), (":authority", "u@t")], end_stream=True)
        c.streams[sid] = Stream()
        c.flush()
        c.wait(lambda: c.done(sid), "GET with :authority u@t")
        st = c.streams[sid]
        self.assertEqual((st.status, json.loads(st.data)["error"]), (400, "invalid host header"))
        self.assertEqual(service_requests(m, "dummy"), 2)

    def test_invalid_hpack(self):
        m = self.muster()
        c = self.client(m)
        self.assertEqual(c.get("/dummy/echo").status, 200)
        f = HeadersFrame(101, data=b"\xff\xff\xff\xff\xff\xff\xff\x7f",
                         flags=["END_HEADERS", "END_STREAM"])
        c.send_raw(f.serialize())
        self.assertEqual(c.until_closed(), COMPRESSION_ERROR)
        self.assertGreaterEqual(metric(admin_metrics(m), "muster_h2_goaways_total",
                                       '{reason="compression_error"}'), 1)

    def test_too_many_continuation_frames(self):
        """A header block in more than 8 CONTINUATION frames (CVE-2024-27316's
        kind): GOAWAY ENHANCE_YOUR_CALM, counted as header_block."""
        m = self.muster()
        c = self.client(m)
        self.assertEqual(c.get("/dummy/echo").status, 200)
        # static-table fields and literals without indexing: the server's
        # HPACK table is left as the client's connection has it
        block = b"\x82\x86\x84\x01\x01x" + b"".join(
            b"\x00\x03x-%d\x01v" % (i % 10) for i in range(40))
        step = len(block) // 10 + 1
        frags = [block[i:i + step] for i in range(0, len(block), step)]
        self.assertEqual(len(frags), 10)
        out = HeadersFrame(101, data=frags[0], flags=["END_STREAM"]).serialize()
        for k, frag in enumerate(frags[1:]):
            last = k == len(frags) - 2
            out += ContinuationFrame(101, data=frag, flags=["END_HEADERS"] if last else []).serialize()
        c.send_raw(out)
        self.assertEqual(c.until_closed(), ENHANCE_YOUR_CALM)
        self.assertGreaterEqual(metric(admin_metrics(m), "muster_h2_goaways_total",
                                       '{reason="header_block"}'), 1)

    def test_goaway_reaches_a_client_still_sending(self):
        """A connection error (WINDOW_UPDATE of 0 on stream 0), then 8 MB
        more before the client reads: the GOAWAY PROTOCOL_ERROR reaches it,
        not a reset (muster reads and drops what follows before it closes,
        as for HTTP/1: the lingering close)."""
        m = self.muster()
        c = self.client(m)
        self.assertEqual(c.get("/dummy/echo").status, 200)
        bad = struct.pack(">I", 4)[1:] + b"\x08\x00" + struct.pack(">II", 0, 0)
        ping = struct.pack(">I", 8)[1:] + b"\x06\x00" + struct.pack(">I", 0) + b"p" * 8
        c.send_raw(bad + ping * ((8 << 20) // len(ping)))
        self.assertFalse(c.closed, "the send was cut by a reset")
        self.assertEqual(c.until_closed(), h2.errors.ErrorCodes.PROTOCOL_ERROR)
        self.assertEqual(self.client(m).get("/dummy/echo").status, 200)

    # ---- timeouts and shutdown ----

    def test_idle_connection_gets_goaway(self):
        m = self.muster(keepalive_timeout_ms=300)
        c = self.client(m)
        self.assertEqual(c.get("/dummy/echo").status, 200)
        self.assertEqual(c.until_closed(), h2.errors.ErrorCodes.NO_ERROR)

    def test_silent_connection_is_closed(self):
        """A preface and nothing more: closed after header_timeout_ms."""
        m = self.muster(header_timeout_ms=300)
        c = self.client(m)
        self.assertEqual(c.until_closed(), h2.errors.ErrorCodes.NO_ERROR)

    def test_shutdown_finishes_streams(self):
        """SIGTERM with a stream under way: GOAWAY (curl opens no new stream
        on the connection), the stream's answer, the close, muster exits 0."""
        m = self.muster()
        host, port = gateway_addr(m)
        p = subprocess.Popen(["curl", "-sS", "--http2-prior-knowledge", "-o", "-", "-w",
                              "\n%{http_code} %{http_version}", "--max-time", str(int(TIMEOUT)),
                              "http://%s:%d/dummy/sleep?ms=500" % (host, port)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(p.kill)
        deadline = time.monotonic() + TIMEOUT
        while service_requests(m, "dummy") < 1:  # the instance has it
            self.assertLess(time.monotonic(), deadline, "the request never reached the instance")
        m.proc.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, err)
        self.assertTrue(out.endswith(b"\n200 2"), out)
        self.assertEqual(m.proc.wait(TIMEOUT), 0)


class H2SSETest(unittest.TestCase):
    """An SSE hold over HTTP/2: the stream muster keeps is one HTTP/2
    stream, fed with publications (with positions), while other streams of
    the same connection come and go."""

    def test_sse_hold_on_a_stream(self):
        sys.path.insert(0, os.path.join(HERE, "..", "rt"))
        import rtlib
        m = Muster([rtlib.ws_svc()], realtime={"history_size": 10}).start()
        self.addCleanup(m.stop)
        rtlib.wait_ready(m)
        c = H2Client(gateway_addr(m))
        self.addCleanup(c.close)
        sid = c.request("/chat/sse?rooms=news")
        c.wait(lambda: b"hello" in c.streams[sid].data, "the hold's first bytes")
        self.assertEqual(c.streams[sid].status, 200)
        self.assertEqual(c.streams[sid].headers.get("content-type"), "text/event-stream")
        for i in range(3):  # each publication on a stream of its own
            st = c.get("/chat/publish?room=news", method="POST", body=b"over h2 %d" % i)
            self.assertEqual(st.status, 200, st.data)
        c.wait(lambda: c.streams[sid].data.count(b"data: over h2") == 3, "three events")
        text = c.streams[sid].data.decode()
        self.assertEqual(re.findall(r"data: (over h2 \d)", text),
                         ["over h2 0", "over h2 1", "over h2 2"])
        self.assertEqual(len(re.findall(r"^id: \w+-\d+$", text, re.M)), 3)  # positions
        self.assertFalse(c.streams[sid].ended)  # the hold goes on


class H2CutTest(GatewayCase):
    """An answer cut by its instance's death, over HTTP/2."""

    def test_cut_stream_delivers_what_muster_had_then_resets(self):
        # The client's window lets 16 bytes out; the Node upstream writes a
        # chunk a millisecond and is killed once it wrote some. The bytes
        # muster holds for the stream go when the client opens its window,
        # then RST_STREAM INTERNAL_ERROR (as HTTP/1 writes its queue before
        # the close). Before, the reset came at once: 16 bytes, no more.
        sys.path.insert(0, os.path.join(HERE, "..", "up"))
        from uplib import up_svc, wait_ready as up_ready
        m = Muster([up_svc(instances=1)]).start()
        self.addCleanup(m.stop)
        up_ready(m, n=1)
        pid = int(m.seen_or_expect(r"web\[0\]: spawn: spawned pid (\d+)").group(1))
        c = H2Client(gateway_addr(m))
        self.addCleanup(c.close)
        c.ack = False
        c.conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 16})
        c.flush()

        def wchar():
            with open("/proc/%d/io" % pid) as f:
                return int(re.search(r"^wchar: (\d+)", f.read(), re.M).group(1))
        w0 = wchar()
        sid = c.request("/stream?n=100000&ms=1")
        c.wait(lambda: len(c.streams[sid].data) >= 16, "the first 16 bytes")
        deadline = time.monotonic() + TIMEOUT
        while wchar() - w0 < 2000 and time.monotonic() < deadline:
            c.sock.settimeout(0.05)  # nothing comes: the window is shut
            try:
                c.pump()
            except socket.timeout:
                pass
        c.sock.settimeout(TIMEOUT)
        os.kill(pid, signal.SIGKILL)
        m.expect(r"web\[0\]: exit: killed by signal 9")
        c.ack = True
        c.conn.increment_flow_control_window(1 << 20, stream_id=sid)
        c.conn.increment_flow_control_window(1 << 20)
        c.flush()
        c.wait(lambda: c.done(sid), "the end of the cut stream")
        st = c.streams[sid]
        self.assertEqual(st.reset, h2.errors.ErrorCodes.INTERNAL_ERROR)
        self.assertFalse(st.ended)
        lines = st.data.decode().split("\n")
        self.assertGreater(len(lines), 20, "the held bytes came: %d bytes" % len(st.data))
        self.assertEqual(lines[:-1], ["chunk %d" % i for i in range(len(lines) - 1)])


if __name__ == "__main__":
    unittest.main()
