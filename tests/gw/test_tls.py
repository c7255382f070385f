"""TLS at the gateway (SPEC §13; HTTP/2 itself is tests/gw/test_h2.py): the real muster with
gateway.tls, certificates made by the test with the `openssl` command (a
root CA, an intermediate, leaves for two names and a wildcard, an expired
one, one expiring in 5 days, a key that matches nothing), Python's `ssl`
as the client.

What is checked: requests through /dummy/echo over TLS with keep-alive
and x-forwarded-proto: https; the chain sent (the client trusts only the
root); SNI choosing by SAN, the wildcard, the first certificate for an
unknown name or none; TLS 1.1 refused; plain HTTP → 400 and close; a
silent or half-finished handshake dropped after header_timeout_ms;
garbage dropped; close_notify both ways; the handshake metrics; reload
re-reading the files (new handshakes get the new pair, an open connection
keeps working on the old), a broken pair on reload keeping the old one
(ok: false, the log says why); a reload adding `gateway.tls` and `admin`
to a muster without them (listening at once, the module opened then; a
bad pair failing that reload) and removing them (open connections go
on); `muster --check` on every bad pair; WebSockets over wss:// (to an
IPC service and through an upstream program's tunnel) and big bodies
through an upstream program over HTTP/1.1 and HTTP/2. The
TLS module (gateway/gw_tls_mod.h): a muster without TLS maps neither it
nor libssl/libcrypto, one with TLS does; a muster whose module is missing
refuses TLS, naming the file, at a start and in `--check`."""
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)

from gwtest import dummy, gateway_addr, wait_ready  # noqa: E402
from musterproc import Muster, TIMEOUT, bin_path, ctl, free_port, http_get  # noqa: E402
import tlscerts  # noqa: E402

HEADER_TIMEOUT_MS = 600


def make_certs(d):
    """The test's certificates in directory d; returns (factory, paths)."""
    f = tlscerts.CertFactory(d)
    c = {
        "a": f.leaf("a", ["a.test", "www.a.test"]),
        "b": f.leaf("b", ["*.b.test"]),
        "a2": f.leaf("a2", ["a.test", "www.a.test"]),  # a's replacement on reload
        "expired": f.leaf("expired", ["old.test"], start="20200101000000Z",
                          end="20210101000000Z"),
        "soon": f.leaf("soon", ["soon.test"], days=5),
        "other_key": (None, f.key("other")),
    }
    return f, c


def tls_config(port, certs, **kw):
    t = {"listen": "127.0.0.1:%d" % port,
         "certificates": [{"cert": c, "key": k} for c, k in certs]}
    t.update(kw)
    return t


class TLSMuster:
    """A muster with a TLS listener on certificates copied to its config
    dir as site-a.pem/key (changed by reload tests) and b.pem/key."""

    def __init__(self, certs, header_timeout_ms=HEADER_TIMEOUT_MS):
        self.tls_port, self.admin_port = free_port(), free_port()
        self.m = Muster([dummy()], admin={"listen": "127.0.0.1:%d" % self.admin_port})
        for name, (cert, key) in (("site-a", certs["a"]), ("b", certs["b"])):
            shutil.copy(cert, os.path.join(self.m.dir, name + ".pem"))
            shutil.copy(key, os.path.join(self.m.dir, name + ".key"))
        self.m.config["gateway"]["header_timeout_ms"] = header_timeout_ms
        self.m.config["gateway"]["tls"] = tls_config(
            self.tls_port, [("site-a.pem", "site-a.key"), ("b.pem", "b.key")])
        self.m.write_config()

    def start(self):
        self.m.start()
        wait_ready(self.m, "dummy")
        self.m.seen_or_expect(r"gateway: TLS listening on 127\.0\.0\.1:%d" % self.tls_port)
        return self

    def put(self, name, cert, key):
        """Replaces the config dir's NAME.pem / NAME.key."""
        for src, ext in ((cert, ".pem"), (key, ".key")):
            if src:
                shutil.copy(src, os.path.join(self.m.dir, name + ext))

    def metrics(self):
        status, _, body = http_get(self.m, "/metrics", addr=("127.0.0.1", self.admin_port))
        assert status == 200, status
        return body.decode()

    def handshakes(self, version, outcome):
        rx = r'muster_tls_handshakes_total\{version="%s",outcome="%s"\} (\d+)' % (
            re.escape(version), outcome)
        m = re.search(rx, self.metrics())
        return int(m.group(1)) if m else 0


