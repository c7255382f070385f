"""Upstream services (SPEC §9) under stress: malformed responses (502),
an upstream that closes keep-alive connections at random (no failed
request), huge bodies both ways in bounded memory, and WebSocket tunnels
to an unmodified `ws` app."""
import asyncio
import hashlib
import os
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from uplib import (NODE, SRC, TIMEOUT, Muster, conn, free_port, gateway_addr,  # noqa: E402
                   get_json, raw, request, up_svc, wait_ready)
from musterproc import Load, no_quarantine_env, rss_kb  # noqa: E402

HELPERS = os.path.join(SRC, "tests", "helpers")


class Malformed(unittest.TestCase):
    def test_invalid_responses_are_502(self):
        svc = up_svc("bad", 1, command=["/usr/bin/python3", os.path.join(HELPERS, "bad_upstream.py")])
        with Muster([svc]).start() as m:
            wait_ready(m, "bad", 1)
            self.assertEqual(request(m, "GET", "/ok")[0], 200)
            st, h, _ = request(m, "GET", "/emptyvalue")  # an empty value is no fold
            self.assertEqual((st, h.get("x-empty")), (200, ""))
            for path in ("/badstatus", "/badversion", "/clte", "/te10", "/foldempty", "/dupcl",
                         "/bighead", "/garbage", "/silence"):
                st, h, b = request(m, "GET", path)
                self.assertEqual(st, 502, (path, b))
                self.assertIn(b'"error"', b)
            m.seen_or_expect(r"invalid response to request .*response headers too large")
            # a body cut short after the head went out: the client sees the cut
            out = raw(m, b"GET /cut HTTP/1.1\r\nhost: x\r\n\r\n")
            self.assertTrue(out.startswith(b"HTTP/1.1 200 OK"), out)
            self.assertTrue(out.endswith(b"0123456789"), out)
            # a bad chunk in the read that brought the head: nothing went out yet, 502
            st, _, b = request(m, "GET", "/badchunk")
            self.assertEqual(st, 502, b)
            self.assertEqual(request(m, "GET", "/ok")[0], 200)


class DateHeader(unittest.TestCase):
    def test_added_when_missing_passed_when_present(self):
        # RFC 9110 §6.6.1: a proxy adds date to a response without one;
        # the program's own passes unchanged, never doubled.
        svc = up_svc("bad", 1, command=["/usr/bin/python3", os.path.join(HELPERS, "bad_upstream.py")])
        with Muster([svc]).start() as m:
            wait_ready(m, "bad", 1)
            for path, want in ((b"/ok", None), (b"/dated", b"Sun, 06 Nov 1994 08:49:37 GMT")):
                out = raw(m, b"GET %s HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n" % path)
                dates = [ln.split(b":", 1)[1].strip() for ln in out.split(b"\r\n\r\n")[0].split(b"\r\n")
                         if ln.lower().startswith(b"date:")]
                self.assertEqual(len(dates), 1, out)
                if want:
                    self.assertEqual(dates[0], want)
                else:
                    sent = time.mktime(time.strptime(dates[0].decode(), "%a, %d %b %Y %H:%M:%S GMT"))
                    self.assertLess(abs(sent - time.mktime(time.gmtime())), 60, dates[0])


class RandomCloses(unittest.TestCase):
    def test_no_failed_request(self):
        svc = up_svc("flaky", 2, command=[NODE, os.path.join(HELPERS, "flaky_upstream.js")],
                     env={"CLOSE_RATE": "0.3"})
        with Muster([svc]).start() as m:
            wait_ready(m, "flaky", 2)
            load = Load(m, "/x", n=8).start()
            try:
                load.wait_for(1500)
            finally:
                load.stop()
            self.assertEqual(load.errors, [])
            self.assertEqual(set(load.statuses), {200}, load.statuses)
            # and PUTs with a body (replayed on a fresh connection)
            c = conn(m)
            for i in range(200):
                st, _, b = request(m, "PUT", "/p", body=b"b" * 1000, c=c)
                self.assertEqual(st, 200, b)
            c.close()


def rss_watch(pid, stop, out):
    """Samples pid's RSS (kB) until stop is set; the highest into out."""
    while not stop.is_set():
        out[0] = max(out[0], rss_kb(pid))
        time.sleep(0.02)


