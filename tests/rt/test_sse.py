"""SSE subscriptions (SPEC §8 `hold`): the stream muster keeps, the
history with EPOCH-OFFSET positions, resume from last-event-id (header or
query), muster-reset when the gap cannot be filled, keepalive comments,
and streams that outlive the instance that answered them."""
import os
import re
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rtlib import Muster, TIMEOUT, ctl, gateway_addr, wait_ready, ws_svc  # noqa: E402
from httpclient import RawClient  # noqa: E402


class Stream:
    """An SSE stream read event by event from a raw connection."""

    def __init__(self, m, path, headers=()):
        self.c = RawClient(gateway_addr(m), TIMEOUT)
        self.c.request("GET", path, headers=list(headers))
        _, self.status, _, self.headers, _ = self.c.read_head()
        self.chunks = self.c.iter_chunks()
        self.text = ""

    def header(self, name):
        return dict(self.headers).get(name)

    def next_block(self, deadline=None):
        """The next event (a dict of its fields) or comment (":..." lines)."""
        deadline = deadline or time.monotonic() + TIMEOUT
        while "\n\n" not in self.text:
            if time.monotonic() > deadline:  # keepalive comments would reset every recv's timeout
                raise AssertionError("no whole SSE block within %.0f s; have %r"
                                     % (TIMEOUT, self.text[-300:]))
            data, _ = next(self.chunks)
            self.text += data.decode()
        block, self.text = self.text.split("\n\n", 1)
        ev = {"comment": [], "data": []}
        for line in block.split("\n"):
            if line.startswith(":"):
                ev["comment"].append(line[1:].strip())
                continue
            k, _, v = line.partition(":")
            v = v[1:] if v.startswith(" ") else v
            if k == "data":
                ev["data"].append(v)
            else:
                ev[k] = v
        ev["data"] = "\n".join(ev["data"]) if ev["data"] else None
        return ev

    def next_event(self):
        """The next event with data (comments skipped), within TIMEOUT."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            if time.monotonic() > deadline:
                raise AssertionError("no SSE event within %.0f s (only comments)" % TIMEOUT)
            ev = self.next_block(deadline)
            if ev["data"] is not None:
                return ev

    def close(self):
        self.c.close()


def publish(m, room, text):
    r = ctl(m, cmd="publish", topic=room, data=text)
    assert r["ok"], r
    return r["delivered"]


class HoldTest(unittest.TestCase):

    def test_hold_streams_publications(self):
        with Muster([ws_svc()]).start() as m:
            wait_ready(m)
            s = Stream(m, "/chat/sse?rooms=news")
            self.addCleanup(s.close)
            self.assertEqual(s.status, 200)
            self.assertEqual(s.header("content-type"), "text/event-stream")
            self.assertEqual(s.next_block()["comment"], ["hello"])  # the response's body first
            self.assertEqual(publish(m, "news", "line one\nline two"), 1)
            ev = s.next_event()
            self.assertEqual(ev["data"], "line one\nline two")
            self.assertNotIn("id", ev)  # no history: no position

    def test_stream_closed_by_its_own_write(self):
        """A client that does not read, past gateway.max_buffered_bytes
        (below realtime.max_outbound_bytes): the write itself closes the
        connection, in the middle of delivering to the stream; muster goes
        on (ASan found the stream used after it was freed there) and the
        other reader gets every publication."""
        m = Muster([ws_svc()], realtime={"max_outbound_bytes": 8388608})
        m.config["gateway"]["max_buffered_bytes"] = 262144
        m.write_config()
        with m.start():
            wait_ready(m)
            stuck = socket.socket()
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before: a small window
            stuck.settimeout(TIMEOUT)
            stuck.connect(gateway_addr(m))
            stuck.sendall(b"GET /chat/sse?rooms=news HTTP/1.1\r\nhost: x\r\n\r\n")
            self.addCleanup(stuck.close)
            s = Stream(m, "/chat/sse?rooms=news")
            self.addCleanup(s.close)
            s.next_block()  # ": hello": both holds are up (in order of arrival)
            big = "x" * 16000
            for i in range(400):  # 6.4 MB: past the kernel's buffers, then the 256 KiB budget
                publish(m, "news", "%d %s" % (i, big))
                self.assertEqual(s.next_event()["data"], "%d %s" % (i, big))
            self.assertEqual(publish(m, "news", "after"), 1)  # the stuck one is gone
            self.assertEqual(s.next_event()["data"], "after")

    def test_slow_reader_ends_and_a_big_event_reaches_a_reader(self):
        """realtime.max_outbound_bytes: a stream whose client does not
        read ends once what waits for it would pass the limit; one event
        larger than the limit still reaches a client that has read all
        before it (it is not slow: it was closed so before)."""
        with Muster([ws_svc()], realtime={"max_outbound_bytes": 65536}).start() as m:
            wait_ready(m)
            s = Stream(m, "/chat/sse?rooms=news")
            self.addCleanup(s.close)
            s.next_block()
            big = "b" * 100000  # from the service: an operator's publish is 16 KiB at most
            c = RawClient(gateway_addr(m), TIMEOUT)
            c.request("POST", "/chat/publish?room=news", body=big.encode())
            self.assertEqual(c.read_response().status, 200)
            c.close()
            self.assertEqual(s.next_event()["data"], big)
            stuck = socket.socket()
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before: a small window
            stuck.settimeout(TIMEOUT)
            stuck.connect(gateway_addr(m))
            self.addCleanup(stuck.close)
            stuck.sendall(b"GET /chat/sse?rooms=news HTTP/1.1\r\nhost: x\r\n\r\n")
            deadline = time.monotonic() + TIMEOUT
            while ctl(m, cmd="status")["services"][0]["connections"] < 2:
                self.assertLess(time.monotonic(), deadline, "the second stream is not held")
            delivered, i = 2, 0
            while delivered == 2 and i < 1000:  # 16 MB at most: past the kernel's buffers
                delivered = publish(m, "news", "%d %s" % (i, "x" * 16000))
                self.assertEqual(s.next_event()["data"], "%d %s" % (i, "x" * 16000))
                i += 1
            self.assertEqual(delivered, 1, "the stream that does not read was not ended")
            m.seen_or_expect(r"SSE client 127\.0\.0\.1 does not read \(\d+ bytes queued\)")
            self.assertEqual(publish(m, "news", "after"), 1)
            self.assertEqual(s.next_event()["data"], "after")

    def test_event_name_and_binary_skipped(self):
        with Muster([ws_svc()], realtime={"history_size": 10}).start() as m:
            wait_ready(m)
            s = Stream(m, "/chat/sse?rooms=news")
            self.addCleanup(s.close)
            s.next_block()
            c = RawClient(gateway_addr(m), TIMEOUT)
            c.request("POST", "/chat/publish?room=news&event=flash", body=b"named")
            self.assertEqual(c.read_response().status, 200)
            c.close()
            ev = s.next_event()
            self.assertEqual((ev.get("event"), ev["data"]), ("flash", "named"))
            self.assertRegex(ev["id"], r"^[0-9a-f]+-1$")

    def test_stream_outlives_its_instance(self):
        with Muster([ws_svc()]).start() as m:
            wait_ready(m)
            s = Stream(m, "/chat/sse?rooms=news")
            self.addCleanup(s.close)
            s.next_block()
            pid = ctl(m, cmd="status")["services"][0]["instances"][0]["pid"]
            os.kill(pid, signal.SIGKILL)
            m.expect(r"chat\[0\]: exit: killed by signal 9")
            publish(m, "news", "still here")
            self.assertEqual(s.next_event()["data"], "still here")
            st = ctl(m, cmd="status", service="chat")["services"][0]
            self.assertEqual(st["connections"], 1)

    def test_keepalive_comments(self):
        with Muster([ws_svc()], realtime={"sse_keepalive_ms": 200}).start() as m:
            wait_ready(m)
            s = Stream(m, "/chat/sse?rooms=quiet")
            self.addCleanup(s.close)
            s.next_block()
            self.assertEqual(s.next_block()["comment"], [""])  # ":" alone


class HistoryTest(unittest.TestCase):

    def test_resume_from_last_event_id(self):
        with Muster([ws_svc()], realtime={"history_size": 10}).start() as m:
            wait_ready(m)
            s = Stream(m, "/chat/sse?rooms=news")
            s.next_block()
            for i in range(1, 4):
                publish(m, "news", "m%d" % i)
            evs = [s.next_event() for _ in range(3)]
            s.close()
            epoch, first = evs[0]["id"].split("-")
            self.assertEqual([e["id"] for e in evs], ["%s-%d" % (epoch, i) for i in (1, 2, 3)])
            publish(m, "news", "m4")  # while away
            # EventSource sends Last-Event-ID as a header...
            s = Stream(m, "/chat/sse?rooms=news", [("Last-Event-ID", "%s-2" % epoch)])
            s.next_block()
            got = [s.next_event() for _ in range(2)]
            self.assertEqual([(e["data"], e["id"]) for e in got],
                             [("m3", "%s-3" % epoch), ("m4", "%s-4" % epoch)])
            s.close()
            # ... a page may give it in the query instead
            s = Stream(m, "/chat/sse?rooms=news&last_event_id=%s-3" % epoch)
            self.addCleanup(s.close)
            s.next_block()
            self.assertEqual(s.next_event()["data"], "m4")

    def test_gap_that_cannot_be_filled_resets(self):
        with Muster([ws_svc()], realtime={"history_size": 2}).start() as m:
            wait_ready(m)
            s = Stream(m, "/chat/sse?rooms=news")
            s.next_block()
            publish(m, "news", "m1")
            epoch = s.next_event()["id"].split("-")[0]
            s.close()
            for i in range(2, 6):
                publish(m, "news", "m%d" % i)  # 2 and 3 fall out of the history
            s = Stream(m, "/chat/sse?rooms=news", [("Last-Event-ID", "%s-1" % epoch)])
            self.addCleanup(s.close)
            s.next_block()
            ev = s.next_event()
            self.assertEqual(ev.get("event"), "muster-reset")
            self.assertEqual(ev["data"], '{"room":"news"}')
            # a position from another epoch (another muster) resets as well
            s2 = Stream(m, "/chat/sse?rooms=news", [("Last-Event-ID", "deadbeef-5")])
            self.addCleanup(s2.close)
            s2.next_block()
            self.assertEqual(s2.next_event().get("event"), "muster-reset")

    def test_several_rooms_carry_every_position(self):
        with Muster([ws_svc()], realtime={"history_size": 10}).start() as m:
            wait_ready(m)
            s = Stream(m, "/chat/sse?rooms=a,b")
            s.next_block()
            publish(m, "a", "in a")
            ev1 = s.next_event()
            publish(m, "b", "in b")
            ev2 = s.next_event()
            s.close()
            ea = re.match(r"a=([0-9a-f]+)-1,b=([0-9a-f]+)-0$", ev1["id"])
            self.assertTrue(ea, ev1["id"])
            self.assertEqual(ev2["id"], "a=%s-1,b=%s-1" % (ea.group(1), ea.group(2)))
            publish(m, "a", "a again")
            s = Stream(m, "/chat/sse?rooms=a,b", [("Last-Event-ID", ev2["id"])])
            self.addCleanup(s.close)
            s.next_block()
            ev = s.next_event()
            self.assertEqual(ev["data"], "a again")
            self.assertEqual(ev["id"], "a=%s-2,b=%s-1" % (ea.group(1), ea.group(2)))


if __name__ == "__main__":
    unittest.main()