class TLSClient:
    """One TLS connection with an HTTP/1.1 request helper."""

    def __init__(self, port, server_name, ctx):
        raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.s = ctx.wrap_socket(raw, server_hostname=server_name,
                                 suppress_ragged_eofs=False)
        self.buf = b""

    def peer_der(self):
        return self.s.getpeercert(binary_form=True)

    def _read_more(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("closed")
        self.buf += d

    def request(self, method, path, body=b"", headers=()):
        """Sends one request and reads its answer (content-length framing).
        Returns (status, headers dict, body)."""
        h = "".join("%s: %s\r\n" % kv for kv in headers)
        self.s.sendall(("%s %s HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n%s\r\n"
                        % (method, path, len(body), h)).encode() + body)
        while b"\r\n\r\n" not in self.buf:
            self._read_more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        hdrs = {k.lower(): v.strip() for k, v in (ln.split(":", 1) for ln in lines[1:])}
        n = int(hdrs.get("content-length", "0"))
        while len(self.buf) < n:
            self._read_more()
        body, self.buf = self.buf[:n], self.buf[n:]
        return status, hdrs, body

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="muster-tls-certs-")
        cls.factory, cls.certs = make_certs(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def ctx(self, verify=True):
        c = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        if verify:
            c.load_verify_locations(self.factory.root)  # the root only: the chain must come
        else:
            c.check_hostname = False
            c.verify_mode = ssl.CERT_NONE
        return c

    def connect(self, tm, name, verify=True, ctx=None):
        c = TLSClient(tm.tls_port, name, ctx or self.ctx(verify))
        self.addCleanup(c.close)
        return c

    def raw(self, tm):
        s = socket.create_connection(("127.0.0.1", tm.tls_port), timeout=TIMEOUT)
        self.addCleanup(s.close)
        return s

    def read_to_eof(self, s):
        """Reads until the server closes; returns the bytes."""
        data = b""
        while True:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                return data
            if not d:
                return data
            data += d


class TLSServing(Base):
    """One muster for the tests that change nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tm = TLSMuster(cls.certs).start()

    @classmethod
    def tearDownClass(cls):
        cls.tm.m.stop()
        super().tearDownClass()

    def test_get_keepalive_forwarded_proto(self):
        c = self.connect(self.tm, "a.test")
        self.assertEqual(c.s.version(), "TLSv1.3")
        self.assertIsNone(c.s.selected_alpn_protocol())  # none offered: none chosen
        for i in range(3):  # one connection, three requests
            status, h, body = c.request("POST", "/dummy/echo", b"hello %d" % i)
            self.assertEqual(status, 200, body)
            self.assertIn(b'"x-forwarded-proto":"https"', body)
            self.assertIn(b'"body":"hello %d"' % i, body)
            self.assertTrue(h.get("x-request-id"))
        self.assertEqual(c.peer_der(), tlscerts.leaf_der(self.certs["a"][0]))

    def test_big_answer(self):
        """A response larger than one SSL_write chunk and the socket buffer."""
        c = self.connect(self.tm, "a.test")
        body = b"x" * (700 * 1024)
        status, _, got = c.request("POST", "/dummy/echo", body)
        self.assertEqual(status, 200)
        self.assertIn(body, got)

    def h2_get(self, c, path):
        """One GET over HTTP/2 on TLS connection c (python3-h2); returns
        (status, body)."""
        import h2.config
        import h2.connection
        import h2.events
        conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
        conn.initiate_connection()
        conn.send_headers(1, [(":method", "GET"), (":scheme", "https"),
                              (":authority", "a.test"), (":path", path)], end_stream=True)
        c.s.sendall(conn.data_to_send())
        status, body, deadline = None, b"", time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            data = c.s.recv(65536)
            if not data:
                break
            for ev in conn.receive_data(data):
                if isinstance(ev, h2.events.ResponseReceived):
                    status = int(dict(ev.headers)[b":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    body += ev.data
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamEnded):
                    return status, body
            c.s.sendall(conn.data_to_send())
        raise AssertionError("no whole answer over HTTP/2 (status %s)" % status)

    def test_alpn_h2_when_offered(self):
        ctx = self.ctx()
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        c = self.connect(self.tm, "a.test", ctx=ctx)
        self.assertEqual(c.s.selected_alpn_protocol(), "h2")
        status, body = self.h2_get(c, "/dummy/echo")
        self.assertEqual(status, 200, body)
        self.assertIn(b'"x-forwarded-proto":"https"', body)
        self.assertIn(b'"host":"a.test"', body)  # from :authority

    def test_curl_http2_over_tls(self):
        """curl --http2 on the TLS port: ALPN h2, the chain checked against
        the test's root, the answer through a service."""
        port = self.tm.tls_port
        r = subprocess.run(["curl", "-sS", "--http2", "--cacert", self.factory.root,
                            "--resolve", "a.test:%d:127.0.0.1" % port, "-w",
                            "\n%{http_code} %{http_version}", "--max-time", str(int(TIMEOUT)),
                            "https://a.test:%d/dummy/echo" % port],
                           capture_output=True, timeout=TIMEOUT + 5)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.endswith(b"\n200 2"), r.stdout[-200:])
        self.assertIn(b'"x-forwarded-proto":"https"', r.stdout)

    def test_alpn_http11_when_h2_not_offered(self):
        ctx = self.ctx()
        ctx.set_alpn_protocols(["http/1.1"])
        c = self.connect(self.tm, "a.test", ctx=ctx)
        self.assertEqual(c.s.selected_alpn_protocol(), "http/1.1")
        self.assertEqual(c.request("GET", "/dummy/echo")[0], 200)

    def test_tls12_client(self):
        ctx = self.ctx()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        c = self.connect(self.tm, "www.a.test", ctx=ctx)
        self.assertEqual(c.s.version(), "TLSv1.2")
        self.assertEqual(c.request("GET", "/dummy/echo")[0], 200)

    def test_sni_picks_by_san(self):
        cases = [("a.test", "a"), ("www.a.test", "a"), ("x.b.test", "b"), ("API.B.TEST", "b")]
        for name, which in cases:
            c = self.connect(self.tm, name)  # verified: the name matches the cert sent
            self.assertEqual(c.peer_der(), tlscerts.leaf_der(self.certs[which][0]), name)

    def test_sni_unknown_or_none_gets_the_first(self):
        for name in ("unknown.test", "b.test", "a.b.b.test", None):
            c = self.connect(self.tm, name, verify=False)
            self.assertEqual(c.peer_der(), tlscerts.leaf_der(self.certs["a"][0]), name)
            self.assertEqual(c.request("GET", "/dummy/echo")[0], 200)

    def test_tls11_refused(self):
        before = self.tm.handshakes("TLSv1.1", "version_refused")
        ctx = self.ctx(verify=False)
        with warnings.catch_warnings():  # deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer TLS 1.1 at all
        with self.assertRaises(ssl.SSLError):
            self.connect(self.tm, "a.test", ctx=ctx)
        self.assertEqual(self.tm.handshakes("TLSv1.1", "version_refused"), before + 1)

    def test_plain_http_gets_400_and_close(self):
        before = self.tm.handshakes("unknown", "plain_http")
        s = self.raw(self.tm)
        s.sendall(b"GET /dummy/echo HTTP/1.1\r\nhost: x\r\n\r\n")
        data = self.read_to_eof(s)
        self.assertTrue(data.startswith(b"HTTP/1.1 400 "), data)
        self.assertIn(b"connection: close", data)
        self.assertRegex(data, rb"\r\ndate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\r\n")
        self.assertIn(b'"error":"plain HTTP sent to the TLS port', data)
        self.assertEqual(self.tm.handshakes("unknown", "plain_http"), before + 1)

    def test_silent_client_dropped_after_header_timeout(self):
        before = self.tm.handshakes("unknown", "timeout")
        for first in (b"", b"\x16\x03\x01\x02\x00\x01"):  # nothing; a ClientHello's start
            s = self.raw(self.tm)
            t0 = time.monotonic()
            s.sendall(first)
            self.assertEqual(self.read_to_eof(s), b"")
            took = time.monotonic() - t0
            self.assertGreaterEqual(took, HEADER_TIMEOUT_MS / 1000 * 0.9)
            self.assertLess(took, TIMEOUT)
        self.assertEqual(self.tm.handshakes("unknown", "timeout"), before + 2)

    def test_garbage_dropped(self):
        failed = self.tm.handshakes("unknown", "failed")
        not_tls = self.tm.handshakes("unknown", "not_tls")
        s = self.raw(self.tm)  # a handshake record's header, then junk
        s.sendall(b"\x16\x03\x01\x00\x30" + b"\xff" * 48 + os.urandom(200))
        data = self.read_to_eof(s)
        self.assertTrue(data == b"" or data[0] == 0x15, data)  # nothing, or an alert
        s = self.raw(self.tm)  # not even a record
        s.sendall(b"\x00\x01\x02\x03" + os.urandom(100))
        self.assertEqual(self.read_to_eof(s), b"")
        self.assertEqual(self.tm.handshakes("unknown", "failed"), failed + 1)
        self.assertEqual(self.tm.handshakes("unknown", "not_tls"), not_tls + 1)
        c = self.connect(self.tm, "a.test")  # and it still serves
        self.assertEqual(c.request("GET", "/dummy/echo")[0], 200)

    def test_garbage_after_handshake_closes(self):
        c = self.connect(self.tm, "a.test")
        self.assertEqual(c.request("GET", "/dummy/echo")[0], 200)
        raw = socket.fromfd(c.s.fileno(), socket.AF_INET, socket.SOCK_STREAM)  # beside TLS
        raw.settimeout(TIMEOUT)  # the fd is non-blocking (shared flags): wait with poll
        self.addCleanup(raw.close)
        raw.sendall(b"\x17\x03\x03\x00\x20" + os.urandom(32))  # a record that does not decrypt
        data = self.read_to_eof(raw)
        self.assertTrue(data == b"" or data[0] == 0x15, data)

    def test_client_close_notify_answered(self):
        c = self.connect(self.tm, "a.test")
        self.assertEqual(c.request("GET", "/dummy/echo")[0], 200)
        plain = c.s.unwrap()  # sends close_notify and waits for the server's
        self.addCleanup(plain.close)
        self.assertEqual(self.read_to_eof(plain), b"")

    def test_server_close_sends_close_notify(self):
        c = self.connect(self.tm, "a.test")
        status, h, _ = c.request("GET", "/dummy/echo", headers=[("connection", "close")])
        self.assertEqual(status, 200)
        self.assertEqual(h.get("connection"), "close")
        # suppress_ragged_eofs=False: an EOF without close_notify would raise
        self.assertEqual(c.s.recv(100), b"")

    def test_plain_listener_says_http(self):
        status, _, body = http_get(self.tm.m, "/dummy/echo")
        self.assertEqual(status, 200)
        self.assertIn(b'"x-forwarded-proto":"http"', body)

    def test_metrics_count_ok_handshakes(self):
        before = self.tm.handshakes("TLSv1.3", "ok")
        self.connect(self.tm, "a.test").request("GET", "/dummy/echo")
        self.assertEqual(self.tm.handshakes("TLSv1.3", "ok"), before + 1)