class HugeBodies(unittest.TestCase):
    SIZE = 256 << 20

    def test_both_ways_in_bounded_memory(self):
        svc = up_svc("web", 1)
        with Muster([svc]).start(no_quarantine_env()) as m:
            wait_ready(m, "web", 1)
            self.assertEqual(request(m, "GET", "/")[0], 200)
            base = rss_kb(m.proc.pid)
            peak, stop = [base], threading.Event()
            t = threading.Thread(target=rss_watch, args=(m.proc.pid, stop, peak), daemon=True)
            t.start()
            try:
                # download: GET /bytes, read as it comes
                c = conn(m, timeout=120)
                c.request("GET", "/bytes?n=%d" % self.SIZE)
                r = c.getresponse()
                got = 0
                while True:
                    chunk = r.read(1 << 20)
                    if not chunk:
                        break
                    got += len(chunk)
                self.assertEqual(got, self.SIZE)
                # upload: a generator body, sent chunked
                block = b"u" * (1 << 20)

                def body():
                    for _ in range(self.SIZE >> 20):
                        yield block
                c.request("POST", "/sink", body=body(), encode_chunked=True,
                          headers={"transfer-encoding": "chunked"})
                r = c.getresponse()
                self.assertEqual(r.status, 200)
                self.assertIn(b'"bytes":%d' % self.SIZE, r.read())
                c.close()
            finally:
                stop.set()
                t.join(5)
            grown = peak[0] - base
            self.assertLess(grown, 64 * 1024, "muster's RSS grew by %d kB" % grown)


class Tunnel(unittest.TestCase):
    def test_websocket_echo_through_a_ws_app(self):
        import websockets
        svc = up_svc("ws", 2, command=[NODE, os.path.join(HELPERS, "ws_upstream.js")],
                     routes=["/chat"])
        with Muster([svc]).start() as m:
            wait_ready(m, "ws", 2)
            host, port = gateway_addr(m)

            async def talk():
                out = []
                async with websockets.connect("ws://%s:%d/chat/room?x=1" % (host, port)) as ws:
                    out.append(await asyncio.wait_for(ws.recv(), TIMEOUT))
                    for i in range(20):
                        await ws.send("msg %d" % i)
                        out.append(await asyncio.wait_for(ws.recv(), TIMEOUT))
                    big = os.urandom(200000)
                    await ws.send(big)
                    out.append(await asyncio.wait_for(ws.recv(), TIMEOUT) == big)
                return out
            out = asyncio.run(asyncio.wait_for(talk(), TIMEOUT))
            self.assertRegex(out[0], r"^hello from [01] /chat/room\?x=1$")
            inst = out[0].split()[2]
            self.assertEqual(out[1:21], ["%s: msg %d" % (inst, i) for i in range(20)])
            self.assertTrue(out[21])
            # plain HTTP on the same route still works
            self.assertEqual(request(m, "GET", "/chat/who")[0], 200)

    def test_refused_upgrade_leaves_no_dead_connection_in_the_pool(self):
        # Node hands a socket with an upgrade request to its 'upgrade'
        # handler and reads no more HTTP from it, whatever the handler
        # answered: the connection must not serve the next request
        svc = up_svc("ws", 1, command=[NODE, os.path.join(HELPERS, "ws_upstream.js")],
                     routes=["/chat"])
        gw = {"listen": "127.0.0.1:%d" % free_port(), "request_timeout_ms": 3000}
        upgrade = {"upgrade": "websocket", "connection": "upgrade", "sec-websocket-version": "13",
                   "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ=="}
        with Muster([svc], gateway=gw).start() as m:
            wait_ready(m, "ws", 1)
            c = conn(m)
            for _ in range(3):
                st, _, b = request(m, "GET", "/chat/refuse", headers=upgrade, c=c)
                self.assertEqual((st, b), (403, b"no"))
                for _ in range(3):  # on the client's connection and on fresh ones
                    self.assertEqual(request(m, "GET", "/chat/who", c=c)[0], 200)
                    self.assertEqual(request(m, "GET", "/chat/who")[0], 200)
            c.close()


if __name__ == "__main__":
    unittest.main()
