"""Static files (top-level "static", gw_static): muster serves a directory
itself, as nginx's root/alias + try_files, express.static or `pm2 serve`
do. Real muster, raw sockets: content types and validators, 304, Range
(206, 416, If-Range), directories (index, 301 with the slash), an SPA
fallback, what must never be served (dotfiles, symlinks and ".." out of
the root, FIFOs), how static routes share the table with service routes,
HTTP/2, a client that stops reading (bounded memory, then cut), reloads
and the config's checks."""
import gzip
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "up"))
from uplib import free_ports  # noqa: E402
from gwtest import GatewayCase, dummy, wait_gateway, wait_ready  # noqa: E402
from musterproc import (Muster, TIMEOUT, bin_path, ctl, free_port,  # noqa: E402
                        gateway_addr, recv_all)

INDEX = b"<!doctype html><title>home</title>\n"
BIG = 256 << 20


def make_site(root):
    """A small site: index, assets, a hidden dir, links in and out, a FIFO."""
    os.makedirs(os.path.join(root, "assets", "img"))
    os.makedirs(os.path.join(root, ".git"))
    os.makedirs(os.path.join(root, "empty"))
    os.makedirs(os.path.join(root, ".well-known"))
    files = {"index.html": INDEX, "assets/app.js": b"console.log(1)\n",
             "assets/site.css": b"body{}\n", "assets/img/logo.svg": b"<svg/>",
             "data.bin": bytes(range(256)) * 40, ".git/config": b"secret\n",
             ".well-known/security.txt": b"Contact: x\n", "a b.txt": b"space\n"}
    for name, data in files.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data)
    os.symlink("/etc/hostname", os.path.join(root, "out"))
    os.symlink("assets/site.css", os.path.join(root, "in.css"))
    os.mkfifo(os.path.join(root, "fifo"))
    return files


class StaticCase(GatewayCase):

    def prepare_site(self, m, root):
        self.files = make_site(root)

    def site_muster(self, static, services=(), **top):
        m = Muster(list(services), **top)
        self.prepare_site(m, os.path.join(m.dir, "www"))
        m.config["static"] = static
        m.write_config()
        self.addCleanup(m.stop)
        m.start()
        wait_gateway(m)
        return m


