"""Connection management and forwarded headers (SPEC §4, RFC 9112 §9):
HTTP/1.0 keep-alive as `ab -k` uses it, and the hop-by-hop headers that
must not reach a service, replaced by x-forwarded-for / -proto.
Raw sockets for the exchanges, ApacheBench for the tool users run."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest import GatewayCase, dummy, gateway_addr, gw, wait_ready, TIMEOUT  # noqa: E402
from musterproc import Muster, ctl  # noqa: E402


class Http10KeepAliveTest(GatewayCase):

    def test_http10_keep_alive_is_answered_and_kept(self):
        # The client asks to keep the connection: the answer says it is
        # kept (else an HTTP/1.0 client waits for the close), and a second
        # request on the same connection is answered.
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            for i in range(3):
                c.request("GET", "/dummy/echo?i=%d" % i, version="HTTP/1.0",
                          headers=[("Connection", "Keep-Alive")])
                r = self.read(c, "HTTP/1.0 keep-alive #%d" % i)
                self.assertEqual(r.status, 200)
                self.assertEqual((r.header("connection") or "").lower(), "keep-alive", r)
                self.assertEqual(r.json()["query"], "i=%d" % i)

    def test_http10_keep_alive_for_errors_and_posts(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            c.request("GET", "/nowhere", version="HTTP/1.0", headers=[("Connection", "keep-alive")])
            r = self.read(c, "404 over HTTP/1.0 keep-alive")
            self.assertEqual(r.status, 404)
            self.assertEqual((r.header("connection") or "").lower(), "keep-alive", r)
            c.request("POST", "/dummy/echo", version="HTTP/1.0", body=b"hello",
                      headers=[("Connection", "keep-alive")])
            r = self.read(c, "POST over HTTP/1.0 keep-alive")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["body"], "hello")
            self.assertEqual((r.header("connection") or "").lower(), "keep-alive", r)

    def test_http10_without_keep_alive_closes(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            c.request("GET", "/dummy/echo", version="HTTP/1.0")
            r = self.read(c, "plain HTTP/1.0")
            self.assertEqual(r.status, 200)
            self.assertNotEqual((r.header("connection") or "").lower(), "keep-alive", r)
            self.assert_closed(c, "plain HTTP/1.0")

    def test_http10_stream_ends_with_the_close(self):
        # No chunked encoding in HTTP/1.0: a stream's end is the close,
        # whatever the client asked, and the answer says so.
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            c.request("GET", "/dummy/stream?n=2&interval_ms=1", version="HTTP/1.0",
                      headers=[("Connection", "keep-alive")])
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual((r.header("connection") or "").lower(), "close", r)
            self.assertIsNone(r.header("transfer-encoding"), r)
            self.assertEqual(r.body.count(b"data:"), 2, r.body)

    def test_http11_close_and_default(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            c.request("GET", "/dummy/echo")
            r = self.read(c, "HTTP/1.1 default")
            self.assertNotEqual((r.header("connection") or "").lower(), "close", r)
            c.request("GET", "/dummy/echo", headers=[("Connection", "close")])
            r = self.read(c, "HTTP/1.1 close")
            self.assertEqual((r.header("connection") or "").lower(), "close", r)
            self.assert_closed(c, "HTTP/1.1 connection: close")

    def test_upgrade_not_made_keeps_http(self):
        # An Upgrade muster does not make is ignored (RFC 9110 §7.8): the
        # request is answered, and the connection goes on with HTTP/1.1.
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            c.send(b"GET /dummy/echo?n=1 HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\n"
                   b"Upgrade: h2c\r\n\r\nGET /dummy/echo?n=2 HTTP/1.1\r\nHost: t\r\n\r\n")
            for n in (1, 2):
                r = self.read(c, "request %d after an upgrade request" % n)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.json()["query"], "n=%d" % n)
                self.assertNotIn("upgrade", r.json()["headers"])

    def test_connect_is_answered_and_closed(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            c.send(b"CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n")
            r = self.read(c, "CONNECT")
            self.assertEqual(r.status, 404)
            self.assertEqual((r.header("connection") or "").lower(), "close", r)
            self.assert_closed(c, "after CONNECT")

    @unittest.skipUnless(shutil.which("ab"), "ab (apache2-utils) not installed")
    def test_ab_keep_alive_completes(self):
        # The defect as users met it: `ab -k` hung waiting for a close.
        with Muster([dummy(instances=2)]).start() as m:
            wait_ready(m, "dummy", 2)
            host, port = gateway_addr(m)
            out = subprocess.run(["ab", "-k", "-n", "2000", "-c", "10", "-s", "20",
                                  "http://%s:%d/dummy/echo" % (host, port)],
                                 capture_output=True, text=True, timeout=TIMEOUT * 2)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            complete = int(re.search(r"Complete requests:\s+(\d+)", out.stdout).group(1))
            failed = int(re.search(r"Failed requests:\s+(\d+)", out.stdout).group(1))
            kept = int(re.search(r"Keep-Alive requests:\s+(\d+)", out.stdout).group(1))
            self.assertEqual((complete, failed), (2000, 0), out.stdout)
            self.assertEqual(kept, 2000, out.stdout)


class HopByHopTest(GatewayCase):

    def echo_headers(self, m, headers, version="HTTP/1.1"):
        c = self.client(m)
        c.request("GET", "/dummy/echo", headers=headers, version=version)
        r = self.read(c, "echo")
        self.assertEqual(r.status, 200)
        return r.json()["headers"]

    def test_hop_by_hop_headers_do_not_reach_the_service(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            seen = self.echo_headers(m, [
                ("Connection", "keep-alive, X-Secret-Hop"), ("X-Secret-Hop", "1"),
                ("Keep-Alive", "timeout=5"), ("TE", "trailers"), ("Trailer", "x-sum"),
                ("Proxy-Connection", "keep-alive"), ("Upgrade", "h2c"),
                ("X-End-To-End", "kept")])
            for name in ("connection", "x-secret-hop", "keep-alive", "te", "trailer",
                         "proxy-connection", "upgrade"):
                self.assertNotIn(name, seen, seen)
            self.assertEqual(seen.get("x-end-to-end"), "kept", seen)
            self.assertEqual(seen.get("host"), "t", seen)

    def test_connection_tokens_are_case_insensitive_and_listed(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            seen = self.echo_headers(m, [("Connection", "X-A , x-b"), ("Connection", "X-C"),
                                         ("x-a", "1"), ("X-B", "2"), ("x-c", "3"),
                                         ("x-d", "4")])
            for name in ("x-a", "x-b", "x-c", "connection"):
                self.assertNotIn(name, seen, seen)
            self.assertEqual(seen.get("x-d"), "4", seen)

    def test_trailers_do_not_become_headers(self):
        # Trailer fields after a chunked body are checked like headers and
        # dropped: they never reach the service as if they were headers.
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            c = self.client(m)
            c.send(b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                   b"Trailer: X-Trail\r\n\r\n5\r\nhello\r\n0\r\nX-Trail: 1\r\n\r\n")
            r = self.read(c, "chunked with a trailer")
            self.assertEqual(r.status, 200)
            doc = r.json()
            self.assertEqual(doc["body"], "hello")
            self.assertNotIn("x-trail", {k.lower() for k in doc["headers"]}, doc["headers"])
            self.assertNotIn("transfer-encoding", doc["headers"])
            c.send(b"POST /dummy/echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                   b"\r\n0\r\nBad Name: 1\r\n\r\n")
            r = self.read(c, "a malformed trailer")
            self.assertEqual(r.status, 400)

    def test_x_forwarded_headers_added(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            seen = self.echo_headers(m, [("X-Real-IP", "192.0.2.66"),
                                         ("X-Forwarded-Host", "evil.example")])
            self.assertEqual(seen.get("x-forwarded-for"), "127.0.0.1", seen)
            self.assertEqual(seen.get("x-forwarded-proto"), "http", seen)
            self.assertEqual(seen.get("x-real-ip"), "127.0.0.1", seen)  # not what it claimed
            self.assertEqual(seen.get("x-forwarded-host"), "t", seen)  # the host it asked

    def test_x_forwarded_for_is_appended_to(self):
        # Behind another proxy the chain is kept, nearest hop last (as nginx's
        # $proxy_add_x_forwarded_for); the proto is what muster itself served.
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            seen = self.echo_headers(m, [("X-Forwarded-For", "198.18.0.7"),
                                         ("X-Forwarded-Proto", "https")])
            self.assertEqual(seen.get("x-forwarded-for"), "198.18.0.7, 127.0.0.1", seen)
            self.assertEqual(seen.get("x-forwarded-proto"), "http", seen)


class TrustedProxyTest(GatewayCase):
    """gateway.trusted_proxies: behind a proxy muster trusts (HAProxy,
    nginx, a cloud balancer), the client is the one its x-forwarded-for
    names, for the service, the access log and ip_hash. 127.0.0.2 plays
    the proxy; 127.0.0.3 a client that forges the headers."""

    def echo(self, m, source, headers):
        c = self.client(m, source=source)
        c.request("GET", "/dummy/echo", headers=headers)
        r = self.read(c, "echo from %s" % source)
        self.assertEqual(r.status, 200)
        return r.json()

    def access_log(self, m):
        m.signal(signal.SIGTERM)
        self.assertEqual(m.wait(), 0)
        with open(os.path.join(m.dir, "logs", "access.log")) as f:
            return [json.loads(line) for line in f if line.strip()]

    def test_the_proxy_names_the_client(self):
        g = gw(trusted_proxies=["127.0.0.2", "10.0.0.0/8"], access_log="logs/access.log")
        with Muster([dummy()], gateway=g).start() as m:
            wait_ready(m, "dummy")
            forged = [("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-Proto", "https"),
                      ("X-Real-IP", "192.0.2.66"), ("X-Forwarded-Host", "shop.example")]
            via = self.echo(m, "127.0.0.2", forged)
            self.assertEqual(via["remote"], "203.0.113.7", via)
            self.assertEqual(via["headers"]["x-real-ip"], "203.0.113.7")  # the client it names
            self.assertEqual(via["headers"]["x-forwarded-host"], "shop.example")  # as it said
            self.assertEqual(via["headers"]["x-forwarded-for"], "203.0.113.7, 127.0.0.2")
            self.assertEqual(via["headers"]["x-forwarded-proto"], "https")  # TLS ended there
            direct = self.echo(m, "127.0.0.3", forged)  # not trusted: its claims are not
            self.assertEqual(direct["remote"], "127.0.0.3", direct)
            self.assertEqual(direct["headers"]["x-forwarded-for"], "203.0.113.7, 127.0.0.3")
            self.assertEqual(direct["headers"]["x-forwarded-proto"], "http")
            self.assertEqual(direct["headers"]["x-real-ip"], "127.0.0.3")
            self.assertEqual(direct["headers"]["x-forwarded-host"], direct["headers"]["host"])
            # a chain: trusted hops are passed over, the first other one is the client
            chain = self.echo(m, "127.0.0.2", [("X-Forwarded-For", "1.1.1.1, 198.51.100.9"),
                                               ("X-Forwarded-For", "10.1.2.3")])
            self.assertEqual(chain["remote"], "198.51.100.9", chain)
            # nothing to go by: the proxy itself
            bare = self.echo(m, "127.0.0.2", [])
            self.assertEqual(bare["remote"], "127.0.0.2", bare)
            log = self.access_log(m)
            self.assertEqual([line["remote"] for line in log],
                             ["203.0.113.7", "127.0.0.3", "198.51.100.9", "127.0.0.2"], log)

    def test_untrusted_by_default_and_set_by_a_reload(self):
        with Muster([dummy()]).start() as m:
            wait_ready(m, "dummy")
            xff = [("X-Forwarded-For", "203.0.113.7")]
            self.assertEqual(self.echo(m, "127.0.0.2", xff)["remote"], "127.0.0.2")
            m.config["gateway"]["trusted_proxies"] = ["127.0.0.0/30"]
            m.write_config()
            self.assertTrue(ctl(m, cmd="reload")["ok"])
            self.assertEqual(self.echo(m, "127.0.0.2", xff)["remote"], "203.0.113.7")
            self.assertEqual(self.echo(m, "127.0.0.5", xff)["remote"], "127.0.0.5")


if __name__ == "__main__":
    unittest.main()