class TLSRealtime(Base):
    """What a page served over https does: WebSockets (wss://) to an IPC
    service and through an upstream program's tunnel, and big bodies both
    ways through an upstream program, over HTTP/1.1 and HTTP/2, each past
    the socket buffers so that backpressure over TLS is exercised (an
    upstream answer or tunnel paused on the client's queue used to wait
    for ever: the TLS flush that emptied the queue at once never said so)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sys.path.insert(0, os.path.join(HERE, "..", "up"))
        sys.path.insert(0, os.path.join(HERE, "..", "rt"))
        from uplib import HERE as UP, NODE, up_svc
        from rtlib import ws_svc
        helpers = os.path.join(UP, "..", "helpers")
        cls.tls_port = free_port()
        cls.m = Muster([ws_svc(), up_svc("web", 1, routes=["/web"], env={"BASE_PATH": "/web"}),
                        up_svc("tunnel", 1, command=[NODE, os.path.join(helpers, "ws_upstream.js")],
                               routes=["/chat/up"])],
                       realtime={"ws_max_message_bytes": 4 << 20})
        a_cert, a_key = cls.certs["a"]
        cls.m.config["gateway"]["tls"] = tls_config(cls.tls_port, [(a_cert, a_key)])
        cls.m.write_config()
        cls.m.start()
        for name in ("chat", "web", "tunnel"):
            cls.m.seen_or_expect(r"%s\[0\]: ready: " % name)
        cls.m.seen_or_expect(r"gateway: TLS listening on ")

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()
        super().tearDownClass()

    def ws(self, path, messages):
        """Sends each message over wss://a.test PATH and returns the answers."""
        import asyncio
        import websockets

        async def talk():
            async with websockets.connect("wss://a.test:%d%s" % (self.tls_port, path),
                                          ssl=self.ctx(), server_hostname="a.test",
                                          host="127.0.0.1", port=self.tls_port,
                                          max_size=None) as ws:
                first = await asyncio.wait_for(ws.recv(), TIMEOUT) if "up" in path else None
                out = []
                for msg in messages:
                    await ws.send(msg)
                    out.append(await asyncio.wait_for(ws.recv(), TIMEOUT))
                return first, out
        return asyncio.run(asyncio.wait_for(talk(), 2 * TIMEOUT))

    def test_wss_to_an_ipc_service(self):
        big = "y" * (3 << 20)
        _, out = self.ws("/chat/ws", ["echo:hello", "echo:" + big])
        self.assertEqual(out[0], "hello")
        self.assertTrue(out[1] == big, "the 3 MiB message came back otherwise")

    def test_wss_through_an_upstream_tunnel(self):
        msgs = [os.urandom(n) for n in (1000, 300000, 1 << 20, 3 << 20)]
        first, out = self.ws("/chat/up/x", msgs)
        self.assertEqual(first, "hello from 0 /chat/up/x")
        for sent, got in zip(msgs, out):
            self.assertTrue(sent == got, "a %d-byte message came back otherwise" % len(sent))

    def test_big_bodies_through_an_upstream_program(self):
        import http.client
        ctx = self.ctx()
        ctx.check_hostname = False  # to 127.0.0.1: no SNI, the first pair (a.test's), verified
        c = http.client.HTTPSConnection("127.0.0.1", self.tls_port, context=ctx, timeout=TIMEOUT)
        self.addCleanup(c.close)
        body = os.urandom(4 << 20)
        c.request("POST", "/web/echo", body)  # streamed back, chunked
        r = c.getresponse()
        got = r.read()
        self.assertEqual(r.status, 200)
        self.assertTrue(got == body, "the 4 MiB echo came back otherwise (%d bytes)" % len(got))
        c.request("GET", "/web/bytes?n=%d" % (8 << 20))
        r = c.getresponse()
        self.assertEqual((r.status, len(r.read())), (200, 8 << 20))

    def test_big_download_over_http2(self):
        ctx = self.ctx()
        ctx.set_alpn_protocols(["h2"])
        c = self.connect(self, "a.test", ctx=ctx)
        status, body = TLSServing.h2_get(self, c, "/web/bytes?n=%d" % (8 << 20))
        self.assertEqual((status, len(body)), (200, 8 << 20))