class ServingTest(StaticCase):

    def setUp(self):
        self.m = self.site_muster([{"prefix": "/", "root": "www", "max_age_s": 60}])

    def test_files_types_and_validators(self):
        r = self.get(self.m, "/")
        self.assertEqual((r.status, r.body), (200, INDEX))
        self.assertEqual(r.header("content-type"), "text/html; charset=utf-8")
        self.assertEqual(r.header("cache-control"), "public, max-age=60")
        self.assertEqual(r.header("accept-ranges"), "bytes")
        st = os.stat(os.path.join(self.m.dir, "www", "index.html"))
        self.assertEqual(r.header("etag"), '"%x-%x"' % (int(st.st_mtime), st.st_size))
        self.assertEqual(r.header("last-modified"),
                         time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(st.st_mtime)))
        for path, ctype in (("/assets/app.js", "text/javascript; charset=utf-8"),
                            ("/assets/site.css", "text/css; charset=utf-8"),
                            ("/assets/img/logo.svg", "image/svg+xml"),
                            ("/data.bin", "application/octet-stream")):
            r = self.get(self.m, path)
            self.assertEqual(r.status, 200, path)
            self.assertEqual(r.body, self.files[path[1:]], path)
            self.assertEqual(r.header("content-type"), ctype, path)
        r = self.get(self.m, "/a%20b.txt?v=1")
        self.assertEqual((r.status, r.body), (200, b"space\n"))
        r = self.get(self.m, "/data.bin", method="HEAD")
        self.assertEqual((r.status, r.body), (200, b""))
        self.assertEqual(r.header("content-length"), str(len(self.files["data.bin"])))

    def test_not_modified(self):
        r = self.get(self.m, "/assets/site.css")
        etag, lastmod = r.header("etag"), r.header("last-modified")
        for headers in ([("if-none-match", etag)], [("if-none-match", '"x", W/' + etag)],
                        [("if-none-match", "*")], [("if-modified-since", lastmod)]):
            r = self.get(self.m, "/assets/site.css", headers=headers)
            self.assertEqual((r.status, r.body), (304, b""), headers)
            self.assertEqual(r.header("etag"), etag)
            self.assertIsNone(r.header("content-length"))
        stale = "Thu, 01 Jan 1970 00:00:00 GMT"
        for headers in ([("if-none-match", '"other"')], [("if-modified-since", stale)],
                        [("if-none-match", '"other"'), ("if-modified-since", lastmod)]):
            r = self.get(self.m, "/assets/site.css", headers=headers)
            self.assertEqual((r.status, r.body), (200, b"body{}\n"), headers)

    def test_ranges(self):
        data = self.files["data.bin"]
        n = len(data)
        for spec, lo, hi in (("bytes=0-99", 0, 99), ("bytes=10000-", 10000, n - 1),
                             ("bytes=-17", n - 17, n - 1), ("bytes=100-999999", 100, n - 1)):
            r = self.get(self.m, "/data.bin", headers=[("range", spec)])
            self.assertEqual(r.status, 206, spec)
            self.assertEqual(r.body, data[lo:hi + 1], spec)
            self.assertEqual(r.header("content-range"), "bytes %d-%d/%d" % (lo, hi, n), spec)
        r = self.get(self.m, "/data.bin", headers=[("range", "bytes=%d-" % n)])
        self.assertEqual(r.status, 416)
        self.assertEqual(r.header("content-range"), "bytes */%d" % n)
        etag = r_etag = self.get(self.m, "/data.bin").header("etag")
        for headers in ([("range", "bytes=0-1,5-6")], [("range", "lines=1-2")],
                        [("range", "bytes=0-1"), ("if-range", '"old"')]):
            r = self.get(self.m, "/data.bin", headers=headers)
            self.assertEqual((r.status, len(r.body)), (200, n), headers)
        r = self.get(self.m, "/data.bin", headers=[("range", "bytes=0-1"), ("if-range", r_etag)])
        self.assertEqual((r.status, r.body), (206, data[:2]), etag)

    def test_directories(self):
        r = self.get(self.m, "/assets?x=1")
        self.assertEqual(r.status, 301)
        self.assertEqual(r.header("location"), "/assets/?x=1")
        r = self.get(self.m, "//assets")  # never a redirect to another host
        self.assertEqual((r.status, r.header("location")), (301, "/assets/"))
        self.assertEqual(self.get(self.m, "/assets/").status, 404)  # no index.html there
        self.assertEqual(self.get(self.m, "/empty/").status, 404)

    def test_what_is_never_served(self):
        for path, status in (("/.git/config", 404), ("/.well-known/security.txt", 404),
                             ("/out", 404), ("/fifo", 404), ("/nope.html", 404),
                             ("/assets%2fsite.css", 404), ("/%2e%2e/%2e%2e/etc/hostname", 400),
                             ("/a%zz", 400), ("/a%00", 400)):
            r = self.get(self.m, path)
            self.assertEqual(r.status, status, path)
            self.assertNotIn(b"secret", r.body)
        r = self.get(self.m, "/in.css")  # a link that stays under the root is followed
        self.assertEqual((r.status, r.body), (200, b"body{}\n"))

    def test_files_not_in_the_kernels_caches(self):
        # Evicted from the page cache (fadvise DONTNEED, this file only):
        # the reads go to the thread pool. With root, the dentries too
        # (drop_caches 2): the lookup goes there as well.
        path = os.path.join(self.m.dir, "www", "cold.bin")
        data = os.urandom(300000)
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        for _ in range(2):
            fd = os.open(path, os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
            try:
                with open("/proc/sys/vm/drop_caches", "w") as f:
                    f.write("2\n")
            except OSError:
                pass  # not root: the lookup stays cached, the reads are not
            r = self.get(self.m, "/cold.bin")
            self.assertEqual((r.status, r.body), (200, data))
        r = self.get(self.m, "/cold.bin", headers=[("range", "bytes=100000-")])
        self.assertEqual((r.status, r.body), (206, data[100000:]))

    def test_methods(self):
        r = self.get(self.m, "/index.html", method="POST", body=b"x")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.header("allow"), "GET, HEAD")

    def test_http2(self):
        host, port = gateway_addr(self.m)
        out = subprocess.run(["curl", "-sS", "--http2-prior-knowledge", "-o", "-",
                              "-w", "\n%{http_version} %{http_code}",
                              "http://%s:%d/data.bin" % (host, port)],
                             capture_output=True, timeout=TIMEOUT, check=True).stdout
        body, _, tail = out.rpartition(b"\n")
        self.assertEqual(tail, b"2 200")
        self.assertEqual(body, self.files["data.bin"])


