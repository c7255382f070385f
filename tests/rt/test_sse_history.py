"""SSE holds of rooms with history (SPEC §8): a new reader from now on,
one that comes back from its last-event-id (header or query) gets what it
missed or a muster-reset, in one room or several (the pairs form), and one
that asks for `earliest` gets all that a room keeps. Driven through
tests/helpers/ws_service.js."""
import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rtlib import SSE, Muster, wait_ready, ws_svc  # noqa: E402
from musterproc import gateway_addr  # noqa: E402


def publish(m, room, text):
    import http.client
    c = http.client.HTTPConnection(*gateway_addr(m), timeout=30)
    try:
        c.request("POST", "/chat/publish?room=" + room, body=text.encode())
        r = c.getresponse()
        r.read()
        assert r.status == 200, r.status
    finally:
        c.close()


class HistoryTest(unittest.TestCase):

    def setUp(self):
        self.m = Muster([ws_svc()], realtime={"history_size": 5}).start()
        self.addCleanup(self.m.stop)
        wait_ready(self.m)

    def test_resume_and_reset(self):
        with SSE(self.m, "/chat/sse?rooms=news") as s:
            self.assertEqual((s.status, s.headers["content-type"]), (200, "text/event-stream"))
            publish(self.m, "news", "a")
            publish(self.m, "news", "b")
            first, second = s.events(2)
        epoch = first["id"].split("-")[0]
        self.assertEqual(first, {"id": epoch + "-1", "data": "a"})
        with SSE(self.m, "/chat/sse?rooms=news", {"Last-Event-ID": first["id"]}) as s:
            self.assertEqual(s.event(), second)        # what it missed, then live
            publish(self.m, "news", "c")
            self.assertEqual(s.event(), {"id": epoch + "-3", "data": "c"})
        with SSE(self.m, "/chat/sse?rooms=news") as s:  # no position: from now on
            publish(self.m, "news", "d")
            self.assertEqual(s.event(), {"id": epoch + "-4", "data": "d"})
        for i in range(5):
            publish(self.m, "news", "e%d" % i)
        # offset 2 is no longer kept (5 of 9): a reset, never a silent gap
        with SSE(self.m, "/chat/sse?rooms=news&last_event_id=%s" % first["id"]) as s:
            ev = s.event()
            self.assertEqual(ev, {"id": epoch + "-9", "event": "muster-reset",
                                  "data": '{"room":"news"}'})
        with SSE(self.m, "/chat/sse?rooms=news&last_event_id=x%s-8" % epoch) as s:
            self.assertEqual(s.event()["event"], "muster-reset")   # another epoch

    def test_resume_in_several_rooms(self):
        # Each id holds every room's position; coming back replays each
        # room from its own (a replay of one room never shows another's
        # position before it was set).
        with SSE(self.m, "/chat/sse?rooms=a,b,a") as s:
            publish(self.m, "a", "a1")
            publish(self.m, "b", "b1")
            publish(self.m, "a", "a2")
            publish(self.m, "b", "b2")
            got = s.events(4)
        ids = [e["id"] for e in got]
        self.assertRegex(ids[0], r"^a=\w+-1,b=\w+-0$")
        self.assertRegex(ids[3], r"^a=\w+-2,b=\w+-2$")
        pa = re.match(r"^a=(\w+)-", ids[0]).group(1)
        pb = re.search(r",b=(\w+)-", ids[0]).group(1)
        with SSE(self.m, "/chat/sse?rooms=a,b", {"Last-Event-ID": ids[0]}) as s:
            again = s.events(3)
        self.assertEqual([e["data"] for e in again], ["a2", "b1", "b2"])
        # while a is replayed, b's position is the one the client had
        self.assertEqual([e["id"] for e in again],
                         ["a=%s-2,b=%s-0" % (pa, pb), "a=%s-2,b=%s-1" % (pa, pb), ids[3]])

    def test_earliest_gets_what_the_room_keeps(self):
        with SSE(self.m, "/chat/sse?rooms=news") as first:   # makes the room
            for i in range(1, 8):
                publish(self.m, "news", "n%d" % i)
            got = first.events(7)
        epoch = got[0]["id"].split("-")[0]
        # the last 5 (history_size), with their own ids, no reset; then live
        with SSE(self.m, "/chat/sse?rooms=news&last_event_id=earliest") as s:
            got = s.events(5)
            self.assertEqual(got, [{"id": "%s-%d" % (epoch, i), "data": "n%d" % i}
                                   for i in range(3, 8)])
            publish(self.m, "news", "live")
            self.assertEqual(s.event(), {"id": "%s-8" % epoch, "data": "live"})
        with SSE(self.m, "/chat/sse?rooms=news", {"Last-Event-ID": "earliest"}) as s:
            self.assertEqual(s.event()["data"], "n4")
        # a browser reconnecting sends its Last-Event-ID, which wins over
        # the query the page opened with (the chat page's case)
        with SSE(self.m, "/chat/sse?rooms=news&last_event_id=earliest",
                 {"Last-Event-ID": "%s-8" % epoch}) as s:
            publish(self.m, "news", "after")
            self.assertEqual(s.event(), {"id": "%s-9" % epoch, "data": "after"})
        # a room nobody wrote to yet: nothing, then live
        with SSE(self.m, "/chat/sse?rooms=empty&last_event_id=earliest") as s:
            publish(self.m, "empty", "first")
            self.assertEqual(s.event()["data"], "first")

    def test_earliest_in_several_rooms(self):
        with SSE(self.m, "/chat/sse?rooms=a,b") as s:
            publish(self.m, "a", "a1")
            publish(self.m, "b", "b1")
            publish(self.m, "a", "a2")
            ids = [e["id"] for e in s.events(3)]
        with SSE(self.m, "/chat/sse?rooms=a,b&last_event_id=earliest") as s:
            got = s.events(3)
        self.assertEqual([e["data"] for e in got], ["a1", "a2", "b1"])
        self.assertEqual(got[-1]["id"], ids[2])
        # pairs: a from where it was, b from its earliest
        pair_a = re.match(r"a=\w+-1", ids[0]).group(0)
        with SSE(self.m, "/chat/sse?rooms=a,b&last_event_id=%s,b=earliest" % pair_a) as s:
            got = s.events(2)
        self.assertEqual([e["data"] for e in got], ["a2", "b1"])
        self.assertEqual(got[-1]["id"], ids[2])


if __name__ == "__main__":
    unittest.main()
