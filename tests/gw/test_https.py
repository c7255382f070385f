"""The HTTPS policy of a gateway with a TLS listener (gw_https):
gateway.tls.redirect_http answers plain-HTTP requests 308 to https://
(the health path, ACME HTTP-01 tokens and requests a trusted proxy says
came over HTTPS aside), and hsts_max_age_s puts strict-transport-security
on every answer given over HTTPS, never over plain HTTP. Real muster,
certificates made with openssl, HTTP/1.1 and HTTP/2 over TLS."""
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest import GatewayCase, check_refused, dummy, wait_ready  # noqa: E402
from musterproc import Muster, TIMEOUT, ctl, free_port, recv_all  # noqa: E402
import tlscerts  # noqa: E402


CERTS_DIR = []
CERTS_PAIR = []  # (cert, key) of a.test, made once for the module


def setUpModule():
    CERTS_DIR.append(tempfile.mkdtemp(prefix="muster-https-certs-"))
    CERTS_PAIR[:] = tlscerts.CertFactory(CERTS_DIR[0]).leaf("a", ["a.test", "www.a.test"])


def tearDownModule():
    shutil.rmtree(CERTS_DIR[0], ignore_errors=True)


class HttpsCase(GatewayCase):

    def https_muster(self, services=None, **tls):
        self.tls_port = free_port()
        m = Muster(services if services is not None else [dummy()],
                   static=[{"prefix": "/.well-known", "root": "www", "dotfiles": True}])
        os.makedirs(os.path.join(m.dir, "www", "acme-challenge"))
        with open(os.path.join(m.dir, "www", "acme-challenge", "tok"), "w") as f:
            f.write("tok.key")
        shutil.copy(CERTS_PAIR[0], os.path.join(m.dir, "site.pem"))
        shutil.copy(CERTS_PAIR[1], os.path.join(m.dir, "site.key"))
        t = {"listen": "127.0.0.1:%d" % self.tls_port,
             "certificates": [{"cert": "site.pem", "key": "site.key"}]}
        t.update(tls)
        m.config["gateway"]["tls"] = t
        m.write_config()
        self.addCleanup(m.stop)
        m.start()
        if services is None:
            wait_ready(m, "dummy")
        m.seen_or_expect(r"gateway: TLS listening on 127\.0\.0\.1:%d" % self.tls_port)
        return m

    def tls_get(self, path, host="a.test"):
        """(head text, body) of GET path over TLS with HTTP/1.1."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", self.tls_port), timeout=TIMEOUT)
        with ctx.wrap_socket(raw, server_hostname=host) as s:
            s.sendall(("GET %s HTTP/1.1\r\nhost: %s\r\nconnection: close\r\n\r\n"
                       % (path, host)).encode())
            data = recv_all(s)
        head, _, body = data.partition(b"\r\n\r\n")
        return head.decode().lower(), body

    def h2_headers(self, path):
        out = subprocess.run(["curl", "-sS", "-k", "--http2", "-D", "-", "-o", "/dev/null",
                              "https://127.0.0.1:%d%s" % (self.tls_port, path)],
                             capture_output=True, text=True, timeout=TIMEOUT, check=True).stdout
        return out.lower()


class RedirectTest(HttpsCase):

    def test_plain_requests_go_to_https(self):
        m = self.https_muster(redirect_http=True)
        p = self.tls_port
        for path, host, want in (
                ("/dummy/echo?a=1&b", "a.test", "https://a.test:%d/dummy/echo?a=1&b"),
                ("/x", "a.test:8080", "https://a.test:%d/x"),
                ("/", "[::1]:8080", "https://[::1]:%d/"),
                ("/a/%2e%2e/b", "a.test", "https://a.test:%d/b")):
            r = self.get(m, path, host=host)
            self.assertEqual(r.status, 308, path)
            self.assertEqual(r.header("location"), want % p, path)
            self.assertIsNone(r.header("strict-transport-security"))
        r = self.get(m, "/dummy/echo", method="POST", body=b"x" * 1000)
        self.assertEqual(r.status, 308)  # a POST stays a POST at the new address
        c = self.client(m)
        c.send(b"GET http://www.a.test/abs HTTP/1.1\r\nhost: www.a.test\r\n\r\n")
        r = self.read(c)
        self.assertEqual(r.header("location"), "https://www.a.test:%d/abs" % p)

    def test_what_is_not_redirected(self):
        m = self.https_muster(redirect_http=True)
        self.assertEqual(self.get(m, "/healthz").status, 200)  # load balancers probe over HTTP
        self.assertEqual(self.get(m, "/livez").status, 200)
        r = self.get(m, "/.well-known/acme-challenge/tok")
        self.assertEqual((r.status, r.body), (200, b"tok.key"))  # ACME HTTP-01
        head, body = self.tls_get("/dummy/echo")
        self.assertTrue(head.startswith("http/1.1 200"), head)

    def test_behind_a_trusted_proxy(self):
        m = Muster([dummy()])
        m.config["gateway"]["trusted_proxies"] = ["127.0.0.1/32"]
        self.tls_port = free_port()
        shutil.copy(CERTS_PAIR[0], os.path.join(m.dir, "site.pem"))
        shutil.copy(CERTS_PAIR[1], os.path.join(m.dir, "site.key"))
        m.config["gateway"]["tls"] = {
            "listen": "127.0.0.1:%d" % self.tls_port, "redirect_http": True,
            "https_port": 443, "hsts_max_age_s": 600,
            "certificates": [{"cert": "site.pem", "key": "site.key"}]}
        m.write_config()
        self.addCleanup(m.stop)
        m.start()
        wait_ready(m, "dummy")
        # TLS ended at the proxy: no loop of redirects, and the answer
        # goes back over HTTPS, so it carries HSTS.
        r = self.get(m, "/dummy/echo", headers=[("x-forwarded-proto", "https")])
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("strict-transport-security"), "max-age=600")
        r = self.get(m, "/dummy/echo", headers=[("x-forwarded-proto", "http")])
        self.assertEqual(r.status, 308)
        self.assertEqual(r.header("location"), "https://t/dummy/echo")  # 443: no port

    def test_reload_turns_it_on_and_off(self):
        m = self.https_muster()
        self.assertEqual(self.get(m, "/dummy/echo").status, 200)
        m.config["gateway"]["tls"]["redirect_http"] = True
        m.config["gateway"]["tls"]["https_port"] = 8443
        m.write_config()
        self.assertTrue(ctl(m, cmd="reload").get("ok"))
        r = self.get(m, "/dummy/echo")
        self.assertEqual((r.status, r.header("location")), (308, "https://t:8443/dummy/echo"))
        m.config["gateway"]["tls"]["redirect_http"] = False
        m.write_config()
        self.assertTrue(ctl(m, cmd="reload").get("ok"))
        self.assertEqual(self.get(m, "/dummy/echo").status, 200)


class HstsTest(HttpsCase):

    def test_hsts_over_https_only(self):
        m = self.https_muster(hsts_max_age_s=31536000, hsts_subdomains=True)
        want = "strict-transport-security: max-age=31536000; includesubdomains"
        head, _ = self.tls_get("/dummy/echo")
        self.assertIn(want, head.split("\r\n"))
        head, _ = self.tls_get("/nope")  # muster's own answers too
        self.assertIn(want, head.split("\r\n"))
        self.assertIn(want, [ln.strip() for ln in self.h2_headers("/dummy/echo").splitlines()])
        r = self.get(m, "/dummy/echo")  # plain HTTP: never (RFC 6797 7.2)
        self.assertEqual(r.status, 200)
        self.assertIsNone(r.header("strict-transport-security"))

    def test_no_hsts_unless_asked(self):
        self.https_muster()
        head, _ = self.tls_get("/dummy/echo")
        self.assertNotIn("strict-transport-security", head)


class ConfigTest(unittest.TestCase):

    def test_problems_are_named(self):
        for tls, want in (({"hsts_subdomains": True},
                           "gateway.tls.hsts_subdomains: needs hsts_max_age_s"),
                          ({"https_port": 70000}, "gateway.tls.https_port: "),
                          ({"redirect_http": "yes"}, "gateway.tls.redirect_http: ")):
            m = Muster([])
            shutil.copy(CERTS_PAIR[0], os.path.join(m.dir, "site.pem"))
            shutil.copy(CERTS_PAIR[1], os.path.join(m.dir, "site.key"))
            t = {"listen": "127.0.0.1:%d" % free_port(),
                 "certificates": [{"cert": "site.pem", "key": "site.key"}]}
            t.update(tls)
            m.config["gateway"]["tls"] = t
            check_refused(self, m, want, tls)

if __name__ == "__main__":
    unittest.main()
