"""Upstream services (SPEC §9): an unmodified Node `http` app behind
muster — what it is given (PORT, the path as sent, forwarded headers),
keep-alive reuse, streaming both ways, and every SPEC §4 answer."""
import json
import os
import signal
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uplib import (APP, NODE, SRC, TIMEOUT, Muster, conn, ctl, free_port,  # noqa: E402
                   gateway_addr, get_json, raw, request, up_svc, wait_ready)


class Basics(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # "api": /web again, bound to a host (the absolute-form test)
        api = up_svc("api", 1, routes=[{"prefix": "/web", "host": "api.example"}],
                     env={"BASE_PATH": "/web"})
        cls.m = Muster([up_svc("web", 2, routes=["/web"], env={"BASE_PATH": "/web"}),
                        api]).start()
        wait_ready(cls.m, "web", 2)
        wait_ready(cls.m, "api", 1)

    @classmethod
    def tearDownClass(cls):
        cls.m.stop()

    def test_status_shows_each_instance_address(self):
        # `status` says where each instance listens: its JSON and the
        # table's ADDRESS column (shown when an instance has one)
        import subprocess
        from musterproc import bin_path
        base = self.m.config["services"][0]["upstream"]["port"]
        web = ctl(self.m, cmd="status", service="web")["services"][0]
        self.assertEqual([i["address"] for i in web["instances"]],
                         ["127.0.0.1:%d" % base, "127.0.0.1:%d" % (base + 1)])
        sock = os.path.join(self.m.dir, self.m.config["control"]["socket"])
        out = subprocess.run([bin_path("musterctl"), "-s", sock, "status"], capture_output=True,
                             text=True, timeout=TIMEOUT, check=True).stdout
        self.assertTrue(out.splitlines()[0].endswith("LAST EXIT  ADDRESS"), out)
        self.assertRegex(out, r"\nweb +1 .* - +127\.0\.0\.1:%d\n" % (base + 1))

    def test_path_env_and_forwarded_headers(self):
        st, h, j = get_json(self.m, "/web/info?x=1", headers={
            "x-request-id": "trace-7", "connection": "x-secret", "x-secret": "1",
            "keep-alive": "timeout=5", "x-forwarded-for": "10.0.0.1"})
        self.assertEqual(st, 200)
        self.assertEqual(j["url"], "/web/info?x=1")  # the prefix is not stripped
        self.assertEqual(h["x-request-id"], "trace-7")
        self.assertEqual(j["headers"]["x-request-id"], "trace-7")
        self.assertEqual(j["headers"]["x-forwarded-for"], "10.0.0.1, 127.0.0.1")
        self.assertEqual(j["headers"]["x-forwarded-proto"], "http")
        for hop in ("x-secret", "keep-alive"):
            self.assertNotIn(hop, j["headers"])
        base = self.m.config["services"][0]["upstream"]["port"]
        self.assertEqual(int(j["port"]), base + int(j["instance"]))
        # muster makes an id when the client has none, and passes it on
        st, h, j = get_json(self.m, "/web/info")
        self.assertRegex(h["x-request-id"], r"^[0-9a-f]{16}$")
        self.assertEqual(j["headers"]["x-request-id"], h["x-request-id"])
        # dot segments resolved before the route is chosen: the program
        # gets the path that was routed (the query as sent)
        st, h, j = get_json(self.m, "/elsewhere/../web/a/%2e%2e/info?x=/../y")
        self.assertEqual((st, j["url"]), (200, "/web/info?x=/../y"))

    def test_absolute_form_target(self):
        # A proxy-style request line: the program gets the origin form, and
        # the target's authority is the host, for routing as for the
        # program, whatever the host header says (RFC 9112 §3.2.1-2).
        out = raw(self.m, b"GET http://Api.Example:8080/web/info?x=1 HTTP/1.1\r\n"
                          b"host: public.example\r\nconnection: close\r\n\r\n")
        head, _, body = out.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), out)
        j = json.loads(body)
        self.assertEqual(j["url"], "/web/info?x=1")
        self.assertEqual(j["headers"]["host"], "Api.Example:8080")
        # no path: "/", the query kept; no host header at all: added
        out = raw(self.m, b"GET http://api.example?q=/web HTTP/1.1\r\nconnection: close\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 404 "), out)  # the path is "/", not /web
        # routing follows the authority: the host-bound route wins over /web
        api_port = self.m.config["services"][1]["upstream"]["port"]
        for authority, host, port in ((b"other.example", b"api.example", None),
                                      (b"api.example", b"other.example", api_port)):
            out = raw(self.m, b"GET http://%s/web/info HTTP/1.1\r\nhost: %s\r\n"
                              b"connection: close\r\n\r\n" % (authority, host))
            j = json.loads(out.partition(b"\r\n\r\n")[2])
            self.assertEqual(j["headers"]["host"], authority.decode())
            if port:
                self.assertEqual(int(j["port"]), port)
            else:
                self.assertNotEqual(int(j["port"]), api_port)

    def test_http10_request_without_host(self):
        # HTTP/1.0 may leave host out (HAProxy's default httpchk, old
        # tools); the program gets HTTP/1.1, which must have one (Node
        # answered 400): the address the client reached stands in.
        out = raw(self.m, b"GET /web/info HTTP/1.0\r\n\r\n")
        head, _, body = out.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), out)
        self.assertEqual(json.loads(body)["headers"]["host"], "%s:%d" % gateway_addr(self.m))
        out = raw(self.m, b"OPTIONS /web/ HTTP/1.0\r\n\r\n")
        self.assertFalse(out.startswith(b"HTTP/1.1 400 "), out)

    def test_keepalive_reuse(self):
        # sequential requests reuse pooled connections: few distinct ports
        c = conn(self.m)
        ports = set()
        for _ in range(20):
            st, _, j = get_json(self.m, "/web/info", c=c)
            self.assertEqual(st, 200)
            ports.add((j["instance"], j["remotePort"]))
        c.close()
        self.assertLessEqual(len(ports), 2)

    def test_bodies_both_ways(self):
        body = os.urandom(300000)
        st, h, b = request(self.m, "POST", "/web/echo", body=body,
                           headers={"content-type": "application/x-test"})
        self.assertEqual((st, b, h["content-type"]), (200, body, "application/x-test"))
        self.assertEqual(h.get("transfer-encoding"), "chunked")  # the app's stream
        # a chunked request body goes up chunked
        out = raw(self.m, b"POST /web/sink HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n"
                          b"connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        self.assertIn(b"HTTP/1.1 200 OK", out)
        self.assertIn(b'"bytes":11', out)
        # a known length is passed on as it is
        st, h, b = request(self.m, "GET", "/web/bytes?n=100000")
        self.assertEqual((st, len(b), h["content-length"]), (200, 100000, "100000"))
        # HEAD: the head GET would have, no body
        st, h, b = request(self.m, "HEAD", "/web/bytes?n=777")
        self.assertEqual((st, b, h["content-length"]), (200, b"", "777"))
        # a PUT with a body, on the same connection as others
        c = conn(self.m)
        for i in range(3):
            st, _, b = request(self.m, "PUT", "/web/info", body=b"x" * i, c=c)
            self.assertEqual(json.loads(b)["body"], "x" * i)
        c.close()

    def test_expect_continue(self):
        out = raw(self.m, b"POST /web/sink HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n"
                          b"expect: 100-continue\r\nconnection: close\r\n\r\nabcd")
        self.assertTrue(out.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"), out)
        self.assertEqual(out.count(b"100 Continue"), 1)

    def test_pipelined_requests_answered_in_order(self):
        reqs = b"".join(b"GET /web/slow?ms=%d HTTP/1.1\r\nhost: x\r\n\r\n" % ms
                        for ms in (200, 10, 50))
        out = raw(self.m, reqs + b"GET /web/info HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        self.assertEqual(out.count(b"HTTP/1.1 200 OK"), 4)
        order = [int(x) for x in __import__("re").findall(rb'"slept":(\d+)', out)]
        self.assertEqual(order, [200, 10, 50])

    def test_streaming_response(self):
        # each chunk reaches the client as the app writes it
        c = conn(self.m)
        c.request("GET", "/web/stream?n=3&ms=300")
        r = c.getresponse()
        self.assertEqual(r.getheader("transfer-encoding"), "chunked")
        t0 = time.monotonic()
        first = r.read1(100)
        self.assertEqual(first, b"chunk 0\n")
        self.assertLess(time.monotonic() - t0, 0.25)
        self.assertEqual(r.read(), b"chunk 1\nchunk 2\n")
        c.close()

    def test_slow_upstream_does_not_block_others(self):
        results = []

        def slow():
            results.append(request(self.m, "GET", "/web/slow?ms=1500")[0])
        ts = [threading.Thread(target=slow) for _ in range(4)]
        for t in ts:
            t.start()
        time.sleep(0.2)
        t0 = time.monotonic()
        st, _, _ = request(self.m, "GET", "/web/")
        self.assertEqual(st, 200)
        self.assertLess(time.monotonic() - t0, 1.0)
        for t in ts:
            t.join(30)
        self.assertEqual(results, [200] * 4)

    def test_no_route_and_bad_requests(self):
        self.assertEqual(request(self.m, "GET", "/nope")[0], 404)
        out = raw(self.m, b"GET /web/info HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\n"
                          b"transfer-encoding: chunked\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 400 "), out)
        out = raw(self.m, b"GET /web/info HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * 20000 + b"\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 431 "), out)

    def test_body_past_max_body_bytes_is_streamed(self):
        # max_body_bytes bounds IPC requests; an upstream's body is streamed
        body = b"z" * (3 << 20)
        st, _, b = request(self.m, "POST", "/web/sink", body=body)
        self.assertEqual((st, json.loads(b)["bytes"]), (200, len(body)))


class Failures(unittest.TestCase):
    """The SPEC §4 rows for an upstream service."""

    def test_no_ready_instance_503(self):
        never = up_svc("never", 1, command=["/bin/sleep", "60"], routes=["/never"],
                       ready_timeout_ms=60000)
        with Muster([never]).start() as m:
            m.expect(r"never\[0\]: spawn: ")
            st, h, b = request(m, "GET", "/never/x")
            self.assertEqual(st, 503)
            self.assertEqual(h["retry-after"], "1")
            self.assertIn(b"has no ready instance", b)

    def test_instance_death_retry_and_502(self):
        svc = up_svc("web", 2)
        with Muster([svc]).start() as m:
            wait_ready(m, "web", 2)
            # instance 0 dies holding a GET: it is answered by instance 1
            # (round-robin sends one of every two there; while 0 restarts,
            # all go to 1)
            for _ in range(4):
                st, _, b = request(m, "GET", "/crash?instance=0")
                self.assertEqual(st, 200, b)
                self.assertEqual(json.loads(b)["instance"], "1")
            m.expect(r"web\[0\]: request \S+ failed \(\w+\) before any answer; sending it "
                     r"again elsewhere")
            m.expect(r"web\[0\]: ready: ")
            # a POST is not sent again: 502
            st, _, b = request(m, "POST", "/crash", body=b"x")
            self.assertEqual(st, 502, b)
            m.expect(r"web\[\d\]: ready: ")
            # a GET that kills every instance it meets: 502 after the retry
            st, _, b = request(m, "GET", "/crash")
            self.assertEqual(st, 502, b)

    def test_timeout_504_and_inflight_503(self):
        svc = up_svc("web", 1, max_inflight=1)
        m = Muster([svc])
        m.config["gateway"]["request_timeout_ms"] = 600
        # the queue off: the request finding the only slot taken gets its 503
        # at once (with the queue it waits: test_upstream_resilience.py)
        m.config["gateway"]["max_queued"] = 0
        m.write_config()
        with m.start():
            wait_ready(m, "web", 1)
            t0 = time.monotonic()
            st, _, b = request(m, "GET", "/slow?ms=3000")
            self.assertEqual(st, 504, b)
            self.assertLess(time.monotonic() - t0, 2.5)
            # the instance is free again (its connection was closed, not reused)
            st, _, b = request(m, "GET", "/slow?ms=10")
            self.assertEqual(st, 200, b)
            holder = threading.Thread(target=lambda: request(m, "GET", "/slow?ms=400"))
            holder.start()
            time.sleep(0.15)
            st, _, b = request(m, "GET", "/")
            self.assertEqual(st, 503)
            self.assertIn(b"overloaded", b)
            holder.join(10)

    def test_killed_mid_load_no_failed_request(self):
        from musterproc import Load
        svc = up_svc("web", 2)
        with Muster([svc]).start() as m:
            wait_ready(m, "web", 2)
            load = Load(m, "/", n=6).start()
            try:
                for k in range(3):
                    load.wait_for(load.total() + 100)
                    st, _, j = get_json(m, "/info")
                    os.kill(j["pid"], signal.SIGKILL)
                    m.expect(r"web\[%s\]: ready: " % j["instance"])
                load.wait_for(load.total() + 100)
            finally:
                load.stop()
            self.assertEqual(load.errors, [])
            self.assertEqual(set(load.statuses), {200}, load.statuses)


class Modes(unittest.TestCase):
    """Readiness by message, Unix sockets, the health path, slow bodies,
    the example config."""

    def test_ready_message_and_pings(self):
        helper = os.path.join(os.path.dirname(APP), "..", "..", "tests", "helpers",
                              "ipc_upstream.js")
        svc = up_svc("ipc", 1, command=[NODE, helper], env={"READY_DELAY_MS": "1500"},
                     upstream={"ready": "message"})
        # the queue off: a request before the ready message gets its 503 at
        # once, not a wait that would end in a 200 either way
        with Muster([svc], gateway={"listen": "127.0.0.1:%d" % free_port(),
                                    "max_queued": 0}).start() as m:
            m.expect(r"ipc\[0\]: spawn: ")
            port = svc["upstream"]["port"]
            import socket
            deadline = time.monotonic() + 20
            while True:  # its port is open before its ready message
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    self.assertLess(time.monotonic(), deadline)
                    time.sleep(0.05)
            self.assertEqual(request(m, "GET", "/")[0], 503)
            m.expect(r"ipc\[0\]: ready: ")
            st, _, b = request(m, "GET", "/")
            self.assertEqual((st, b[:12]), (200, b"ipc upstream"))
            time.sleep(1.0)  # heartbeat_ms 200: five pings answered, still ready
            self.assertEqual(request(m, "GET", "/")[0], 200)
            self.assertNotIn("hung", m.log_text())

    def test_program_listening_elsewhere_is_named_in_the_log(self):
        # The usual reason a port never opens: a program that listens on
        # a port of its own (a hard-coded 3000) instead of $PORT. The
        # readiness timeout's message says which port it listens on.
        for child in (False, True):  # the program itself, or a child of a shell
            with self.subTest(child=child):
                other = free_port()
                cmd = ["/usr/bin/python3", "-m", "http.server", "--bind", "127.0.0.1", str(other)]
                if child:
                    cmd = ["/bin/sh", "-c", " ".join(cmd) + "; true"]
                svc = up_svc("web", 1, command=cmd, ready_timeout_ms=1500)
                with Muster([svc]).start() as m:
                    m.expect(r"web\[0\]: port %d not accepting connections within 1500 ms \(it "
                             r"listens on port %d instead: does it read PORT\?\); killing"
                             % (svc["upstream"]["port"], other))

    def test_port_taken_by_another_program(self):
        # A stale server holds the instance's port: its listener would
        # answer the readiness probe and get the traffic. The instance is
        # not started, with the reason, until the port is free again.
        import socket
        for family, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            with self.subTest(addr=addr):
                svc = up_svc("web", 1, restart={"backoff_initial_ms": 50, "backoff_max_ms": 200})
                port = svc["upstream"]["port"]
                squat = socket.socket(family)
                squat.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                squat.bind((addr, port))
                squat.listen(8)
                with Muster([svc]).start() as m:
                    try:
                        m.expect(r"web\[0\]: another program listens on port %d" % port)
                        m.expect(r"web\[0\]: backoff: ")
                        self.assertNotRegex(m.log_text(), r"web\[0\]: (spawn|ready): ")
                    finally:
                        squat.close()
                    m.expect(r"web\[0\]: ready: ")
                    st, _, j = get_json(m, "/info")
                    self.assertEqual(st, 200)
                    self.assertEqual(int(j["port"]), port)

    def test_program_listening_on_ipv6_loopback(self):
        # Node's listen(PORT, "localhost") listens on ::1 when /etc/hosts
        # names it first (stock Debian): probe, proxy and health find it.
        from uplib import SRC
        from musterproc import poll_until
        app = os.path.join(SRC, "tests", "helpers", "crashy_upstream.js")
        svc = up_svc("web", 1, command=[NODE, app], env={"LISTEN_HOST": "::1"},
                     heartbeat_ms=100, health={"http": "/health"})
        with Muster([svc]).start() as m:
            wait_ready(m, "web", 1)
            st, _, j = get_json(m, "/count")
            self.assertEqual(st, 200)
            # the health checks reached it too: the program counts them
            poll_until(lambda: get_json(m, "/count")[2]["health"] >= 3, what="health checks")
            inst = ctl(m, cmd="status", service="web")["services"][0]["instances"][0]
            self.assertEqual(inst["address"], "[::1]:%d" % svc["upstream"]["port"])
            self.assertNotRegex(m.log_text(), r"web\[0\]: (unhealthy|exit): ")

    def test_ip_hash_keeps_each_client_address_on_its_instance(self):
        # balance "ip_hash": one client address, one instance (Socket.IO's
        # long polling needs it), on any connection; an instance that goes
        # sends its clients to the other, and they come back with it
        import http.client
        svc = up_svc("web", 2, upstream={"balance": "ip_hash"})
        host, port = None, None

        def instance(addr):
            c = http.client.HTTPConnection(host, port, timeout=TIMEOUT,
                                           source_address=(addr, 0))
            try:
                c.request("GET", "/info")
                r = c.getresponse()
                self.assertEqual(r.status, 200)
                return json.loads(r.read())["instance"]
            finally:
                c.close()

        with Muster([svc]).start() as m:
            wait_ready(m, "web", 2)
            host, port = gateway_addr(m)
            addrs = ["127.0.0.%d" % i for i in range(2, 18)]
            home = {}
            for a in addrs:
                seen = {instance(a) for _ in range(4)}
                self.assertEqual(len(seen), 1, (a, seen))
                home[a] = seen.pop()
            self.assertEqual(set(home.values()), {"0", "1"}, home)  # both get clients
            # instance 1 goes (scale 1: no restart races the checks)
            self.assertTrue(ctl(m, cmd="scale", service="web", instances=1)["ok"])
            m.expect(r"web\[1\]: (stop|exit): ")
            for a in addrs:  # its clients on instance 0 now, the others stay
                self.assertEqual(instance(a), "0")
            self.assertTrue(ctl(m, cmd="scale", service="web", instances=2)["ok"])
            m.expect(r"web\[1\]: ready: ")
            self.assertEqual({a: instance(a) for a in addrs}, home)  # and back

    def test_ip_hash_behind_a_trusted_proxy_keys_on_the_client_it_names(self):
        # Behind HAProxy every connection comes from one address; with the
        # proxy in gateway.trusted_proxies, ip_hash keys on the client its
        # x-forwarded-for names, so the clients still spread and stay put
        import http.client
        svc = up_svc("web", 2, upstream={"balance": "ip_hash"})
        host, port = None, None

        def instance(client):
            c = http.client.HTTPConnection(host, port, timeout=TIMEOUT,
                                           source_address=("127.0.0.2", 0))
            try:
                c.request("GET", "/info", headers={"X-Forwarded-For": client})
                r = c.getresponse()
                self.assertEqual(r.status, 200)
                return json.loads(r.read())["instance"]
            finally:
                c.close()

        gateway = {"listen": "127.0.0.1:%d" % free_port(), "trusted_proxies": ["127.0.0.2"]}
        with Muster([svc], gateway=gateway).start() as m:
            wait_ready(m, "web", 2)
            host, port = gateway_addr(m)
            home = {}
            for i in range(16):
                client = "198.51.100.%d" % (i + 1)
                seen = {instance(client) for _ in range(3)}
                self.assertEqual(len(seen), 1, (client, seen))
                home[client] = seen.pop()
            self.assertEqual(set(home.values()), {"0", "1"}, home)

    def test_wsgi_program_reads_only_the_forwarding_muster_vouches_for(self):
        # wsgiref (Flask, Django) reads X_Forwarded_For and X-Forwarded-For
        # as one HTTP_X_FORWARDED_FOR: a client's underscore spelling would
        # mix its claim into muster's. muster drops those lookalikes.
        svc = up_svc("wsgi", 1, command=[sys.executable,
                                         os.path.join(SRC, "tests", "helpers", "wsgi_app.py")])
        with Muster([svc]).start() as m:
            wait_ready(m, "wsgi", 1)
            st, _, j = get_json(m, "/", headers={
                "X_Forwarded_For": "203.0.113.66", "X-Forwarded_Proto": "https",
                "X_Request_Id": "forged", "X-Request-Id": "trace-8", "My_Header": "kept",
                "X-Real-IP": "203.0.113.66", "X_Real_IP": "203.0.113.66",
                "X-Forwarded-Host": "evil.example", "Host": "shop.example"})
            self.assertEqual(st, 200)
            self.assertEqual(j["HTTP_X_FORWARDED_FOR"], "127.0.0.1", j)
            self.assertEqual(j["HTTP_X_FORWARDED_PROTO"], "http", j)
            self.assertEqual(j["HTTP_X_REQUEST_ID"], "trace-8", j)
            self.assertEqual(j["HTTP_MY_HEADER"], "kept", j)
            self.assertEqual(j["HTTP_X_REAL_IP"], "127.0.0.1", j)  # as nginx setups set it
            self.assertEqual(j["HTTP_X_FORWARDED_HOST"], "shop.example", j)  # links from it

    def test_unix_socket(self):
        svc = up_svc("web", 2, upstream={"unix": "run/web.sock"})
        del svc["upstream"]["port"]
        with Muster([svc]).start() as m:
            wait_ready(m, "web", 2)
            seen = set()
            for _ in range(6):
                st, _, j = get_json(m, "/info")
                self.assertEqual(st, 200)
                seen.add(j["instance"])
            self.assertEqual(seen, {"0", "1"})
            self.assertTrue(os.path.exists(os.path.join(m.dir, "run", "web.sock.1")))
            insts = ctl(m, cmd="status", service="web")["services"][0]["instances"]
            run = os.path.join(m.dir, "run")  # resolved as the config's paths are
            self.assertEqual([i["address"] for i in insts],
                             ["unix:%s/web.sock.%d" % (run, i) for i in (0, 1)])

    def test_health_path_and_slow_body(self):
        m = Muster([up_svc("web", 1)])  # routes ["/"]: every path
        m.config["gateway"]["header_timeout_ms"] = 600
        m.write_config()
        with m.start():
            wait_ready(m, "web", 1)
            st, _, b = request(m, "GET", "/healthz")  # muster's, not the app's
            self.assertEqual(st, 200)
            self.assertEqual(json.loads(b)["services"], {"web": "running"})
            # a body that stops coming: 408 once header_timeout_ms passed
            out = raw(m, b"POST /sink HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nab")
            self.assertTrue(out.startswith(b"HTTP/1.1 408 "), out)

    def test_example_config(self):
        import subprocess
        from uplib import SRC
        from musterproc import bin_path
        path = os.path.join(SRC, "config", "examples", "upstream.json")
        r = subprocess.run([bin_path("muster"), "--check", "-c", path], capture_output=True,
                           text=True, timeout=30, env=dict(os.environ, PATH=os.environ["PATH"]))
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "config ok"), r.stderr)


if __name__ == "__main__":
    unittest.main()
