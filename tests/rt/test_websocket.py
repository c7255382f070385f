"""WebSocket through muster (SPEC §8): the handshake as a request, every
message of the protocol, rooms, binding and rebinding, ack mode, hold_ms.
A real client (Debian's python3-websockets) and raw sockets."""
import asyncio
import json
import os
import signal
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rtlib import (Muster, TIMEOUT, close_code, closed_code, ctl, frame, gateway_addr,  # noqa: E402
                   handshake, handshake_answer, read_frame, recv, run, url, wait_ready,
                   websockets, ws_svc)
from musterproc import http_get, service  # noqa: E402


class HandshakeTest(unittest.TestCase):

    def test_accepted_handshake_and_echo(self):
        with Muster([ws_svc()]).start() as m:
            wait_ready(m)

            async def go():
                async with websockets.connect(url(m, "/chat/ws?protocol=chat.v1"),
                                              subprotocols=["chat.v1"]) as ws:
                    self.assertEqual(ws.subprotocol, "chat.v1")
                    await ws.send("echo:hello")
                    self.assertEqual(await recv(ws), "hello")
                    await ws.send("json:x")
                    self.assertEqual(json.loads(await recv(ws)), {"echo": "x"})
                    await ws.send("bin")
                    self.assertEqual(await recv(ws), b"\x00\x01\x02\xff")
            run(go())

    def test_text_cut_inside_a_surrogate_pair_arrives(self):
        # A Node service that cuts a string in the middle of an emoji sends
        # a lone surrogate escape (JSON.stringify); Node and browsers encode
        # it as U+FFFD. It must reach the client so, not be dropped.
        with Muster([ws_svc()]).start() as m:
            wait_ready(m)

            async def go():
                async with websockets.connect(url(m, "/chat/ws")) as ws:
                    await ws.send("cut:hi \U0001F600")
                    self.assertEqual(await recv(ws), "hi \ufffd")
                    await ws.send("echo:still here")
                    self.assertEqual(await recv(ws), "still here")
            run(go())
            self.assertNotRegex(m.log_text(), r"dropped invalid message")

    def test_text_with_bytes_that_are_not_utf8_arrives(self):
        # A text frame must be UTF-8 (a browser fails the connection with
        # 1007 otherwise); a service that writes a raw 0xff in its line
        # gets it to the client as U+FFFD, and the connection goes on.
        helper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "helpers",
                              "raw_text_service.py")
        with Muster([service("chat", [sys.executable, helper], routes=["/chat"])]).start() as m:
            wait_ready(m)

            async def go():
                async with websockets.connect(url(m, "/chat/ws")) as ws:
                    for _ in range(2):
                        await ws.send("hi")
                        self.assertEqual(await recv(ws), "raw \ufffd text")
            run(go())

    def test_refusal_is_an_http_answer(self):
        with Muster([ws_svc()]).start() as m:
            wait_ready(m)
            s, status, hdrs, rest = handshake(m, "/chat/refuse")
            s.close()
            self.assertEqual(status, 403)
            self.assertNotIn("sec-websocket-accept", hdrs)

    def test_accept_key(self):
        # RFC 6455 §1.3's example key and answer.
        with Muster([ws_svc()]).start() as m:
            wait_ready(m)
            s, status, hdrs, rest = handshake(m, "/chat/ws")
            s.close()
            self.assertEqual(status, 101)
            self.assertEqual(hdrs.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            self.assertEqual(hdrs.get("upgrade", "").lower(), "websocket")
            self.assertNotIn("content-length", hdrs)
            self.assertNotIn("sec-websocket-extensions", hdrs)  # no permessage-deflate

    def test_malformed_handshakes_answered_by_muster(self):
        with Muster([ws_svc()]).start() as m:
            wait_ready(m)
            key2 = ("Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==",)
            for headers, more, want in (({"Sec-WebSocket-Key": "short"}, (), 400),
                                        ({"Sec-WebSocket-Key": None}, (), 400),
                                        ({"Connection": "keep-alive"}, (), 400),
                                        ({"Sec-WebSocket-Version": "8"}, (), 426),
                                        ({}, key2, 400),  # two keys: which one to answer?
                                        ({}, ("Sec-WebSocket-Version: 13",), 400)):
                s, status, hdrs, rest = handshake(m, "/chat/ws", headers, more=more)
                s.close()
                self.assertEqual(status, want, headers)
                if want == 426:
                    self.assertEqual(hdrs.get("sec-websocket-version"), "13")
            # the service never heard of them
            status, _, body = http_get(m, "/chat/seen")
            self.assertEqual(json.loads(body)["messages"], [])


    def test_connection_and_upgrade_over_several_headers(self):
        # RFC 9110 §5.3: a list header may come as several lines.
        with Muster([ws_svc()]).start() as m:
            wait_ready(m)
            status, hdrs = handshake_answer(m, "/chat/ws", {"Connection": "keep-alive"},
                                            more=("Connection: Upgrade",))
            self.assertEqual(status, 101)
            self.assertEqual(hdrs.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_service_headers_go_with_the_101(self):
        # SPEC §8: the 101 takes the service's headers (a session cookie);
        # the handshake's own are muster's.
        with Muster([ws_svc()]).start() as m:
            wait_ready(m)
            status, hdrs = handshake_answer(m, "/chat/ws?cookies")
            self.assertEqual(status, 101)
            self.assertEqual(hdrs.get("set-cookie"), ["a=1", "b=2"])
            self.assertEqual(hdrs.get("x-chat"), "yes")
            self.assertEqual(hdrs.get("sec-websocket-accept"), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
            self.assertEqual(hdrs.get("upgrade"), "websocket")
            self.assertNotIn("sec-websocket-extensions", hdrs)

    def test_subprotocol_is_one_the_client_offered(self):
        # RFC 6455 §4.2.2: a browser fails the connection on a subprotocol
        # it did not offer, so muster never sends one.
        with Muster([ws_svc()]).start() as m:
            wait_ready(m)
            offered = {"Sec-WebSocket-Protocol": "chat.v1, chat.v2"}
            status, hdrs = handshake_answer(m, "/chat/ws?protocol=chat.v3", offered)
            self.assertEqual(status, 502)
            m.seen_or_expect(r"chose a WebSocket subprotocol the client did not offer")
            # none offered: the service's choice is left out
            status, hdrs = handshake_answer(m, "/chat/ws?protocol=chat.v3")
            self.assertEqual(status, 101)
            self.assertNotIn("sec-websocket-protocol", hdrs)
            # a choice that would split the answer is not one the client offered
            status, hdrs = handshake_answer(m, "/chat/ws?protocol=chat.v1%0D%0Ax-injected:%201",
                                            offered)
            self.assertEqual(status, 502)
            self.assertNotIn("x-injected", hdrs)
            # offered over two headers, the second one chosen
            status, hdrs = handshake_answer(m, "/chat/ws?protocol=chat.v2",
                                            {"Sec-WebSocket-Protocol": "chat.v1"},
                                            more=("Sec-WebSocket-Protocol: chat.v2",))
            self.assertEqual((status, hdrs.get("sec-websocket-protocol")), (101, "chat.v2"))
            # case matters: Chat.V1 is not chat.v1
            status, hdrs = handshake_answer(m, "/chat/ws?protocol=Chat.V1", offered)
            self.assertEqual(status, 502)


class SlowConsumerTest(unittest.TestCase):

    def test_slow_reader_closed_1008_and_a_big_message_reaches_a_reader(self):
        # realtime.max_outbound_bytes: a client that does not read is closed
        # (1008, the service hears it) once what waits for it would pass the
        # limit; one message larger than the limit still reaches a client
        # that has read all before it (it was closed as "slow" before).
        rt = {"max_outbound_bytes": 65536, "ws_max_message_bytes": 1 << 20}
        with Muster([ws_svc()], realtime=rt).start() as m:
            wait_ready(m)
            stuck = socket.socket()
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before: a small window
            stuck.settimeout(TIMEOUT)
            stuck.connect(gateway_addr(m))
            self.addCleanup(stuck.close)
            stuck.sendall(b"GET /chat/ws?join=r HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\n"
                          b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")

            async def go():
                async with websockets.connect(url(m, "/chat/ws?join=r"), max_size=None) as ws:
                    big = "b" * 200000
                    await ws.send("echo:" + big)
                    self.assertEqual(await recv(ws), big)
                    for i in range(1000):  # 16 MB at most: past the kernel's buffers
                        closes = json.loads(http_get(m, "/chat/seen")[2])["closes"]
                        if closes:
                            return closes
                        await ws.send("pub:r:%d %s" % (i, "x" * 16000))
                        self.assertEqual(await recv(ws), "%d %s" % (i, "x" * 16000))
                    return []
            closes = run(go())
            self.assertEqual([(c["code"], c["reason"]) for c in closes],
                             [(1008, "too slow a consumer")])
            m.seen_or_expect(r"WebSocket \S+ of 127\.0\.0\.1 does not read \(\d+ bytes queued\)")


class RoomsTest(unittest.TestCase):

    def test_publish_to_room_and_except(self):
        with Muster([ws_svc(instances=2)]).start() as m:
            wait_ready(m, n=2)

            async def go():
                async with websockets.connect(url(m, "/chat/ws?join=lobby")) as a, \
                        websockets.connect(url(m, "/chat/ws?join=lobby")) as b, \
                        websockets.connect(url(m, "/chat/ws?join=other")) as c:
                    await a.send("pub:lobby:hi")
                    self.assertEqual(await recv(a), "hi")
                    self.assertEqual(await recv(b), "hi")
                    await a.send("pubx:lobby:not for me")
                    self.assertEqual(await recv(b), "not for me")
                    await c.send("echo:c-ok")  # c heard nothing of lobby
                    self.assertEqual(await recv(c), "c-ok")
                    await a.send("echo:a-ok")  # nor did a hear its own except
                    self.assertEqual(await recv(a), "a-ok")
                    await b.send("leave:lobby")
                    await b.send("echo:left")
                    self.assertEqual(await recv(b), "left")
                    await a.send("pub:lobby:after")
                    self.assertEqual(await recv(a), "after")
                    await b.send("echo:b-ok")
                    self.assertEqual(await recv(b), "b-ok")
            run(go())

    def test_publish_keeps_u0000(self):
        # cJSON keeps strings as C strings; a publication holding U+0000
        # (from Node: "\\u0000" in the line) still arrives whole.
        with Muster([ws_svc()]).start() as m:
            wait_ready(m)

            async def go():
                async with websockets.connect(url(m, "/chat/ws?join=lobby")) as a, \
                        websockets.connect(url(m, "/chat/ws?join=lobby")) as b:
                    await a.send("pub:lobby:before\u0000after")
                    self.assertEqual(await recv(a), "before\u0000after")
                    self.assertEqual(await recv(b), "before\u0000after")
            run(go())

    def test_operator_publish_and_rooms_command(self):
        with Muster([ws_svc()]).start() as m:
            wait_ready(m)

            async def go():
                async with websockets.connect(url(m, "/chat/ws?join=news")) as a:
                    await a.send("echo:joined")
                    await recv(a)
                    r = ctl(m, cmd="rooms")
                    self.assertTrue(r["ok"], r)
                    rooms = {x["room"]: x for x in r["rooms"]}
                    self.assertEqual(rooms["news"]["members"], 1)
                    r = ctl(m, cmd="publish", topic="news", data="from the operator")
                    self.assertTrue(r["ok"], r)
                    self.assertEqual(await recv(a), "from the operator")
                    st = ctl(m, cmd="status", service="chat")
                    self.assertEqual(st["services"][0]["connections"], 1)
            run(go())


class CloseTest(unittest.TestCase):

    def test_service_closes_with_its_code(self):
        with Muster([ws_svc()]).start() as m:
            wait_ready(m)

            async def go():
                async with websockets.connect(url(m, "/chat/ws")) as a:
                    await a.send("close:4001")
                    self.assertEqual(await closed_code(a), (4001, "bye"))
                async with websockets.connect(url(m, "/chat/ws")) as b:
                    await b.send("close:4002:see\u0000you")  # U+0000 kept (cJSON cut it)
                    self.assertEqual(await closed_code(b), (4002, "see\u0000you"))
            run(go())

    def test_shutdown_closes_with_1001(self):
        with Muster([ws_svc()]).start() as m:
            wait_ready(m)

            async def go():
                async with websockets.connect(url(m, "/chat/ws")) as a:
                    await a.send("echo:x")
                    await recv(a)
                    m.signal(signal.SIGTERM)
                    self.assertEqual((await closed_code(a))[0], 1001)
            run(go())
            self.assertEqual(m.wait(), 0)


class BindingTest(unittest.TestCase):

    def kill_all(self, m, name="chat"):
        for inst in ctl(m, cmd="status", service=name)["services"][0]["instances"]:
            if inst["pid"]:
                os.kill(inst["pid"], signal.SIGKILL)
                m.expect(r"%s\[%d\]: exit: killed by signal 9" % (name, inst["index"]))

    def test_instance_death_drops_no_client(self):
        # Every instance dies: the connection stays, its next message waits
        # (hold_ms) for a replacement and is answered by it.
        with Muster([ws_svc(instances=2)]).start() as m:
            wait_ready(m, n=2)

            async def go():
                async with websockets.connect(url(m, "/chat/ws?join=lobby")) as a:
                    await a.send("echo:one")
                    self.assertEqual(await recv(a), "one")
                    self.kill_all(m)
                    await a.send("echo:two")
                    self.assertEqual(await recv(a), "two")
                    await a.send("pub:lobby:rooms kept")  # its rooms are muster's
                    self.assertEqual(await recv(a), "rooms kept")
            run(go())

    def test_close_while_no_instance_is_ready_reaches_the_next(self):
        # The client leaves while its service's only instance restarts: its
        # ws_close waits and goes to the replacement once that is ready
        # (before any request: /seen already lists it). Without the wait
        # the close was dropped and the service never heard of it.
        svc = ws_svc(env={"WS_READY_DELAY_MS": "1500"})
        with Muster([svc]).start() as m:
            wait_ready(m)

            async def go():
                async with websockets.connect(url(m, "/chat/ws?name=ann")) as a:
                    await a.send("whoami")
                    conn = await recv(a)
                    self.kill_all(m)
                return conn  # leaving the block closes with 1000
            conn = run(go())
            m.expect(r"chat\[0\]: ready: ")
            status, _, body = http_get(m, "/chat/seen")
            self.assertEqual(status, 200)
            closes = json.loads(body)["closes"]
            self.assertEqual([(c["conn"], c["code"], c["meta"]) for c in closes],
                             [(conn, 1000, {"name": "ann"})])

    def test_ack_mode_redelivers_unacknowledged(self):
        # The service never acknowledges: after its death the message comes
        # again to the new instance, flagged redelivered (at least once).
        svc = ws_svc(instances=1, ack=True, env={"WS_NO_ACK": "1"})
        with Muster([svc]).start() as m:
            wait_ready(m)

            async def go():
                async with websockets.connect(url(m, "/chat/ws")) as a:
                    await a.send("echo:one")
                    self.assertEqual(await recv(a), "one")
                    self.kill_all(m)
                    await a.send("echo:two")
                    got = []
                    while "two" not in got and len(got) < 5:
                        got.append(await recv(a))
                    self.assertEqual(got, ["one", "two"])
            run(go())
            status, _, body = http_get(m, "/chat/seen")
            seen = json.loads(body)["messages"]
            self.assertEqual([(x["seq"], x["redelivered"]) for x in seen], [(1, True), (2, False)])

    def test_hold_then_1013(self):
        svc = ws_svc(restart={"policy": "never"})
        with Muster([svc], realtime={"hold_ms": 300}).start() as m:
            wait_ready(m)

            async def go():
                async with websockets.connect(url(m, "/chat/ws")) as a:
                    await a.send("echo:x")
                    await recv(a)
                    pid = ctl(m, cmd="status")["services"][0]["instances"][0]["pid"]
                    os.kill(pid, signal.SIGKILL)
                    m.expect(r"chat\[0\]: exit: killed by signal 9")
                    await a.send("echo:nobody")
                    self.assertEqual((await closed_code(a))[0], 1013)
            run(go())


class FramingTest(unittest.TestCase):
    """Protocol errors with raw frames: each gets its close code."""

    def expect_close(self, m, data, code):
        s, status, hdrs, rest = handshake(m, "/chat/ws")
        self.assertEqual(status, 101)
        s.sendall(data)
        while True:
            op, payload, rest = read_frame(s, rest)
            if op == 8:
                break
        s.close()
        self.assertEqual(close_code(payload), code, data[:20])

    def test_protocol_errors(self):
        with Muster([ws_svc()], realtime={"ws_max_message_bytes": 1000}).start() as m:
            wait_ready(m)
            self.expect_close(m, frame(1, b"x", mask=None), 1002)           # unmasked
            self.expect_close(m, frame(1, b"x", rsv=4), 1002)               # RSV1
            self.expect_close(m, frame(3, b"x"), 1002)                      # reserved opcode
            self.expect_close(m, frame(9, b"x", fin=False), 1002)           # fragmented ping
            self.expect_close(m, frame(0, b"x"), 1002)                      # lone continuation
            self.expect_close(m, frame(1, b"\xff"), 1007)                   # not UTF-8
            self.expect_close(m, frame(1, b"y" * 1001), 1009)               # too big
            self.expect_close(m, frame(8, b"\x03"), 1002)                   # 1-byte close
            self.expect_close(m, frame(8, (1005).to_bytes(2, "big")), 1002)  # reserved code
            self.expect_close(m, frame(8, (4000).to_bytes(2, "big") + b"ok"), 4000)  # echoed


if __name__ == "__main__":
    unittest.main()