class RoutingTest(StaticCase):

    def test_spa_fallback_and_service_routes(self):
        m = self.site_muster(
            [{"prefix": "/", "root": "www", "fallback": "/index.html"},
             {"prefix": "/files", "root": "www/assets", "index": "", "dotfiles": True},
             {"prefix": "/", "host": "docs.example", "root": "www/assets/img"}],
            services=[dummy("api", routes=["/api"]), dummy("img", routes=["/assets/img"])])
        wait_ready(m, "api")
        wait_ready(m, "img")
        r = self.get(m, "/some/client/route")
        self.assertEqual((r.status, r.body), (200, INDEX))  # the SPA's shell
        r = self.get(m, "/api/echo")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("content-type"), "application/json")  # the service's echo
        r = self.get(m, "/api/echo", method="POST", body=b"hello")
        self.assertEqual(r.status, 200)  # the service's, not 405
        self.assertIn(b"hello", r.body)
        r = self.get(m, "/assets/img/echo")  # the longer service prefix wins
        self.assertEqual((r.status, r.header("content-type")), (200, "application/json"))
        r = self.get(m, "/files/app.js")  # the prefix comes off
        self.assertEqual((r.status, r.body), (200, b"console.log(1)\n"))
        self.assertEqual(self.get(m, "/files/").status, 404)  # "index": "" is none
        r = self.get(m, "/logo.svg", host="docs.example")
        self.assertEqual((r.status, r.body), (200, b"<svg/>"))
        r = self.get(m, "/", host="docs.example:8080")
        self.assertEqual(r.status, 404)  # no index, no fallback on that one

    def test_precompressed(self):
        m = self.site_muster([{"prefix": "/", "root": "www", "precompressed": True},
                              {"prefix": "/plain", "root": "www"}])
        www = os.path.join(m.dir, "www")
        js = self.files["assets/app.js"]
        br, gz = b"BROTLI-BYTES", gzip.compress(js)
        for name, data in (("assets/app.js.br", br), ("assets/app.js.gz", gz)):
            with open(os.path.join(www, name), "wb") as f:
                f.write(data)
        os.mkfifo(os.path.join(www, "index.html.gz"))  # never taken for the file
        for accept, body, coding in (("gzip, deflate, br", br, "br"), ("gzip", gz, "gzip"),
                                     ("br;q=0, gzip", gz, "gzip"), ("identity", js, None),
                                     (None, js, None)):
            headers = [("accept-encoding", accept)] if accept else []
            r = self.get(m, "/assets/app.js", headers=headers)
            self.assertEqual((r.status, r.body), (200, body), accept)
            self.assertEqual(r.header("content-encoding"), coding, accept)
            self.assertEqual(r.header("vary"), "accept-encoding", accept)
            self.assertEqual(r.header("content-type"), "text/javascript; charset=utf-8")
        self.assertEqual(gzip.decompress(gz), js)
        r = self.get(m, "/", headers=[("accept-encoding", "gzip")])
        self.assertEqual((r.status, r.body, r.header("content-encoding")), (200, INDEX, None))
        etags = {self.get(m, "/assets/app.js", headers=[("accept-encoding", a)]).header("etag")
                 for a in ("br", "gzip", "identity")}
        self.assertEqual(len(etags), 3)  # each representation its own validator
        r = self.get(m, "/plain/assets/app.js", headers=[("accept-encoding", "br")])
        self.assertEqual((r.body, r.header("content-encoding"), r.header("vary")), (js, None, None))

    def test_metrics_name_the_entry(self):
        port = free_port()
        m = self.site_muster([{"prefix": "/", "root": "www"}, {"prefix": "/files", "root": "www"}],
                             admin={"listen": "127.0.0.1:%d" % port})
        for path in ("/", "/nope", "/files/data.bin"):
            self.get(m, path)
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as c:
            c.sendall(b"GET /metrics HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
            text = recv_all(c).decode()
        for line in ('muster_requests_total{service="static:/",code="200"} 1',
                     'muster_requests_total{service="static:/",code="404"} 1',
                     'muster_requests_total{service="static:/files",code="200"} 1'):
            self.assertIn(line, text)

    def test_reload_adds_and_removes(self):
        m = self.site_muster([])
        self.assertEqual(self.get(m, "/").status, 404)
        m.config["static"] = [{"prefix": "/site", "root": "www"}]
        m.write_config()
        self.assertTrue(ctl(m, cmd="reload").get("ok"))
        self.assertEqual(self.get(m, "/site/").body, INDEX)
        m.config["static"] = []
        m.write_config()
        self.assertTrue(ctl(m, cmd="reload").get("ok"))
        self.assertEqual(self.get(m, "/site/").status, 404)


def gateway_connections(m):
    """muster_gateway_connections of the admin listener's /metrics."""
    port = int(m.config["admin"]["listen"].rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as c:
        c.sendall(b"GET /metrics HTTP/1.1\r\nhost: a\r\nconnection: close\r\n\r\n")
        data = recv_all(c)
    return int(re.search(rb"\nmuster_gateway_connections (\d+)", data).group(1))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


class LargeFileTest(StaticCase):

    def setUp(self):
        self.m = self.site_muster([{"prefix": "/", "root": "www"}],
                                  admin={"listen": "127.0.0.1:%d" % free_port()})

    def prepare_site(self, m, root):
        m.config["gateway"]["request_timeout_ms"] = 1500
        self.files = make_site(root)
        self.big = os.path.join(root, "big.iso")
        with open(self.big, "wb") as f:  # sparse: 256 MiB that take little disk,
            f.truncate(BIG)                 # with data where reads could go wrong
            for off in (0, 65536 * 37 + 11, (64 << 20) + 12345, BIG - (1 << 20)):
                f.seek(off)
                f.write(os.urandom(1 << 20))

    def test_whole_file_streams(self):
        s = socket.create_connection(gateway_addr(self.m), timeout=TIMEOUT)
        self.addCleanup(s.close)
        s.sendall(b"GET /big.iso HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n")
        h, got, head = hashlib.sha256(), 0, b""
        while b"\r\n\r\n" not in head:
            head += s.recv(65536)
        head, _, rest = head.partition(b"\r\n\r\n")
        self.assertIn(b"content-length: %d" % BIG, head)
        h.update(rest)
        got = len(rest)
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            h.update(b)
            got += len(b)
        ref = hashlib.sha256()
        with open(self.big, "rb") as f:
            for b in iter(lambda: f.read(1 << 20), b""):
                ref.update(b)
        self.assertEqual(got, BIG)
        self.assertEqual(h.hexdigest(), ref.hexdigest())

    def test_a_client_that_stops_reading_holds_little_then_is_cut(self):
        pid = self.m.proc.pid
        before = rss_kb(pid)
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.settimeout(TIMEOUT)
        s.connect(gateway_addr(self.m))
        self.addCleanup(s.close)
        s.sendall(b"GET /big.iso HTTP/1.1\r\nhost: t\r\n\r\n")
        self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200 "))
        # The client reads no more; muster must not read the file into
        # memory meanwhile, and cuts the connection after
        # request_timeout_ms without progress (its connections gauge goes
        # to 0): watch its memory until then.
        peak, start, open_conns = before, time.monotonic(), None
        while time.monotonic() - start < TIMEOUT and open_conns != 0:
            peak = max(peak, rss_kb(pid))
            open_conns = gateway_connections(self.m)
            if open_conns:
                time.sleep(0.05)  # sampling memory, not waiting for an event
        elapsed = time.monotonic() - start
        self.assertEqual(open_conns, 0, "muster did not cut a client reading nothing")
        self.assertGreater(elapsed, 1.0)  # not before request_timeout_ms (1500 ms)
        self.assertLess(peak - before, 64 << 10, "muster grew by %d KiB" % (peak - before))
        total = 0
        try:
            while True:  # what muster had queued before the cut, then the end
                b = s.recv(1 << 20)
                if not b:
                    break
                total += len(b)
        except ConnectionResetError:
            pass
        self.assertLess(total, 64 << 20, "most of the file was sent to a client reading none")
        self.assertEqual(self.get(self.m, "/index.html").status, 200)  # muster goes on

    def test_clients_that_go_away_mid_file(self):
        for _ in range(20):
            s = socket.create_connection(gateway_addr(self.m), timeout=TIMEOUT)
            s.sendall(b"GET /big.iso HTTP/1.1\r\nhost: t\r\n\r\n")
            s.recv(65536)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            s.close()  # a reset mid-body
        self.assertEqual(self.get(self.m, "/index.html").status, 200)


SRC = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


class ExampleTest(GatewayCase):

    def test_the_example_site_and_its_api(self):
        # config/examples/static.json as it ships, on free ports: the site
        # of services/examples/site/ and express_like.js under /api.
        with open(os.path.join(SRC, "config", "examples", "static.json")) as f:
            cfg = json.load(f)
        ex = os.path.join(SRC, "config", "examples")
        cfg["static"][0]["root"] = os.path.normpath(os.path.join(ex, cfg["static"][0]["root"]))
        api = cfg["services"][0]
        api["command"][1] = os.path.normpath(os.path.join(ex, api["command"][1]))
        api["upstream"]["port"] = free_ports(2)  # both instances' ports (uplib's)
        m = Muster(cfg["services"], static=cfg["static"])
        self.addCleanup(m.stop)
        m.start()
        wait_ready(m, "api", 2)
        site = os.path.join(SRC, "services", "examples", "site")
        with open(os.path.join(site, "index.html"), "rb") as f:
            index = f.read()
        for path in ("/", "/index.html", "/a/client/route"):
            r = self.get(m, path)
            self.assertEqual((r.status, r.body), (200, index), path)
        r = self.get(m, "/app.js")
        self.assertEqual(r.header("content-type"), "text/javascript; charset=utf-8")
        self.assertIn(b"fetch('/api/')", r.body)
        r = self.get(m, "/api/")
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body)["hello"], "world")


