"""The PROXY protocol (gateway.proxy_protocol, tcp[].proxy_protocol): a
balancer in front (HAProxy's send-proxy / send-proxy-v2, AWS NLB) names
each connection's client in a header before its first byte. Raw headers
of both versions, in pieces, LOCAL, and the refusals; then Debian's
HAProxy itself as the sender, in front of the gateway and of a TCP
route."""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "up"))
from gwtest import GatewayCase, dummy, gateway_addr, gw, wait_ready, TIMEOUT  # noqa: E402
from musterproc import Muster, end_process, free_port, poll_until  # noqa: E402
from uplib import NODE, SRC, up_svc  # noqa: E402

CHAT = os.path.join(SRC, "services", "examples", "tcp_chat.js")

# A program behind a TCP route that answers each line it reads with
# "got: LINE" (the PROXY line muster sends first included).
LINES = """
import os, socket, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(os.environ["PORT"])))
srv.listen()
def serve(c):
    with c, c.makefile("rb") as f:
        for line in f:
            c.sendall(b"got: " + line.rstrip(b"\\r\\n") + b"\\n")
while True:
    threading.Thread(target=serve, args=(srv.accept()[0],), daemon=True).start()
"""


def v2(src, sport, dst, dport, cmd=1):
    """A PROXY v2 header for TCP over IPv4 (cmd 1: PROXY, 0: LOCAL)."""
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return b"\r\n\r\n\0\r\nQUIT\n" + bytes([0x20 | cmd, 0x11]) + struct.pack("!H", len(body)) + body


def request(path="/dummy/echo"):
    return b"GET %s HTTP/1.1\r\nHost: t\r\n\r\n" % path.encode()


