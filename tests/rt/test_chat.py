"""The chat service (services/chat) through muster, without a browser: the
page and its headers, the handshake's checks, what people say becoming
publications in their room (id, from, at), join and leave notices, errors,
a connection that reads through its SSE hold (join=0), the room's history
for a new reader (earliest), and a message handled by no instance before
its death coming again flagged redelivered."""
import json
import os
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rtlib import (SSE, Muster, ctl, handshake, recv, run, service, url,  # noqa: E402
                   wait_ready, websockets)
from musterproc import http_get, gateway_addr, pid_alive  # noqa: E402


def chat_svc(instances=2, **kw):
    """The chat as config/muster.json mounts it (fast test restarts)."""
    s = service("chat", ["chat_service"], instances=instances, routes=["/chat"], **kw)
    s["ws"] = {"ack": True}
    return s


def start(test, instances=2, **kw):
    m = Muster([chat_svc(instances, **kw)], realtime={"history_size": 100}).start()
    test.addCleanup(m.stop)
    wait_ready(m, n=instances)
    return m


def say(text):
    return json.dumps({"type": "say", "text": text})


async def next_of(ws, kind):
    """The next message of type kind on ws (others skipped)."""
    while True:
        m = json.loads(await recv(ws))
        if m["type"] == kind:
            return m


class PageTest(unittest.TestCase):

    def test_page_and_its_headers(self):
        m = start(self, instances=1)
        status, hdrs, body = http_get(m, "/chat?room=x")
        self.assertEqual((status, hdrs.get("location")), (308, "/chat/?room=x"))
        status, hdrs, body = http_get(m, "/chat/")
        self.assertEqual(status, 200)
        self.assertEqual(hdrs["content-type"], "text/html; charset=utf-8")
        self.assertIn("default-src 'none'", hdrs["content-security-policy"])
        self.assertEqual(hdrs["x-content-type-options"], "nosniff")
        page = body.decode()
        self.assertTrue(page.startswith("<!DOCTYPE html>"))
        self.assertIn("new EventSource(", page)
        self.assertIn("last_event_id=earliest", page)
        # no external asset: no URL with a scheme but data:, no src/href elsewhere
        self.assertEqual(re.findall(r"\b(?:src|href)\s*=\s*\"(?!data:)[^\"]*\"", page), [])
        self.assertEqual(re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}", page), [])
        self.assertNotIn("innerHTML", page)
        status, _, body = http_get(m, "/chat/nothing")
        self.assertEqual((status, json.loads(body)["error"][:8]), (404, "no such "))
        import http.client
        c = http.client.HTTPConnection(*gateway_addr(m), timeout=30)
        c.request("HEAD", "/chat/")
        r = c.getresponse()
        self.assertEqual((r.status, r.read()), (200, b""))
        c.request("POST", "/chat/", body=b"x")
        r = c.getresponse()
        r.read()
        self.assertEqual(r.status, 405)
        c.close()

    def test_handshake_checks(self):
        m = start(self, instances=1)
        status, _, body = http_get(m, "/chat/ws?name=a&room=b")   # no upgrade
        self.assertEqual(status, 400)
        for q in ("room=lobby", "name=&room=lobby", "name=%01x&room=lobby",
                  "name=" + "x" * 33 + "&room=lobby", "name=Ada", "name=Ada&room=a%20b",
                  "name=Ada&room=" + "r" * 33, "name=%ff&room=lobby"):
            s, status, hdrs, rest = handshake(m, "/chat/ws?" + q)
            s.close()
            self.assertEqual(status, 400, q)
        for q in ("", "room=", "room=a/b"):
            with SSE(m, "/chat/events?" + q) as s:
                self.assertEqual(s.status, 400, q)
        s, status, hdrs, rest = handshake(m, "/chat/ws?name=Ada+L%C3%B6vel&room=Lobby_1.x-y")
        s.close()
        self.assertEqual(status, 101)