class ConfigCheckTest(unittest.TestCase):

    def check(self, static, services=()):
        m = Muster(list(services))
        self.addCleanup(lambda: __import__("shutil").rmtree(m.dir, ignore_errors=True))
        os.makedirs(os.path.join(m.dir, "www"))
        with open(os.path.join(m.dir, "www", "f"), "w"):
            pass
        m.config["static"] = static
        m.write_config()
        p = subprocess.run([bin_path("muster"), "-c", m.config_path, "--check"], cwd=m.dir,
                           capture_output=True, text=True, timeout=TIMEOUT)
        return p.returncode, p.stdout + p.stderr

    def test_good_config(self):
        rc, out = self.check([{"prefix": "/", "root": "www", "fallback": "index.html"}])
        self.assertEqual(rc, 0, out)

    def test_problems_are_named(self):
        for static, services, want in (
                ([{"prefix": "/"}], (), r"static\[0\]\.root: required"),
                ([{"prefix": "/", "root": "nope"}], (),
                 r"static\[0\]\.root: .*/nope: No such file or directory"),
                ([{"prefix": "/", "root": "www/f"}], (), r"static\[0\]\.root: .* is not a directory"),
                ([{"prefix": "x", "root": "www"}], (), r"static\[0\]\.prefix: \"x\" must start"),
                ([{"prefix": "/", "root": "www", "fallback": "../x"}], (),
                 r"static\[0\]\.fallback: \"\.\./x\" must not have"),
                ([{"prefix": "/", "root": "www", "index": "a/b"}], (),
                 r"static\[0\]\.index: \"a/b\" must be a file name"),
                ([{"prefix": "/", "root": "www", "methods": ["GET"]}], (),
                 r"static\[0\]\.methods: unknown key"),
                ([{"prefix": "/api/", "root": "www"}], [dummy("api", routes=["/api"])],
                 r"static\[0\]\.prefix: \"/api\" is also a route of \"api\""),
                ([{"prefix": "/", "root": "www"}, {"prefix": "/", "root": "www"}], (),
                 r"static\[1\]\.prefix: \"/\" is also static\[0\]'s")):
            rc, out = self.check(static, services)
            self.assertEqual(rc, 1, (static, out))
            self.assertRegex(out, want)


if __name__ == "__main__":
    unittest.main()