class HAProxy:
    """Debian's haproxy on a config of the test's, stopped by pid."""

    def __init__(self, text):
        self.dir = tempfile.mkdtemp(prefix="muster-haproxy-")
        path = os.path.join(self.dir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(text)
        self.log = open(os.path.join(self.dir, "log"), "w+")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", path], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait_port(self, port):
        def accepting():
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise AssertionError("haproxy exited: " + self.log.read())
            try:
                socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
                return True
            except OSError:
                return False
        poll_until(accepting, what="haproxy listening on %d" % port)

    def stop(self):
        end_process(self.proc)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


HAPROXY_DEFAULTS = """
defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s
"""


class GatewayTest(GatewayCase):

    def muster(self, **kw):
        g = gw(proxy_protocol=True, access_log="logs/access.log", **kw)
        m = Muster([dummy()], gateway=g).start()
        self.addCleanup(m.stop)
        wait_ready(m, "dummy")
        return m

    def echo(self, m, head, pieces=1, source=None):
        c = self.client(m, source=source)
        data = head + request()
        step = max(1, len(data) // pieces)
        for i in range(0, len(data), step):
            c.send(data[i:i + step])
        r = self.read(c, "echo after %r" % head[:40])
        self.assertEqual(r.status, 200)
        return r.json()

    def test_v1_and_v2_name_the_client(self):
        m = self.muster()
        port = gateway_addr(m)[1]
        one = self.echo(m, b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 %d\r\n" % port)
        self.assertEqual(one["remote"], "203.0.113.7")
        self.assertEqual(one["headers"]["x-forwarded-for"], "203.0.113.7")
        six = self.echo(m, b"PROXY TCP6 2001:db8::9 ::1 5555 %d\r\n" % port)
        self.assertEqual(six["remote"], "2001:db8::9")
        two = self.echo(m, v2("198.51.100.4", 4444, "127.0.0.1", port), pieces=7)
        self.assertEqual(two["remote"], "198.51.100.4")
        local = self.echo(m, v2("0.0.0.0", 0, "0.0.0.0", 0, cmd=0))  # the balancer's own check
        self.assertEqual(local["remote"], "127.0.0.1")
        unknown = self.echo(m, b"PROXY UNKNOWN\r\n")
        self.assertEqual(unknown["remote"], "127.0.0.1")
        m.signal(signal.SIGTERM)
        self.assertEqual(m.wait(), 0)
        with open(os.path.join(m.dir, "logs", "access.log")) as f:
            remotes = [json.loads(line)["remote"] for line in f if line.strip()]
        self.assertEqual(remotes, ["203.0.113.7", "2001:db8::9", "198.51.100.4", "127.0.0.1",
                                   "127.0.0.1"])

    def test_a_connection_without_the_header_is_closed_unanswered(self):
        m = self.muster()
        for data, why in ((request(), "not a PROXY protocol header"),
                          (b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n" + request(),
                           r"PROXY v1: expected \"PROXY TCP4\|TCP6 SRC DST SPORT DPORT\""),
                          (b"\r\n\r\n\0\r\nQUIT\n\x31\x11\0\x0c" + bytes(12) + request(),
                           "PROXY v2: the version must be 2")):
            c = self.client(m)
            c.send(data)
            self.assert_closed(c, repr(data[:30]))
            m.expect(r"gateway: connection from 127\.0\.0\.1: %s \(gateway\.proxy_protocol is "
                     r"on\); closing" % why)

    def test_trusted_proxies_apply_after_the_header(self):
        # The header's client is the connection's address: x-forwarded-for
        # from it is believed only when it is a trusted proxy itself.
        m = self.muster(trusted_proxies=["10.0.0.0/8"])
        port = gateway_addr(m)[1]
        c = self.client(m)
        c.send(b"PROXY TCP4 10.1.2.3 127.0.0.1 5555 %d\r\n" % port +
               b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX-Forwarded-For: 192.0.2.5\r\n\r\n")
        r = self.read(c, "via a trusted proxy")
        self.assertEqual(r.json()["remote"], "192.0.2.5")


class TcpRouteTest(unittest.TestCase):

    def test_a_tcp_route_takes_the_bytes_after_the_header(self):
        # The header and the client's first bytes in one segment: the bytes
        # reach the program; a connection with no header is closed. The
        # wait for the header (header_timeout_ms) ends with it: with
        # idle_timeout_ms 0 a quiet connection then stays.
        route = free_port()
        svc = up_svc("chat", 1, command=[NODE, CHAT], routes=[])
        m = Muster([svc], gateway=gw(header_timeout_ms=200),
                   tcp=[{"listen": "127.0.0.1:%d" % route, "service": "chat",
                         "proxy_protocol": True, "idle_timeout_ms": 0}]).start()
        self.addCleanup(m.stop)
        m.seen_or_expect(r"tcp chat: listening on ")
        m.seen_or_expect(r"chat\[0\]: ready: ")
        with socket.create_connection(("127.0.0.1", route), timeout=TIMEOUT) as s:
            s.sendall(b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 %d\r\n/who\n" % route)
            got = b""
            while got.count(b"\n") < 2:
                chunk = s.recv(256)
                self.assertTrue(chunk, "closed: %r" % got)
                got += chunk
            self.assertRegex(got.decode(), r"^welcome guest\d+ to instance 0\n1 here on instance 0\n")
            time.sleep(0.6)  # three header timeouts: nothing may fire (a closed socket shows)
            s.sendall(b"/who\n")
            again = b""
            while not again.endswith(b"\n"):
                chunk = s.recv(256)
                self.assertTrue(chunk, "closed after the header wait: %r" % again)
                again += chunk
            self.assertEqual(again, b"1 here on instance 0\n")
        with socket.create_connection(("127.0.0.1", route), timeout=TIMEOUT) as s:
            s.sendall(b"hello\n")
            self.assertEqual(s.recv(256), b"")  # closed, nothing relayed
        m.expect(r"tcp chat: connection from 127\.0\.0\.1: not a PROXY protocol header "
                 r"\(proxy_protocol is on\); closing")

    def test_send_proxy_protocol_names_the_client_to_the_program(self):
        # send_proxy_protocol: each connection to the instance starts with
        # a v1 line naming the client and the address it reached, as
        # HAProxy's send-proxy; behind a header of its own, that client.
        a, b = free_port(), free_port()
        svc = up_svc("lines", 1, command=[sys.executable, "-c", LINES], routes=[])
        m = Muster([svc], tcp=[
            {"listen": "127.0.0.1:%d" % a, "service": "lines", "send_proxy_protocol": True},
            {"listen": "127.0.0.1:%d" % b, "service": "lines", "send_proxy_protocol": True,
             "proxy_protocol": True}]).start()
        self.addCleanup(m.stop)
        m.seen_or_expect(r"lines\[0\]: ready: ")
        m.seen_or_expect(r"tcp lines: listening on 127\.0\.0\.1:%d" % b)

        def lines(port, send, n, source=None):
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT,
                                          source_address=(source, 0) if source else None) as s:
                s.sendall(send)
                got = b""
                while got.count(b"\n") < n:
                    chunk = s.recv(4096)
                    self.assertTrue(chunk, "closed: %r" % got)
                    got += chunk
                return got.decode().splitlines(), s.getsockname()[1]

        got, port = lines(a, b"hello\n", 2, source="127.0.0.7")
        self.assertEqual(got, ["got: PROXY TCP4 127.0.0.7 127.0.0.1 %d %d" % (port, a),
                               "got: hello"])
        got, _ = lines(b, b"PROXY TCP4 203.0.113.7 198.18.0.1 5555 443\r\nhi\n", 2)
        self.assertEqual(got, ["got: PROXY TCP4 203.0.113.7 198.18.0.1 5555 443", "got: hi"])


@unittest.skipUnless(shutil.which("haproxy"), "haproxy is not installed")
class HAProxyTest(GatewayCase):

    def haproxy_to(self, port, send):
        """HAProxy in mode tcp in front of 127.0.0.1:port, sending the PROXY
        protocol (send: "send-proxy" or "send-proxy-v2"); returns its port."""
        front = free_port()
        h = HAProxy(HAPROXY_DEFAULTS + """
frontend f
    bind 127.0.0.1:%d
    default_backend b
backend b
    server m 127.0.0.1:%d %s
""" % (front, port, send))
        self.addCleanup(h.stop)
        h.wait_port(front)
        return front

    def test_haproxy_send_proxy_v2_to_the_gateway(self):
        m = Muster([dummy()], gateway=gw(proxy_protocol=True)).start()
        self.addCleanup(m.stop)
        wait_ready(m, "dummy")
        front = self.haproxy_to(gateway_addr(m)[1], "send-proxy-v2")
        for source in ("127.0.0.5", "127.0.0.6"):
            with socket.create_connection(("127.0.0.1", front), timeout=TIMEOUT,
                                          source_address=(source, 0)) as s:
                s.sendall(request())
                head, body = self.read_one(s)
                self.assertIn(b" 200 ", head)
                self.assertEqual(json.loads(body)["remote"], source)

    def read_one(self, s):
        """(head, body) of one content-length answer on socket s."""
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = s.recv(65536)
            self.assertTrue(chunk, "closed before the head: %r" % buf)
            buf += chunk
        head, _, body = buf.partition(b"\r\n\r\n")
        length = int([ln.split(b":", 1)[1] for ln in head.split(b"\r\n")
                      if ln.lower().startswith(b"content-length:")][0])
        while len(body) < length:
            chunk = s.recv(65536)
            self.assertTrue(chunk, "closed in the body")
            body += chunk
        return head, body

    def test_haproxy_send_proxy_to_a_tcp_route_keys_ip_hash(self):
        # Through HAProxy every connection comes from 127.0.0.1; with the
        # header, ip_hash keys on each client behind it.
        route = free_port()
        svc = up_svc("chat", 2, command=[NODE, CHAT], routes=[], upstream={"balance": "ip_hash"})
        m = Muster([svc], tcp=[{"listen": "127.0.0.1:%d" % route, "service": "chat",
                                "proxy_protocol": True}]).start()
        self.addCleanup(m.stop)
        m.seen_or_expect(r"chat\[0\]: ready: ")
        m.seen_or_expect(r"chat\[1\]: ready: ")
        m.seen_or_expect(r"tcp chat: listening on ")
        front = self.haproxy_to(route, "send-proxy")

        def instance(source):
            with socket.create_connection(("127.0.0.1", front), timeout=TIMEOUT,
                                          source_address=(source, 0)) as s:
                line = b""
                while not line.endswith(b"\n"):
                    chunk = s.recv(256)
                    self.assertTrue(chunk, "closed: %r" % line)
                    line += chunk
                return line.split()[-1].decode()  # "welcome guestN to instance I"

        home = {}
        for i in range(2, 14):
            source = "127.0.0.%d" % i
            seen = {instance(source) for _ in range(3)}
            self.assertEqual(len(seen), 1, (source, seen))
            home[source] = seen.pop()
        self.assertEqual(set(home.values()), {"0", "1"}, home)


if __name__ == "__main__":
    unittest.main()
