"""TCP routes (SPEC §9): services/examples/tcp_chat.js (plain `net`)
behind a `tcp` listener — 20 clients at once spread by least
connections, lines through both ways, half-close passed on, a bulk
transfer with backpressure, the death of an instance, the idle timeout,
the per-route metrics."""
import os
import signal
import socket
import sys
import threading
import unittest
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uplib import NODE, SRC, TIMEOUT, Muster, ctl, free_port, up_svc  # noqa: E402

CHAT = os.path.join(SRC, "services", "examples", "tcp_chat.js")


class Line:
    """A chat client: a socket with a line reader."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buf = b""

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("closed; had %r" % self.buf)
            self.buf += chunk
        out, self.buf = self.buf.split(b"\n", 1)
        return out.decode()

    def send(self, text):
        self.s.sendall(text.encode() + b"\n")

    def eof(self):
        """True when the peer closed (after what is buffered)."""
        return self.s.recv(1) == b""


def chat_muster(instances=2, idle_ms=None, upstream=None):
    port = free_port()
    route = {"listen": "127.0.0.1:%d" % port, "service": "chat"}
    if idle_ms:
        route["idle_timeout_ms"] = idle_ms
    m = Muster([up_svc("chat", instances, command=[NODE, CHAT], routes=[], upstream=upstream)],
               tcp=[route], admin={"listen": "127.0.0.1:%d" % free_port()})
    m.start()
    for i in range(instances):
        m.seen_or_expect(r"chat\[%d\]: ready: " % i)
    m.seen_or_expect(r"tcp chat: listening on ")
    return m, port


class TcpRoutes(unittest.TestCase):
    def test_clients_lines_half_close_and_metrics(self):
        m, port = chat_muster(2)
        with m:
            clients = [Line(port) for _ in range(20)]
            where = [c.line().split()[-1] for c in clients]  # "welcome guestN to instance I"
            self.assertEqual(sorted(where.count(i) for i in ("0", "1")), [10, 10])
            # a line reaches every other client of the same instance
            clients[0].send("hello room")
            for c, w in zip(clients[1:], where[1:]):
                if w == where[0]:
                    self.assertTrue(c.line().endswith(": hello room"))
            for c in clients:
                c.send("/who")
            for c, w in zip(clients, where):
                line = c.line()
                while not line.endswith("instance " + w) or "here" not in line:
                    line = c.line()  # skip what others said
            # half-close: the room says goodbye, then closes its side
            c = clients[5]
            c.s.shutdown(socket.SHUT_WR)
            line = c.line()
            while not line.startswith("bye "):
                line = c.line()
            self.assertRegex(line, r"^bye guest\d+, \d+ lines$")
            self.assertTrue(c.eof())
            routes = ctl(m, cmd="status", service="chat")["services"][0]["tcp"]
            self.assertEqual([(r["listen"], r["total"]) for r in routes],
                             [("127.0.0.1:%d" % port, 20)])
            self.assertIn(routes[0]["connections"], (19, 20))  # the half-closed one may be gone
            admin = m.config["admin"]["listen"]
            text = urllib.request.urlopen("http://%s/metrics" % admin, timeout=TIMEOUT).read().decode()
            self.assertRegex(text, r'muster_tcp_connections\{route="127.0.0.1:%d",service="chat"\} '
                                   r'(19|20)\n' % port)
            self.assertRegex(text, r'muster_tcp_bytes_total\{[^}]*direction="in"\} [1-9]')
            for c in clients:
                c.s.close()

    def test_ip_hash_keeps_each_client_address_on_its_instance(self):
        # the service's balance "ip_hash" holds for its TCP route too
        m, port = chat_muster(2, upstream={"balance": "ip_hash"})
        with m:
            home = {}
            for i in range(2, 14):
                addr = "127.0.0.%d" % i
                seen = set()
                for _ in range(3):
                    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT,
                                                  source_address=(addr, 0)) as s:
                        c = Line.__new__(Line)
                        c.s, c.buf = s, b""
                        seen.add(c.line().split()[-1])  # "welcome guestN to instance I"
                self.assertEqual(len(seen), 1, (addr, seen))
                home[addr] = seen.pop()
            self.assertEqual(set(home.values()), {"0", "1"}, home)

    def test_last_words_before_the_close_arrive_whole(self):
        """Both ways end in one turn (the program answers the half-close with
        4 MiB and its FIN at once): every byte reaches the client before the
        close (they were dropped when the splice closed on the two EOFs)."""
        port = free_port()
        prog = os.path.join(SRC, "tests", "helpers", "tcp_last_words.js")
        m = Muster([up_svc("words", 1, command=[NODE, prog], routes=[])],
                   tcp=[{"listen": "127.0.0.1:%d" % port, "service": "words"}])
        with m.start():
            m.seen_or_expect(r"words\[0\]: ready: ")
            for _ in range(5):
                s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
                s.sendall(b"x")
                s.shutdown(socket.SHUT_WR)
                got = 0
                while True:
                    chunk = s.recv(1 << 20)
                    if not chunk:
                        break
                    got += len(chunk)
                s.close()
                self.assertEqual(got, 4 << 20)

    def test_reload_adds_moves_and_removes_routes(self):
        # a reload applies tcp[] by listen address, services untouched: an
        # address kept takes its new service, a new one listens, one gone
        # stops accepting while its connections go on (nginx's reload)
        a, b = free_port(), free_port()
        svcs = [up_svc(name, 1, command=[NODE, CHAT], routes=[]) for name in ("chat", "room")]
        m = Muster(svcs, tcp=[{"listen": "127.0.0.1:%d" % a, "service": "chat"}])
        m.start()

        def reload(*routes):
            m.config["tcp"] = [{"listen": "127.0.0.1:%d" % p, "service": svc} for p, svc in routes]
            m.write_config()
            self.assertTrue(ctl(m, cmd="reload")["ok"])

        def who(c):
            c.send("/who")
            return c.line()  # "N here on instance 0": N counts that service's clients

        with m:
            m.expect(r"tcp chat: listening on 127\.0\.0\.1:%d$" % a)
            m.seen_or_expect(r"chat\[0\]: ready: ")
            m.seen_or_expect(r"room\[0\]: ready: ")
            old = Line(a)
            self.assertTrue(old.line().startswith("welcome"))
            reload((a, "room"), (b, "chat"))
            m.expect(r"tcp chat: 127\.0\.0\.1:%d goes to room from now on" % a)
            m.expect(r"tcp chat: listening on 127\.0\.0\.1:%d$" % b)
            via_a, via_b = Line(a), Line(b)
            via_a.line(), via_b.line()
            self.assertEqual(who(via_a), "1 here on instance 0")  # room: alone
            self.assertEqual(who(via_b), "2 here on instance 0")  # chat: with old
            self.assertEqual(who(old), "2 here on instance 0")  # the old connection goes on
            reload((b, "chat"))
            m.expect(r"tcp room: 127\.0\.0\.1:%d is no longer in the config" % a)
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", a), timeout=TIMEOUT).close()
            self.assertEqual(who(via_a), "1 here on instance 0")  # still spliced
            reload((b, "chat"), (a, "chat"))  # and back
            m.expect(r"tcp chat: listening on 127\.0\.0\.1:%d$" % a)
            again = Line(a)
            again.line()
            self.assertEqual(who(again), "3 here on instance 0")
            self.assertNotIn("apply after a restart", m.log_text())
            for c in (old, via_a, via_b, again):
                c.s.close()

    def test_bulk_transfer_with_backpressure(self):
        m, port = chat_muster(1)
        with m:
            c = Line(port)
            c.line()
            c.send("/echo")
            self.assertEqual(c.line(), "echo on")
            data = os.urandom(8 << 20)
            got = bytearray(c.buf)
            t = threading.Thread(target=c.s.sendall, args=(data,))
            t.start()
            while len(got) < len(data):
                chunk = c.s.recv(1 << 20)
                self.assertTrue(chunk)
                got += chunk
            t.join(TIMEOUT)
            self.assertEqual(bytes(got), data)
            c.s.close()

    def test_instance_death_and_idle_timeout(self):
        m, port = chat_muster(2, idle_ms=1500)
        with m:
            a, b = Line(port), Line(port)
            wa, wb = a.line().split()[-1], b.line().split()[-1]
            self.assertNotEqual(wa, wb)
            victim = a if wa == "0" else b
            pid = int(m.history and
                      __import__("re").search(r"chat\[0\]: spawn: spawned pid (\d+)",
                                              m.log_text()).group(1))
            os.kill(pid, signal.SIGKILL)
            with self.assertRaises((EOFError, ConnectionResetError)):
                while True:
                    victim.line()
            # new connections go to the instance that is left (until 0 is back)
            c = Line(port)
            try:
                first = c.line()
            except EOFError:
                m.proc.send_signal(signal.SIGTERM)
                m.wait()
                self.fail("closed at once; log:\n" + m.log_text()[-3000:])
            self.assertEqual(first.split()[-1], "1")
            # idle: closed after idle_timeout_ms without a byte either way
            c.s.settimeout(10)
            self.assertTrue(c.eof())
            for x in (a, b, c):
                x.s.close()

    def test_no_ready_instance_closes(self):
        port = free_port()
        never = up_svc("chat", 1, command=["/bin/sleep", "60"], routes=[], ready_timeout_ms=60000)
        with Muster([never], tcp=[{"listen": "127.0.0.1:%d" % port, "service": "chat"}]).start() as m:
            m.expect(r"tcp chat: listening on ")
            c = Line(port)
            self.assertTrue(c.eof())
            c.s.close()


if __name__ == "__main__":
    unittest.main()