class TalkTest(unittest.TestCase):

    def test_say_join_leave_and_errors(self):
        m = start(self)

        async def go():
            a = await websockets.connect(url(m, "/chat/ws?name=Ada&room=lobby"))
            ja = await next_of(a, "join")
            self.assertEqual({k: ja[k] for k in ("name", "room")}, {"name": "Ada", "room": "lobby"})
            conn_a = ja["id"].rsplit("/", 1)[0]
            self.assertRegex(ja["id"], r"^[0-9a-f]{16}-[0-9a-f]+/join$")
            async with websockets.connect(url(m, "/chat/ws?name=B%C3%B8b&room=lobby")) as b, \
                    websockets.connect(url(m, "/chat/ws?name=Cy&room=other")) as c:
                self.assertEqual((await next_of(a, "join"))["name"], "Bøb")
                self.assertEqual((await next_of(b, "join"))["name"], "Bøb")  # its own too
                await a.send(say("hi <b>&amp;</b>"))
                for ws in (a, b):
                    p = await next_of(ws, "say")
                    self.assertEqual({k: p[k] for k in ("from", "text", "id")},
                                     {"from": "Ada", "text": "hi <b>&amp;</b>",
                                      "id": conn_a + "/1"})
                    self.assertNotIn("redelivered", p)
                    self.assertIsInstance(p["at"], int)
                await a.send(say("second"))
                for ws in (a, b):
                    self.assertEqual((await next_of(ws, "say"))["id"], conn_a + "/2")
                # errors go to the sender only, and use a seq of their own
                await b.send("not json")
                self.assertIn("JSON object", (await next_of(b, "error"))["error"])
                await b.send(json.dumps({"type": "shout", "text": "x"}))
                self.assertIn("unknown", (await next_of(b, "error"))["error"])
                await b.send(say("x" * 2001))
                self.assertIn("too long", (await next_of(b, "error"))["error"])
                await b.send(b"\x00\x01")
                self.assertIn("JSON text", (await next_of(b, "error"))["error"])
                await b.send(say("third"))
                p = await next_of(a, "say")
                self.assertEqual((p["from"], p["text"], p["id"].rsplit("/", 1)[1]),
                                 ("Bøb", "third", "5"))
                # other rooms hear nothing of lobby
                await c.send(say("elsewhere"))
                self.assertEqual((await next_of(c, "say"))["text"], "elsewhere")
            left = await next_of(a, "leave")   # b and c closed: lobby hears of b
            self.assertEqual((left["name"], left["room"]), ("Bøb", "lobby"))
            self.assertTrue(left["id"].endswith("/leave"))
            await a.close()
        run(go())

    def test_history_for_a_new_reader_and_join0(self):
        m = start(self)

        async def go():
            # a page: reads through its SSE hold, talks through join=0
            async with websockets.connect(url(m, "/chat/ws?name=Page&room=hist&join=0")) as p, \
                    websockets.connect(url(m, "/chat/ws?name=Ws&room=hist")) as w:
                await next_of(w, "join")          # Ws's own
                for i in range(3):
                    await p.send(say("p%d" % i))
                    self.assertEqual((await next_of(w, "say"))["text"], "p%d" % i)
                await w.send(say("from ws"))
                self.assertEqual((await next_of(w, "say"))["text"], "from ws")
                await p.send(say("last"))
                await next_of(w, "say")
                # nothing of the room came to the join=0 connection: the
                # first thing it gets is the answer to its own bad message
                await p.send("junk")
                self.assertEqual(json.loads(await recv(p))["type"], "error")
        run(go())
        with SSE(m, "/chat/events?room=hist&last_event_id=earliest") as s:
            self.assertEqual((s.status, s.headers["content-type"]), (200, "text/event-stream"))
            got = [json.loads(e["data"]) for e in s.events(7)]
            self.assertEqual([(g["type"], g.get("text") or g.get("name")) for g in got],
                             [("join", "Page"), ("join", "Ws"), ("say", "p0"), ("say", "p1"),
                              ("say", "p2"), ("say", "from ws"), ("say", "last")])
            self.assertEqual(len({g["id"] for g in got}), 7)
            # both left: kept, or live if they come after this reader
            left = [json.loads(e["data"]) for e in s.events(2)]
            self.assertEqual(sorted((g["type"], g["name"]) for g in left),
                             [("leave", "Page"), ("leave", "Ws")])


class RedeliveryTest(unittest.TestCase):

    def test_message_of_a_dead_instance_comes_again_flagged(self):
        # The only instance is stopped (SIGSTOP): the message reaches its
        # channel but is never handled; it is then killed, and its
        # replacement gets the message again (ack mode) and says so.
        m = start(self, instances=1, heartbeat_ms=0)

        async def go():
            async with websockets.connect(url(m, "/chat/ws?name=Ada&room=r")) as a:
                await next_of(a, "join")
                await a.send(say("one"))
                first = await next_of(a, "say")
                pid = ctl(m, cmd="status")["services"][0]["instances"][0]["pid"]
                os.kill(pid, signal.SIGSTOP)
                await a.send(say("two"))
                # two control round trips: muster has read the message and
                # flushed it into the stopped instance's channel
                ctl(m, cmd="status")
                ctl(m, cmd="status")
                os.kill(pid, signal.SIGKILL)
                m.expect(r"chat\[0\]: exit: killed by signal 9")
                p = await next_of(a, "say")
                self.assertEqual((p["text"], p.get("redelivered")), ("two", True))
                self.assertEqual(p["id"], first["id"][:-1] + "2")
                self.assertFalse(pid_alive(pid))
        run(go())


if __name__ == "__main__":
    unittest.main()
