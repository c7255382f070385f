"""systemd's socket activation (util_listenfds): muster started with
LISTEN_PID and LISTEN_FDS takes the listening sockets it is handed (here
the test stands in for systemd and holds them, as systemd does) for the
listen addresses of its config instead of binding. A connection made
while no muster runs waits in the socket's queue and is answered by the
next one; sockets it cannot use are reported, and it binds as usual."""
import os
import socket
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest import dummy, wait_ready  # noqa: E402
from musterproc import Muster, TIMEOUT, ctl, http_get, recv_all  # noqa: E402


def listener():
    """A listening socket on a free port of 127.0.0.1, as systemd's
    ListenStream=127.0.0.1:PORT makes one."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


def activated(socks, count=None):
    """wrap and pass_fds for Muster.start: the sockets become fds 3, 4, ...
    of muster, with LISTEN_PID its pid (the shell's, which execs it)."""
    moves = " ".join("%d<&%d" % (3 + i, s.fileno()) for i, s in enumerate(socks))
    closes = " ".join("%d<&-" % s.fileno() for s in socks if s.fileno() >= 3 + len(socks))
    script = 'exec %s %s; LISTEN_PID=$$ LISTEN_FDS=%s exec "$@"' % (
        moves, closes, len(socks) if count is None else count)
    return ["sh", "-c", script, "sh"], [s.fileno() for s in socks]


def muster_on(gw_sock, admin_sock, stray):
    addr = "127.0.0.1:%d" % gw_sock.getsockname()[1]
    admin = "127.0.0.1:%d" % admin_sock.getsockname()[1]
    return Muster([dummy()], gateway={"listen": addr}, admin={"listen": admin})


class SocketActivationTest(unittest.TestCase):

    def test_sockets_from_systemd_are_used_and_queue_across_a_restart(self):
        gw_sock, admin_sock, stray = listener(), listener(), listener()
        for s in (gw_sock, admin_sock, stray):
            self.addCleanup(s.close)
        socks = [gw_sock, admin_sock, stray]
        port = gw_sock.getsockname()[1]
        m = muster_on(gw_sock, admin_sock, stray)
        wrap, fds = activated(socks)
        with m.start(wrap=wrap, pass_fds=fds):
            m.seen_or_expect(r"socket activation: listening on 127\.0\.0\.1:%d from systemd$"
                             % port)
            m.seen_or_expect(r"socket activation: listening on 127\.0\.0\.1:%d from systemd$"
                             % admin_sock.getsockname()[1])
            m.seen_or_expect(r"socket activation: no listen address of the config is "
                             r"127\.0\.0\.1:%d; the socket is kept for a reload$"
                             % stray.getsockname()[1])
            wait_ready(m, "dummy")
            self.assertEqual(http_get(m, "/dummy/echo")[0], 200)
            self.assertEqual(http_get(m, "/livez", addr=("127.0.0.1", admin_sock.getsockname()[1]))
                             [0], 200)
            pid = ctl(m, cmd="status", service="dummy")["services"][0]["instances"][0]["pid"]
            with open("/proc/%d/environ" % pid, "rb") as f:
                environ = f.read()
            self.assertNotIn(b"LISTEN_", environ)
        # No muster now: the kernel still takes the connection, into the
        # queue of the socket the test (systemd) holds.
        c = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.addCleanup(c.close)
        c.sendall(b"GET /dummy/echo HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        m2 = muster_on(gw_sock, admin_sock, stray)
        wrap, fds = activated(socks)
        with m2.start(wrap=wrap, pass_fds=fds):
            c.settimeout(TIMEOUT)
            answer = recv_all(c)
            self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer[:200])

    def test_sockets_it_cannot_use_are_reported_and_it_binds_itself(self):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.addCleanup(udp.close)
        m = Muster([dummy()])
        wrap, fds = activated([udp])
        with m.start(wrap=wrap, pass_fds=fds):
            m.seen_or_expect(r"socket activation: fd 3: not a TCP socket \(ListenStream= with an "
                             r"address and a port\); closed")
            wait_ready(m, "dummy")
            self.assertEqual(http_get(m, "/dummy/echo")[0], 200)
        m = Muster([dummy()])
        wrap, fds = activated([], count="many")
        with m.start(wrap=wrap, pass_fds=fds):
            m.seen_or_expect(r'socket activation: LISTEN_FDS "many" is not a count; no socket '
                             r'taken')
            wait_ready(m, "dummy")
            self.assertEqual(http_get(m, "/dummy/echo")[0], 200)


if __name__ == "__main__":
    unittest.main()