class TLSWithoutH2(Base):

    def test_http2_false_offers_http11_only(self):
        tm = TLSMuster(self.certs)
        tm.m.config["gateway"]["tls"]["http2"] = False
        tm.m.write_config()
        tm.start()
        self.addCleanup(tm.m.stop)
        ctx = self.ctx()
        ctx.set_alpn_protocols(["h2", "http/1.1"])
        c = self.connect(tm, "a.test", ctx=ctx)
        self.assertEqual(c.s.selected_alpn_protocol(), "http/1.1")
        self.assertEqual(c.request("GET", "/dummy/echo")[0], 200)


class TLSReload(Base):
    """Reloads re-read the certificate files."""

    def start(self):
        tm = TLSMuster(self.certs)
        self.addCleanup(tm.m.stop)
        return tm.start()

    def test_reload_new_pair(self):
        tm = self.start()
        old = self.connect(tm, "a.test")
        self.assertEqual(old.request("GET", "/dummy/echo")[0], 200)
        tm.put("site-a", *self.certs["a2"])  # the config text stays the same
        r = ctl(tm.m, cmd="reload")
        self.assertTrue(r.get("ok"), r)
        tm.m.expect(r"gateway: TLS certificates reloaded \(2\)")
        new = self.connect(tm, "a.test")
        self.assertEqual(new.peer_der(), tlscerts.leaf_der(self.certs["a2"][0]))
        self.assertEqual(new.request("GET", "/dummy/echo")[0], 200)
        self.assertEqual(old.peer_der(), tlscerts.leaf_der(self.certs["a"][0]))
        self.assertEqual(old.request("GET", "/dummy/echo")[0], 200)  # still on the old pair

    def test_reload_broken_pair_keeps_old(self):
        tm = self.start()
        key = os.path.join(tm.m.dir, "site-a.key")
        tm.put("site-a", None, self.certs["other_key"][1])  # a key of another certificate
        r = ctl(tm.m, cmd="reload")
        self.assertFalse(r.get("ok"), r)
        why = " ".join(r.get("problems", []))
        self.assertIn("gateway.tls.certificates[0].key: %s: the key does not match" % key, why)
        tm.m.expect(r"gateway: reload: keeping the certificates in use: "
                    r"gateway\.tls\.certificates\[0\]\.key: .*does not match")
        c = self.connect(tm, "a.test")
        self.assertEqual(c.peer_der(), tlscerts.leaf_der(self.certs["a"][0]))
        self.assertEqual(c.request("GET", "/dummy/echo")[0], 200)
        os.unlink(os.path.join(tm.m.dir, "b.pem"))  # SIGHUP: a file gone
        tm.m.signal(1)
        tm.m.expect(r"reload failed, config unchanged: .*gateway\.tls\.certificates\[1\]\.cert: "
                    r"\S*/b\.pem: cannot read: No such file")
        c = self.connect(tm, "x.b.test")
        self.assertEqual(c.peer_der(), tlscerts.leaf_der(self.certs["b"][0]))

    def test_reload_moves_every_listener(self):
        # As nginx's reload: gateway.listen, gateway.tls.listen and
        # admin.listen move at once; connections open on the old addresses
        # go on; an address that cannot be taken leaves the listener where
        # it was.
        tm = self.start()
        m = tm.m
        old_tls, old_plain = tm.tls_port, gateway_addr(m)
        kept = self.connect(tm, "a.test")
        self.assertEqual(kept.request("GET", "/dummy/echo")[0], 200)
        plain = socket.create_connection(old_plain, timeout=TIMEOUT)
        self.addCleanup(plain.close)
        new_tls, new_plain, new_admin = free_port(), free_port(), free_port()
        m.config["gateway"]["tls"]["listen"] = "127.0.0.1:%d" % new_tls
        m.config["gateway"]["listen"] = "127.0.0.1:%d" % new_plain
        m.config["admin"]["listen"] = "127.0.0.1:%d" % new_admin
        m.write_config()
        self.assertTrue(ctl(m, cmd="reload").get("ok"))
        for what, port in (("gateway: TLS", new_tls), ("gateway:", new_plain),
                           ("admin:", new_admin)):
            m.seen_or_expect(r"%s listening on 127\.0\.0\.1:%d \(moved by the reload\)"
                             % (what, port))
        tm.tls_port = new_tls
        self.assertEqual(self.connect(tm, "a.test").request("GET", "/dummy/echo")[0], 200)
        self.assertEqual(http_get(m, "/dummy/echo")[0], 200)
        self.assertEqual(http_get(m, "/metrics", addr=("127.0.0.1", new_admin))[0], 200)
        self.assertEqual(kept.request("GET", "/dummy/echo")[0], 200)  # open ones go on
        plain.sendall(b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\n\r\n")
        self.assertIn(b" 200 ", plain.recv(65536))
        for port in (old_tls, old_plain[1]):
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
        taken = socket.socket()  # a port another program holds: the move fails
        self.addCleanup(taken.close)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        m.config["gateway"]["tls"]["listen"] = "127.0.0.1:%d" % taken.getsockname()[1]
        m.write_config()
        self.assertTrue(ctl(m, cmd="reload").get("ok"))
        m.expect(r"gateway: TLS listen on 127\.0\.0\.1:%d failed: EADDRINUSE"
                 % taken.getsockname()[1])
        m.expect(r"gateway: the TLS listener stays on 127\.0\.0\.1:%d" % new_tls)
        self.assertEqual(self.connect(tm, "a.test").request("GET", "/dummy/echo")[0], 200)


    def test_reload_adds_and_removes_tls_and_admin(self):
        # As nginx's reload: a tls or admin section a reload adds listens at
        # once (the TLS module opened then); one it removes stops accepting
        # while the connections open on it go on; a pair that does not load
        # fails the reload that adds it, nothing changing.
        m = Muster([dummy()])
        self.addCleanup(m.stop)
        shutil.copy(self.certs["a"][0], os.path.join(m.dir, "site-a.pem"))
        shutil.copy(self.certs["a"][1], os.path.join(m.dir, "site-a.key"))
        m.start()
        wait_ready(m, "dummy")
        self.assertNotIn("muster-tls.so", mapped(m.proc.pid))
        tls_port, admin_port = free_port(), free_port()
        m.config["gateway"]["tls"] = tls_config(tls_port, [("site-a.pem", "nothing.key")])
        m.write_config()
        r = ctl(m, cmd="reload")
        self.assertFalse(r.get("ok"), r)
        self.assertIn("gateway.tls.certificates[0].key", " ".join(r.get("problems", [])))
        with self.assertRaises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", tls_port), timeout=TIMEOUT).close()
        m.config["gateway"]["tls"] = tls_config(tls_port, [("site-a.pem", "site-a.key")])
        m.config["admin"] = {"listen": "127.0.0.1:%d" % admin_port}
        m.write_config()
        self.assertTrue(ctl(m, cmd="reload").get("ok"))
        m.seen_or_expect(r"gateway: TLS listening on 127\.0\.0\.1:%d \(1 certificate, from "
                         r"TLSv1\.2\) \(added by the reload\)" % tls_port)
        m.seen_or_expect(r"admin: listening on 127\.0\.0\.1:%d \(added by the reload\)"
                         % admin_port)
        self.assertIn("muster-tls.so", mapped(m.proc.pid))
        tm = TLSMuster.__new__(TLSMuster)  # the helpers' view of this muster
        tm.m, tm.tls_port, tm.admin_port = m, tls_port, admin_port
        kept = self.connect(tm, "a.test")
        self.assertEqual(kept.peer_der(), tlscerts.leaf_der(self.certs["a"][0]))
        self.assertEqual(kept.request("GET", "/dummy/echo")[0], 200)
        self.assertEqual(tm.handshakes("TLSv1.3", "ok"), 1)
        events = socket.create_connection(("127.0.0.1", admin_port), timeout=TIMEOUT)
        self.addCleanup(events.close)
        events.sendall(b"GET /events HTTP/1.1\r\nhost: a\r\n\r\n")
        seen = b""
        while b": connected" not in seen:
            seen += events.recv(65536) or self.fail("the event stream closed: %r" % seen)
        del m.config["gateway"]["tls"], m.config["admin"]
        m.write_config()
        self.assertTrue(ctl(m, cmd="reload").get("ok"))
        m.seen_or_expect(r"gateway: TLS listener on 127\.0\.0\.1:%d closed by the reload"
                         % tls_port)
        m.seen_or_expect(r"admin: listener on 127\.0\.0\.1:%d closed by the reload"
                         % admin_port)
        for port in (tls_port, admin_port):
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
        self.assertEqual(kept.request("GET", "/dummy/echo")[0], 200)  # open ones go on
        while b"event: reload" not in seen:  # the stream too: it has this reload's event
            seen += events.recv(65536) or self.fail("the event stream closed: %r" % seen)
        self.assertEqual(http_get(m, "/dummy/echo")[0], 200)
        # and back, on other ports: the same listeners turn on again
        tls_port, admin_port = free_port(), free_port()
        m.config["gateway"]["tls"] = tls_config(tls_port, [("site-a.pem", "site-a.key")])
        m.config["admin"] = {"listen": "127.0.0.1:%d" % admin_port}
        m.write_config()
        self.assertTrue(ctl(m, cmd="reload").get("ok"))
        m.seen_or_expect(r"gateway: TLS listening on 127\.0\.0\.1:%d .*\(added by the reload\)"
                         % tls_port)
        tm.tls_port, tm.admin_port = tls_port, admin_port
        self.assertEqual(self.connect(tm, "a.test").request("GET", "/dummy/echo")[0], 200)
        self.assertEqual(tm.handshakes("TLSv1.3", "ok"), 2)


class TLSProxyProtocol(Base):
    """gateway.proxy_protocol on the TLS listener: the PROXY header comes
    before the ClientHello, and the handshake sees only what follows."""

    def test_the_header_before_the_handshake_names_the_client(self):
        tm = TLSMuster(self.certs)
        tm.m.config["gateway"]["proxy_protocol"] = True
        tm.m.write_config()
        with tm.start().m:
            raw = self.raw(tm)
            raw.sendall(b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 %d\r\n" % tm.tls_port)
            c = TLSClient.__new__(TLSClient)
            c.s, c.buf = self.ctx().wrap_socket(raw, server_hostname="a.test"), b""
            status, _, body = c.request("GET", "/dummy/echo")
            self.assertEqual(status, 200)
            doc = json.loads(body)
            self.assertEqual((doc["remote"], doc["headers"]["x-forwarded-proto"]),
                             ("203.0.113.7", "https"))
            bare = self.raw(tm)  # a ClientHello with no header first: closed
            bare.sendall(b"\x16\x03\x01\x00\x05hello")
            self.assertEqual(self.read_to_eof(bare), b"")


class TLSCheck(Base):
    """`muster --check` and a start on certificates that do not load."""

    def check(self, cert, key):
        d = tempfile.mkdtemp(prefix="muster-tls-check-")
        self.addCleanup(shutil.rmtree, d, True)
        cfg = tlscerts.write_tls_config(os.path.join(d, "muster.json"), cert, key, "run/s")
        p = subprocess.run([bin_path("muster"), "--check", "-c", cfg], capture_output=True,
                           text=True, timeout=TIMEOUT)
        return p.returncode, p.stdout + p.stderr

    def test_good_pair(self):
        rc, out = self.check(*self.certs["a"])
        self.assertEqual((rc, out.strip()), (0, "config ok"))

    def test_missing_file(self):
        rc, out = self.check(self.tmp + "/nothing.pem", self.certs["a"][1])
        self.assertEqual(rc, 1, out)
        self.assertIn("gateway.tls.certificates[0].cert: %s/nothing.pem: cannot read: "
                      "No such file or directory" % self.tmp, out)

    def test_unreadable_and_not_pem(self):
        rc, out = self.check(self.certs["a"][1], self.certs["a"][0])  # swapped
        self.assertEqual(rc, 1, out)
        self.assertIn("gateway.tls.certificates[0].key: %s: no PEM private key" %
                      self.certs["a"][0], out)

    def test_mismatched_key(self):
        rc, out = self.check(self.certs["a"][0], self.certs["other_key"][1])
        self.assertEqual(rc, 1, out)
        self.assertIn("gateway.tls.certificates[0].key: %s: the key does not match the "
                      "certificate in %s" % (self.certs["other_key"][1], self.certs["a"][0]), out)

    def test_expired(self):
        rc, out = self.check(*self.certs["expired"])
        self.assertEqual(rc, 1, out)
        self.assertIn("gateway.tls.certificates[0].cert: %s: the certificate expired on "
                      "2021-01-01" % self.certs["expired"][0], out)

    def test_expiring_soon_is_a_warning(self):
        rc, out = self.check(*self.certs["soon"])
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"warning: gateway\.tls\.certificates\[0\]\.cert: %s: the "
                         r"certificate expires in [45] days" % re.escape(self.certs["soon"][0]))
        self.assertIn("config ok", out)

    def test_start_refused_on_a_bad_pair(self):
        m = Muster([], gateway={"listen": "127.0.0.1:%d" % free_port(),
                                "tls": tls_config(free_port(), [self.certs["expired"]])})
        try:
            m.start()
            m.expect(r"gateway: TLS certificates not loaded: gateway\.tls\.certificates\[0\]"
                     r"\.cert: .*expired\.pem: the certificate expired")
            self.assertEqual(m.wait(TIMEOUT), 1)
        finally:
            m.stop()


def cjson_path():
    """The libcjson muster is linked with (ldd)."""
    out = subprocess.run(["ldd", bin_path("muster")], capture_output=True, text=True).stdout
    return re.search(r"libcjson\S* => (\S+)", out).group(1)


def module_dir_rel():
    """Where the build put muster-tls.so, relative to the binary's directory."""
    bindir = os.path.dirname(bin_path("muster"))
    top = os.path.dirname(bindir)
    for dp, dirs, fs in os.walk(top):
        if "muster-tls.so" in fs:
            return os.path.relpath(dp, bindir)
        dirs[:] = [x for x in dirs  # not into another build tree (build/asan)
                   if not os.path.exists(os.path.join(dp, x, "CMakeCache.txt"))]
    raise AssertionError("no muster-tls.so in the build tree")


def mapped(pid):
    """The file names mapped in pid, by basename."""
    with open("/proc/%d/maps" % pid) as f:
        return {os.path.basename(line.split()[-1]) for line in f if "/" in line}


class TLSModule(Base):
    """muster-tls.so is opened only by a config with TLS."""

    def test_without_tls_nothing_of_openssl_is_mapped(self):
        with Muster([dummy()]) as m:
            m.start()
            wait_ready(m, "dummy")
            self.assertEqual(http_get(m, "/dummy/echo")[0], 200)
            libs = mapped(m.proc.pid)
            self.assertIn(os.path.basename(bin_path("muster")), libs)
            self.assertFalse({n for n in libs if n.startswith(("libssl", "libcrypto"))
                              or n == "muster-tls.so"}, sorted(libs))

    def test_with_tls_the_module_is_mapped(self):
        tm = TLSMuster(self.certs).start()
        try:
            libs = mapped(tm.m.proc.pid)
            self.assertIn("muster-tls.so", libs)
            self.assertTrue(any(n.startswith("libssl") for n in libs), sorted(libs))
        finally:
            tm.m.stop()

    def test_missing_module_refuses_tls(self):
        """A copy of the binary with no lib/ next to it."""
        d = tempfile.mkdtemp(prefix="muster-tls-mod-")
        self.addCleanup(shutil.rmtree, d, True)
        os.mkdir(os.path.join(d, "bin"))
        exe = os.path.join(d, "bin", "muster")
        shutil.copy(bin_path("muster"), exe)
        cfg = tlscerts.write_tls_config(os.path.join(d, "muster.json"), *self.certs["a"], "run/s",
                                        listen="127.0.0.1:%d" % free_port(),
                                        logs={"dir": "logs"})
        moddir = os.path.normpath(os.path.join(d, "bin", module_dir_rel()))
        want = "gateway: TLS needs the module %s/muster-tls.so: " % moddir
        p = subprocess.run([exe, "--check", "-c", cfg], capture_output=True, text=True,
                           timeout=TIMEOUT, cwd=d)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(want, p.stderr)
        self.assertIn("muster-tls.so: No such file or directory", p.stderr)
        p = subprocess.run([exe, "-c", cfg], capture_output=True, text=True, timeout=TIMEOUT,
                           cwd=d)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(want, p.stderr)
        # A shared object that is not muster's module (here libcjson) in its place.
        mod = os.path.join(moddir, "muster-tls.so")
        os.makedirs(os.path.dirname(mod))
        shutil.copy(cjson_path(), mod)
        p = subprocess.run([exe, "--check", "-c", cfg], capture_output=True, text=True,
                           timeout=TIMEOUT, cwd=d)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("gateway: TLS needs the module %s: no gw_tls_module in it" % mod, p.stderr)


if __name__ == "__main__":
    unittest.main()
