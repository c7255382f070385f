"""gateway.compression (gw_gzip, gw_encode): answers gzipped on the fly
for clients whose accept-encoding takes gzip, by type and size: static
files, an IPC service's whole answers, an upstream's streams (each piece
flushed as it comes, backpressure on the compressed bytes); never events,
parts, HEAD, or what is encoded already. Real muster, raw sockets, zlib
to read what comes back."""
import os
import subprocess
import sys
import unittest
import zlib

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "up"))
from uplib import free_ports  # noqa: E402
from gwtest import check_refused, dummy, wait_ready  # noqa: E402
from test_static import StaticCase  # noqa: E402
from musterproc import (Muster, SRC, TIMEOUT,  # noqa: E402
                        gateway_addr, service)

GZ = [("accept-encoding", "gzip, deflate, br")]
TEXT = ("".join("line %d of a text that compresses well\n" % i for i in range(400))).encode()


def gunzip(data):
    return zlib.decompress(data, 16 + zlib.MAX_WBITS)


class CompressionCase(StaticCase):
    """test_static's site muster, with its own files and compression."""

    def prepare_site(self, m, root):
        m.config["gateway"]["compression"] = self.compression
        os.makedirs(root)
        for name, data in (("page.html", TEXT), ("small.txt", b"tiny\n"),
                           ("logo.png", TEXT), ("app.js", TEXT)):
            with open(os.path.join(root, name), "wb") as f:
                f.write(data)

    def zmuster(self, compression, services=()):
        self.compression = compression
        return self.site_muster([{"prefix": "/s", "root": "www"}], services=services)


class StaticAndRulesTest(CompressionCase):

    def setUp(self):
        self.m = self.zmuster({"min_bytes": 100})

    def test_text_is_gzipped_for_clients_that_take_it(self):
        r = self.get(self.m, "/s/page.html", headers=GZ)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-encoding"), "gzip")
        self.assertEqual(r.header("vary"), "accept-encoding")
        self.assertTrue(r.header("etag").startswith('W/"'), r.header("etag"))
        self.assertEqual(gunzip(r.body), TEXT)
        self.assertLess(len(r.body), len(TEXT) / 4)
        plain = self.get(self.m, "/s/page.html")
        self.assertEqual((plain.body, plain.header("content-encoding")), (TEXT, None))
        self.assertEqual(plain.header("content-length"), str(len(TEXT)))
        self.assertFalse(plain.header("etag").startswith("W/"))

    def test_what_stays_as_it_is(self):
        for path, headers in (("/s/page.html", [("accept-encoding", "gzip;q=0, br")]),
                              ("/s/small.txt", GZ),  # under min_bytes
                              ("/s/logo.png", GZ),   # not a text type
                              ("/s/page.html", GZ + [("range", "bytes=0-9")])):
            r = self.get(self.m, path, headers=headers)
            self.assertIsNone(r.header("content-encoding"), (path, headers))
            self.assertIn(r.status, (200, 206))
        r = self.get(self.m, "/s/page.html", headers=GZ, method="HEAD")
        self.assertEqual(r.header("content-length"), str(len(TEXT)))
        self.assertIsNone(r.header("content-encoding"))
        etag = self.get(self.m, "/s/page.html").header("etag")
        r = self.get(self.m, "/s/page.html", headers=GZ + [("if-none-match", etag)])
        self.assertEqual((r.status, r.body), (304, b""))

    def test_http2(self):
        host, port = gateway_addr(self.m)
        out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "--compressed", "-D", "-",
                              "http://%s:%d/s/app.js" % (host, port)],
                             capture_output=True, timeout=TIMEOUT, check=True).stdout
        head, _, body = out.partition(b"\r\n\r\n")
        self.assertIn(b"content-encoding: gzip", head)
        self.assertEqual(body, TEXT)  # curl decoded it


class ServicesTest(CompressionCase):

    def test_an_ipc_services_answers(self):
        m = self.zmuster({"types": ["application/octet-stream", "text/event-stream"]},
                         services=[dummy()])
        wait_ready(m, "dummy")
        r = self.get(m, "/dummy/bytes?n=50000", headers=GZ)
        self.assertEqual(r.header("content-encoding"), "gzip")
        plain = self.get(m, "/dummy/bytes?n=50000")
        self.assertEqual(gunzip(r.body), plain.body)
        self.assertEqual(len(plain.body), 50000)
        # events are never compressed, whatever the types say
        c = self.client(m)
        c.request("GET", "/dummy/stream?n=2&interval_ms=1", headers=GZ)
        r = self.read(c)
        self.assertIsNone(r.header("content-encoding"))

    def test_an_upstreams_streams(self):
        app = os.path.join(SRC, "services", "examples", "express_like.js")
        up = service("web", ["node", app], routes=["/"],
                     upstream={"port": free_ports(1)})
        m = self.zmuster({"types": ["text/plain", "application/octet-stream"]}, services=[up])
        wait_ready(m, "web")
        # a stream of 5 writes: 5 pieces flushed, not held for the end
        c = self.client(m)
        c.request("GET", "/stream?n=5&ms=20", headers=GZ)
        r = self.read(c)
        self.assertEqual(r.header("content-encoding"), "gzip")
        self.assertEqual(r.header("transfer-encoding"), "chunked")
        self.assertEqual(gunzip(r.body), b"".join(b"chunk %d\n" % i for i in range(5)))
        self.assertGreaterEqual(len(r.chunk_times or []), 5)
        # 8 MiB through backpressure, compressed as it goes
        r = self.get(m, "/bytes?n=%d" % (8 << 20), headers=GZ)
        self.assertEqual(r.header("content-encoding"), "gzip")
        self.assertEqual(gunzip(r.body), b"x" * (8 << 20))
        self.assertLess(len(r.body), 200000)


class ConfigTest(unittest.TestCase):

    def test_problems_are_named(self):
        for comp, want in (({"level": 0}, "gateway.compression.level: "),
                           ({"level": 2.5}, "gateway.compression.level: must be a whole"),
                           ({"types": ["text"]}, "gateway.compression.types[0]: \"text\" is not"),
                           ({"types": ["text/*x"]}, "gateway.compression.types[0]: "),
                           ({"types": "text/html"}, "gateway.compression.types: must be an array"),
                           ({"gzip": True}, "gateway.compression.gzip: unknown key")):
            m = Muster([])
            m.config["gateway"]["compression"] = comp
            check_refused(self, m, want, comp)

if __name__ == "__main__":
    unittest.main()
