"""The Autobahn|Testsuite's server cases, categories 1-7 and 10, as our own
(the suite is not packaged in Debian). Each test is named after the case
it covers (test_6_4_1_... is Autobahn's case 6.4.1); where a category is a
table (6.x: Markus Kuhn's UTF-8 stress test as Autobahn uses it; 7.7, 7.9)
one method runs its rows as subtests named after the cases. Tests with no
case number are ours, on the same subject.

One muster serves every case: one ws_service.js instance in echo-all mode
(each message comes back as it came: text as text, binary as binary),
server pings off so that every frame a test reads is an answer to it.
Malformed traffic goes through raw sockets (rtlib.RawWs), ordinary traffic
through python3-websockets.

Where Autobahn expects the echo of a valid message sent just before a
failing frame or a close (3.2, 4.1.3, 5.15, 7.1.1...), the test first waits
for the echo, then sends the rest: muster answers a close or fails the
connection as soon as it reads the frame, and the echo of a message
in flight at the service is dropped then (RFC 6455 §5.5.1 allows it;
docs/realtime.md). Autobahn itself accepts that as NON-STRICT for the
failing cases."""
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rtlib import (Muster, RawWs, frame, recv, run, url, wait_ready,  # noqa: E402
                   websockets, ws_svc)
from musterproc import http_get, rss_kb  # noqa: E402

TEXT, BINARY, CONT, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10
LIMIT = 65536   # ws_max_message_bytes (the default)
MASK = b"\x37\xfa\x21\x3d"
M = None


def setUpModule():
    global M
    M = Muster([ws_svc(env={"WS_ECHO_ALL": "1"})],
               realtime={"ping_interval_ms": 0, "ws_max_message_bytes": LIMIT})
    M.start()
    try:
        wait_ready(M)
    except BaseException:
        M.stop()
        raise


def tearDownModule():
    M.stop()


def F(op, payload=b"", fin=True, rsv=0, length=None):
    """A masked client frame."""
    return frame(op, payload, fin=fin, mask=MASK, rsv=rsv, length=length)


def close_frame(code=None, reason=b""):
    return F(CLOSE, b"" if code is None else code.to_bytes(2, "big") + reason)


def fragments(op, payload, size):
    """payload as a message of frames of size bytes (the first of opcode op)."""
    parts = [payload[i:i + size] for i in range(0, len(payload), size)] or [b""]
    return b"".join(F(op if i == 0 else CONT, p, fin=i == len(parts) - 1)
                    for i, p in enumerate(parts))


def seen():
    """What the service heard: (messages, closes)."""
    status, _, body = http_get(M, "/chat/seen")
    assert status == 200, status
    j = json.loads(body)
    return j["messages"], j["closes"]


class Case(unittest.TestCase):
    """Helpers: open a raw connection, expect an echo, a clean close, a
    failure with its code."""

    names = 0

    def open(self):
        """A raw connection; its name (the service's meta) is unique."""
        Case.names += 1
        self.name = "%s-%d" % (self.id().rsplit(".", 1)[1], Case.names)
        ws = RawWs(M, "/chat/ws?name=" + self.name)
        self.addCleanup(ws.close)
        return ws

    def expect(self, ws, op, payload):
        got_op, got = ws.recv()
        self.assertEqual((got_op, len(got)), (op, len(payload)))
        self.assertEqual(got, payload)

    def clean_close(self, ws, code=1000):
        """The client closes with code: the server echoes it, then closes
        the TCP connection."""
        ws.send(close_frame(code))
        self.assertEqual(ws.recv_close(), (code, b"", []))
        self.assertTrue(ws.eof())

    def echoes(self, data, op, payload, piece=None):
        """Sending data (in writes of piece bytes) gets payload back as one
        message of opcode op; then a clean close."""
        ws = self.open()
        ws.send(data, piece)
        self.expect(ws, op, payload)
        self.clean_close(ws)

    def fails(self, data, code, piece=None, ws=None, before=()):
        """Sending data (in writes of piece bytes) fails the connection:
        the server's frames are `before` (opcodes), then a close with code;
        then the server closes the TCP connection."""
        ws = ws or self.open()
        try:
            ws.send(data, piece)
        except (BrokenPipeError, ConnectionResetError):
            pass  # it failed before everything went: the close is read below
        got_code, _, got_before = ws.recv_close()
        self.assertEqual((got_code, got_before), (code, list(before)))
        self.assertTrue(ws.eof())
        return ws

    def after_echo(self, first, rest, code, piece=None):
        """A valid text message `first` (echoed), then `rest` fails with
        code; rest: bytes (in writes of piece bytes), or frames written
        one at a time."""
        ws = self.open()
        ws.send(F(TEXT, first))
        self.expect(ws, TEXT, first)
        if isinstance(rest, list):
            self.send_frames(ws, rest)
            rest = b""
        self.fails(rest, code, piece, ws=ws)

    def send_frames(self, ws, frames):
        """Each frame its own write (Autobahn's "frame-wise chops"); the
        server may close before the last."""
        try:
            for f in frames:
                ws.send(f)
        except (BrokenPipeError, ConnectionResetError):
            pass


def client(coro_fn):
    """Runs coro_fn(ws) on a python3-websockets connection, then closes
    it normally; returns the close code the server answered."""
    async def go():
        async with websockets.connect(url(M, "/chat/ws?name=client"), max_size=None,
                                      compression=None) as ws:
            await coro_fn(ws)
        return ws.close_code
    return run(go())


# ---- 1 Framing ----

class Framing1(Case):
    """Text (1.1) and binary (1.2) messages of the lengths around the
    header's length forms, echoed exactly."""

    LENGTHS = {1: 0, 2: 125, 3: 126, 4: 127, 5: 128, 6: 65535, 7: 65536}

    def with_client(self, binary):
        for case, n in self.LENGTHS.items():
            payload = bytes((i * 7 + 1) % 256 for i in range(n)) if binary else \
                ("*" * n)

            async def go(ws):
                await ws.send(payload)
                got = await recv(ws)
                self.assertEqual(type(got), type(payload))
                self.assertEqual(got, payload)
            with self.subTest(case="1.%d.%d" % (2 if binary else 1, case), length=n):
                self.assertEqual(client(go), 1000)

    def test_1_1_1_to_1_1_7_text_lengths(self):
        self.with_client(binary=False)

    def test_1_2_1_to_1_2_7_binary_lengths(self):
        self.with_client(binary=True)

    def test_1_1_raw_lengths_every_header_form(self):
        # the same lengths on raw frames: 7-bit, 16-bit and 64-bit lengths
        for n in self.LENGTHS.values():
            with self.subTest(length=n):
                self.echoes(F(TEXT, b"*" * n), TEXT, b"*" * n)
                self.echoes(F(BINARY, b"\xfe" * n), BINARY, b"\xfe" * n)

    def test_1_1_8_text_65536_in_997_byte_pieces(self):
        p = b"*" * 65536
        self.echoes(F(TEXT, p), TEXT, p, piece=997)

    def test_1_2_8_binary_65536_in_997_byte_pieces(self):
        p = bytes(range(256)) * 256
        self.echoes(F(BINARY, p), BINARY, p, piece=997)

    def test_1_header_and_payload_byte_by_byte(self):
        p = "h\u00e9llo \U0001f600".encode()
        self.echoes(F(TEXT, p), TEXT, p, piece=1)
        self.echoes(F(BINARY, b"\x00" * 130), BINARY, b"\x00" * 130, piece=1)

    def test_1_unmasked_frame_is_1002(self):
        self.fails(frame(TEXT, b"x", mask=None), 1002)

    def test_1_length_not_shortest_is_1002(self):
        # 5 bytes in the 16-bit form, 200 in the 64-bit form (RFC 6455 §5.2:
        # the minimal number of bytes MUST be used)
        self.fails(bytes([0x81, 0x80 | 126, 0, 5]) + MASK + b"hello", 1002)
        self.fails(bytes([0x82, 0x80 | 127]) + (200).to_bytes(8, "big") + MASK, 1002)
        self.fails(bytes([0x82, 0x80 | 127]) + (1 << 63).to_bytes(8, "big") + MASK, 1002)


# ---- 2 Pings and pongs ----

class PingPong2(Case):

    def pongs(self, payload, piece=None):
        ws = self.open()
        ws.send(F(PING, payload), piece)
        self.expect(ws, PONG, payload)
        self.clean_close(ws)

    def test_2_1_ping_empty(self):
        self.pongs(b"")

    def test_2_2_ping_text_payload(self):
        self.pongs(b"Hello, world!")

    def test_2_3_ping_binary_payload(self):
        self.pongs(b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff")

    def test_2_4_ping_125_bytes(self):
        self.pongs(b"\xfe" * 125)

    def test_2_5_ping_126_bytes_is_1002(self):
        self.fails(F(PING, b"\xfe" * 126), 1002)

    def test_2_6_ping_125_bytes_in_1_byte_pieces(self):
        self.pongs(b"\xfe" * 125, piece=1)

    def unsolicited(self, payload):
        ws = self.open()
        ws.send(F(PONG, payload) + F(TEXT, b"after"))
        self.expect(ws, TEXT, b"after")  # nothing answered the pong
        self.clean_close(ws)

    def test_2_7_unsolicited_pong_empty_ignored(self):
        self.unsolicited(b"")

    def test_2_8_unsolicited_pong_with_payload_ignored(self):
        self.unsolicited(b"unsolicited pong payload")

    def test_2_9_unsolicited_pong_then_ping(self):
        ws = self.open()
        ws.send(F(PONG, b"unsolicited") + F(PING, b"ping payload"))
        self.expect(ws, PONG, b"ping payload")
        self.clean_close(ws)

    def ten_pings(self, piece):
        ws = self.open()
        ws.send(b"".join(F(PING, b"payload-%d" % i) for i in range(10)), piece)
        for i in range(10):
            self.expect(ws, PONG, b"payload-%d" % i)
        self.clean_close(ws)

    def test_2_10_ten_pings(self):
        self.ten_pings(None)

    def test_2_11_ten_pings_in_1_byte_pieces(self):
        self.ten_pings(1)


# ---- 3 Reserved bits ----

class Reserved3(Case):
    # rsv: the three bits as a number, RSV1 the highest (frame()'s rsv)

    def test_3_1_text_rsv_1(self):
        self.fails(F(TEXT, b"Hello", rsv=1), 1002)

    def test_3_2_text_rsv_2_after_a_valid_text(self):
        self.after_echo(b"Hello", F(TEXT, b"Hello", rsv=2) + F(PING), 1002)

    def test_3_3_text_rsv_3_frame_by_frame(self):
        self.after_echo(b"Hello", [F(TEXT, b"Hello", rsv=3), F(PING)], 1002)

    def test_3_4_text_rsv_4_in_1_byte_pieces(self):
        self.after_echo(b"Hello", F(TEXT, b"Hello", rsv=4) + F(PING), 1002, piece=1)

    def test_3_5_binary_rsv_5(self):
        self.fails(F(BINARY, b"\x00\xff\xfe", rsv=5), 1002)

    def test_3_6_ping_rsv_6(self):
        self.fails(F(PING, b"Hello", rsv=6), 1002)

    def test_3_7_close_rsv_7(self):
        self.fails(F(CLOSE, (1000).to_bytes(2, "big"), rsv=7), 1002)

    def test_3_continuation_with_rsv(self):
        self.fails(F(TEXT, b"frag", fin=False) + F(CONT, b"ment", rsv=4), 1002)


# ---- 4 Opcodes ----

class Opcodes4(Case):

    def test_4_1_1_opcode_3(self):
        self.fails(F(3), 1002)

    def test_4_1_2_opcode_4_with_payload(self):
        self.fails(F(4, b"reserved opcode payload"), 1002)

    def test_4_1_3_opcode_5_after_a_valid_text(self):
        self.after_echo(b"Hello", F(5) + F(PING), 1002)

    def test_4_1_4_opcode_6_with_payload_after_a_valid_text(self):
        self.after_echo(b"Hello", F(6, b"payload") + F(PING), 1002)

    def test_4_1_5_opcode_7_with_payload_after_a_valid_text(self):
        self.after_echo(b"Hello", F(7, b"payload") + F(PING), 1002)

    def test_4_2_1_opcode_11(self):
        self.fails(F(11), 1002)

    def test_4_2_2_opcode_12_with_payload(self):
        self.fails(F(12, b"reserved opcode payload"), 1002)

    def test_4_2_3_opcode_13_after_a_valid_text(self):
        self.after_echo(b"Hello", F(13) + F(PING), 1002)

    def test_4_2_4_opcode_14_with_payload_after_a_valid_text(self):
        self.after_echo(b"Hello", F(14, b"payload") + F(PING), 1002)

    def test_4_2_5_opcode_15_with_payload_after_a_valid_text(self):
        self.after_echo(b"Hello", F(15, b"payload") + F(PING), 1002)

    def test_4_reserved_opcode_inside_a_fragmented_message(self):
        self.fails(F(TEXT, b"frag", fin=False) + F(3, b"x"), 1002)


# ---- 5 Fragmentation ----

class Fragmentation5(Case):

    TWO = F(TEXT, b"fragment1", fin=False) + F(CONT, b"fragment2")

    def test_5_1_ping_in_2_fragments_is_1002(self):
        self.fails(F(PING, b"fragment1", fin=False) + F(CONT, b"fragment2"), 1002)

    def test_5_2_pong_in_2_fragments_is_1002(self):
        self.fails(F(PONG, b"fragment1", fin=False) + F(CONT, b"fragment2"), 1002)

    def test_5_3_text_in_2_fragments(self):
        self.echoes(self.TWO, TEXT, b"fragment1fragment2")

    def test_5_3_binary_in_2_fragments(self):
        self.echoes(F(BINARY, b"\x00\x01", fin=False) + F(CONT, b"\xfe\xff"), BINARY,
                    b"\x00\x01\xfe\xff")

    def test_5_4_text_in_2_fragments_written_apart(self):
        ws = self.open()
        ws.send(F(TEXT, b"fragment1", fin=False))
        ws.send(F(CONT, b"fragment2"))
        self.expect(ws, TEXT, b"fragment1fragment2")
        self.clean_close(ws)

    def test_5_5_text_in_2_fragments_in_1_byte_pieces(self):
        self.echoes(self.TWO, TEXT, b"fragment1fragment2", piece=1)

    def ping_between(self, piece=None, frame_wise=False):
        ws = self.open()
        frames = [F(TEXT, b"fragment1", fin=False), F(PING, b"pongme!"), F(CONT, b"fragment2")]
        if frame_wise:
            self.send_frames(ws, frames)
        else:
            ws.send(b"".join(frames), piece)
        self.expect(ws, PONG, b"pongme!")  # answered while the message is open
        self.expect(ws, TEXT, b"fragment1fragment2")  # which stays whole
        self.clean_close(ws)

    def test_5_6_text_fragments_with_ping_between(self):
        self.ping_between()

    def test_5_7_text_fragments_with_ping_between_frame_by_frame(self):
        self.ping_between(frame_wise=True)

    def test_5_8_text_fragments_with_ping_between_in_1_byte_pieces(self):
        self.ping_between(piece=1)

    def test_5_binary_fragments_with_ping_and_pong_between(self):
        ws = self.open()
        ws.send(F(BINARY, b"\x01", fin=False) + F(PONG, b"x") + F(CONT, b"\x02", fin=False) +
                F(PING, b"p") + F(CONT, b"\x03"))
        self.expect(ws, PONG, b"p")
        self.expect(ws, BINARY, b"\x01\x02\x03")
        self.clean_close(ws)

    def test_5_9_continuation_fin_without_message_is_1002(self):
        self.fails(F(CONT, b"non-continuation payload") + F(TEXT, b"Hello, world!"), 1002)

    def test_5_11_continuation_fin_without_message_in_1_byte_pieces(self):
        self.fails(F(CONT, b"non-continuation payload") + F(TEXT, b"Hello, world!"), 1002,
                   piece=1)

    def test_5_12_continuation_without_message_is_1002(self):
        self.fails(F(CONT, b"non-continuation payload", fin=False) +
                   F(TEXT, b"Hello, world!"), 1002)

    def test_5_14_continuation_without_message_in_1_byte_pieces(self):
        self.fails(F(CONT, b"non-continuation payload", fin=False) +
                   F(TEXT, b"Hello, world!"), 1002, piece=1)

    def test_5_15_continuation_after_a_whole_message_is_1002(self):
        ws = self.open()
        ws.send(self.TWO)
        self.expect(ws, TEXT, b"fragment1fragment2")
        self.fails(F(CONT, b"fragment3", fin=False) + F(TEXT, b"fragment4"), 1002, ws=ws)

    def test_5_16_continuation_text_continuation_is_1002(self):
        self.fails((F(CONT, b"fragment1", fin=False) + F(TEXT, b"fragment2", fin=False) +
                    F(CONT, b"fragment3")) * 2, 1002)

    def test_5_17_final_continuation_text_continuation_is_1002(self):
        self.fails((F(CONT, b"fragment1") + F(TEXT, b"fragment2", fin=False) +
                    F(CONT, b"fragment3")) * 2, 1002)

    def test_5_18_text_inside_a_text_message_is_1002(self):
        self.fails(F(TEXT, b"fragment1", fin=False) + F(TEXT, b"fragment2"), 1002)

    def test_5_new_binary_inside_a_text_message_is_1002(self):
        self.fails(F(TEXT, b"fragment1", fin=False) + F(BINARY, b"fragment2"), 1002)

    def five_with_pings(self, piece=None, frame_wise=False):
        ws = self.open()
        frames = [F(TEXT, b"fragment1", fin=False), F(CONT, b"fragment2", fin=False),
                  F(PING, b"pongme 1!"), F(CONT, b"fragment3", fin=False),
                  F(CONT, b"fragment4", fin=False), F(PING, b"pongme 2!"), F(CONT, b"fragment5")]
        if frame_wise:
            self.send_frames(ws, frames)
        else:
            ws.send(b"".join(frames), piece)
        self.expect(ws, PONG, b"pongme 1!")
        self.expect(ws, PONG, b"pongme 2!")
        self.expect(ws, TEXT, b"fragment1fragment2fragment3fragment4fragment5")
        self.clean_close(ws)

    def test_5_19_five_fragments_two_pings_between(self):
        self.five_with_pings()

    def test_5_20_five_fragments_two_pings_between_frame_by_frame(self):
        self.five_with_pings(frame_wise=True)

    def test_5_five_fragments_two_pings_between_in_1_byte_pieces(self):
        self.five_with_pings(piece=1)

    def test_5_one_byte_fragments(self):
        t = "one byte a frame: \u00e9\u20ac\U0001f600".encode()
        self.echoes(fragments(TEXT, t, 1), TEXT, t)
        b = bytes(range(200))
        self.echoes(fragments(BINARY, b, 1), BINARY, b)

    def test_5_empty_fragments(self):
        # 6.1.2 / 6.1.3: empty frames open, continue and end a message
        self.echoes(F(TEXT, b"", fin=False) + F(CONT, b"", fin=False) + F(CONT, b""), TEXT, b"")
        self.echoes(F(TEXT, b"", fin=False) + F(CONT, b"middle", fin=False) + F(CONT, b""),
                    TEXT, b"middle")


# ---- 6 UTF-8 ----

KOSME = bytes.fromhex("cebae1bdb9cf83cebcceb5")  # κόσμε

# (case, bytes, valid): Autobahn's 6.x vectors
UTF8 = [
    ("6.2.1", "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!".encode(), True),
    ("6.3.1", KOSME + bytes.fromhex("eda080") + b"edited", False),
    ("6.5.1", KOSME, True),
    ("6.7.1", b"\x00", True),
    ("6.7.2", bytes.fromhex("c280"), True),
    ("6.7.3", bytes.fromhex("e0a080"), True),
    ("6.7.4", bytes.fromhex("f0908080"), True),
    ("6.8.1", bytes.fromhex("f888808080"), False),
    ("6.8.2", bytes.fromhex("fc8480808080"), False),
    ("6.9.1", b"\x7f", True),
    ("6.9.2", bytes.fromhex("dfbf"), True),
    ("6.9.3", bytes.fromhex("efbfbf"), True),
    ("6.9.4", bytes.fromhex("f48fbfbf"), True),
    ("6.10.1", bytes.fromhex("f7bfbfbf"), False),
    ("6.10.2", bytes.fromhex("fbbfbfbfbf"), False),
    ("6.10.3", bytes.fromhex("fdbfbfbfbfbf"), False),
    ("6.11.1", bytes.fromhex("ed9fbf"), True),
    ("6.11.2", bytes.fromhex("ee8080"), True),
    ("6.11.3", bytes.fromhex("efbfbd"), True),
    ("6.11.4", bytes.fromhex("f48fbfbf"), True),
    ("6.11.5", bytes.fromhex("f4908080"), False),  # U+110000
    ("6.12.1", bytes.fromhex("80"), False),
    ("6.12.2", bytes.fromhex("bf"), False),
    ("6.12.3", bytes.fromhex("80bf"), False),
    ("6.12.4", bytes.fromhex("80bf80"), False),
    ("6.12.5", bytes.fromhex("80bf80bf"), False),
    ("6.12.6", bytes.fromhex("80bf80bf80"), False),
    ("6.12.7", bytes.fromhex("80bf80bf80bf"), False),
    ("6.12.8", bytes(range(0x80, 0xc0)), False),
    ("6.13.1", b"".join(bytes([c, 0x20]) for c in range(0xc0, 0xe0)), False),
    ("6.13.2", b"".join(bytes([c, 0x20]) for c in range(0xe0, 0xf0)), False),
    ("6.13.3", b"".join(bytes([c, 0x20]) for c in range(0xf0, 0xf8)), False),
    ("6.13.4", b"".join(bytes([c, 0x20]) for c in range(0xf8, 0xfc)), False),
    ("6.13.5", bytes.fromhex("fc20fd20"), False),
    ("6.14.1", bytes.fromhex("c0"), False),
    ("6.14.2", bytes.fromhex("e080"), False),
    ("6.14.3", bytes.fromhex("f08080"), False),
    ("6.14.4", bytes.fromhex("f8808080"), False),
    ("6.14.5", bytes.fromhex("fc80808080"), False),
    ("6.14.6", bytes.fromhex("df"), False),
    ("6.14.7", bytes.fromhex("efbf"), False),
    ("6.14.8", bytes.fromhex("f7bfbf"), False),
    ("6.14.9", bytes.fromhex("fbbfbfbf"), False),
    ("6.14.10", bytes.fromhex("fdbfbfbfbf"), False),
    ("6.15.1", bytes.fromhex("c0e080f08080f8808080fc80808080dfefbff7bfbffbbfbfbffdbfbfbfbf"),
     False),
    ("6.16.1", bytes.fromhex("fe"), False),
    ("6.16.2", bytes.fromhex("ff"), False),
    ("6.16.3", bytes.fromhex("fefeffff"), False),
    ("6.17.1", bytes.fromhex("c0af"), False),  # overlong '/'
    ("6.17.2", bytes.fromhex("e080af"), False),
    ("6.17.3", bytes.fromhex("f08080af"), False),
    ("6.17.4", bytes.fromhex("f8808080af"), False),
    ("6.17.5", bytes.fromhex("fc80808080af"), False),
    ("6.18.1", bytes.fromhex("c1bf"), False),  # the largest overlongs
    ("6.18.2", bytes.fromhex("e09fbf"), False),
    ("6.18.3", bytes.fromhex("f08fbfbf"), False),
    ("6.18.4", bytes.fromhex("f887bfbfbf"), False),
    ("6.18.5", bytes.fromhex("fc83bfbfbfbf"), False),
    ("6.19.1", bytes.fromhex("c080"), False),  # overlong NUL
    ("6.19.2", bytes.fromhex("e08080"), False),
    ("6.19.3", bytes.fromhex("f0808080"), False),
    ("6.19.4", bytes.fromhex("f880808080"), False),
    ("6.19.5", bytes.fromhex("fc8080808080"), False),
    ("6.20.1", bytes.fromhex("eda080"), False),  # single surrogates
    ("6.20.2", bytes.fromhex("edadbf"), False),
    ("6.20.3", bytes.fromhex("edae80"), False),
    ("6.20.4", bytes.fromhex("edafbf"), False),
    ("6.20.5", bytes.fromhex("edb080"), False),
    ("6.20.6", bytes.fromhex("edbe80"), False),
    ("6.20.7", bytes.fromhex("edbfbf"), False),
    ("6.21.1", bytes.fromhex("eda080edb080"), False),  # paired surrogates (CESU-8)
    ("6.21.2", bytes.fromhex("eda080edbfbf"), False),
    ("6.21.3", bytes.fromhex("edadbfedb080"), False),
    ("6.21.4", bytes.fromhex("edadbfedbfbf"), False),
    ("6.21.5", bytes.fromhex("edae80edb080"), False),
    ("6.21.6", bytes.fromhex("edae80edbfbf"), False),
    ("6.21.7", bytes.fromhex("edafbfedb080"), False),
    ("6.21.8", bytes.fromhex("edafbfedbfbf"), False),
    ("6.22.1", bytes.fromhex("efbfbe"), True),  # noncharacters are UTF-8
    ("6.22.2", bytes.fromhex("efbfbf"), True),
    ("6.22.3", bytes.fromhex("f09fbfbe"), True),
    ("6.22.4", bytes.fromhex("f09fbfbf"), True),
    ("6.22.5", bytes.fromhex("f0afbfbe"), True),
    ("6.22.6", bytes.fromhex("f48fbfbe"), True),
    ("6.22.7", bytes.fromhex("efb790efb7afefb7af"), True),  # U+FDD0, U+FDEF
    ("6.23.1", bytes.fromhex("efbfbd"), True),  # U+FFFD
    ("6.23.2", "\ufffd\U0001f600\u0000\u2028end".encode(), True),
]


class Utf8_6(Case):

    def check(self, data, valid, payload):
        if valid:
            self.echoes(data, TEXT, payload)
        else:
            self.fails(data, 1007)

    def test_6_1_1_empty_text(self):
        self.echoes(F(TEXT), TEXT, b"")

    def test_6_vectors_in_one_frame(self):
        for case, data, valid in UTF8:
            with self.subTest(case=case, data=data.hex()):
                self.check(F(TEXT, data), valid, data)

    def test_6_vectors_in_1_byte_fragments(self):
        # 6.2.3, 6.2.4, 6.3.2, 6.5.2-6.5.5: the same bytes, a fragment each
        for case, data, valid in UTF8:
            with self.subTest(case=case, data=data.hex()):
                self.check(fragments(TEXT, data, 1), valid, data)

    def test_6_vectors_in_1_byte_pieces(self):
        # one frame, its payload arriving a byte at a time
        for case, data, valid in UTF8:
            with self.subTest(case=case, data=data.hex()):
                if valid:
                    self.echoes(F(TEXT, data), TEXT, data, piece=1)
                else:
                    self.fails(F(TEXT, data), 1007, piece=1)

    def test_6_2_2_fragments_at_character_boundaries(self):
        t = "Hello-\u00b5@\u00df\u00f6\u00e4\u00fc\u00e0\u00e1-UTF-8!!"
        chars = [c.encode() for c in t]
        data = b"".join(F(TEXT if i == 0 else CONT, c, fin=i == len(chars) - 1)
                        for i, c in enumerate(chars))
        self.echoes(data, TEXT, t.encode())

    def test_6_6_kosme_prefixes(self):
        # 6.6.1-6.6.11: each prefix of κόσμε; only whole characters are valid
        for n in range(1, len(KOSME) + 1):
            with self.subTest(case="6.6.%d" % n):
                self.check(F(TEXT, KOSME[:n]), n in (2, 5, 7, 9, 11), KOSME[:n])

    def test_6_split_across_fragments(self):
        grin = "\U0001f600".encode()  # 4 bytes
        for cut in (1, 2, 3):
            with self.subTest(valid_cut=cut):
                self.echoes(F(TEXT, b"a" + grin[:cut], fin=False) + F(CONT, grin[cut:] + b"z"),
                            TEXT, b"a" + grin + b"z")
        for first, second in ((b"\xf4", b"\x90\x80\x80"),    # U+110000
                              (b"\xed", b"\xa0\x80"),         # a surrogate
                              (b"\xe0", b"\x80\xaf"),         # overlong
                              (b"ok", b"\x80"),               # a stray continuation
                              (b"\xce", b"z"),                # a character cut short
                              (b"\xf0\x9f", b"")):            # ends inside a character
            with self.subTest(first=first.hex(), second=second.hex()):
                self.fails(F(TEXT, first, fin=False) + F(CONT, second), 1007)

    def test_6_truncated_at_the_end(self):
        for tail in (b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98"):
            with self.subTest(tail=tail.hex()):
                self.fails(F(TEXT, b"valid so far " + tail), 1007)
                self.fails(F(TEXT, b"valid ", fin=False) + F(CONT, b"so far " + tail), 1007)

    def fail_fast(self, parts, piece_of_frame):
        """The message (parts joined) is invalid in parts[1]: the close
        comes once parts[0] and parts[1] are in, before parts[2] is sent.
        piece_of_frame: one frame whose payload comes in parts, else a
        fragment each."""
        ws = self.open()
        if piece_of_frame:
            whole = F(TEXT, b"".join(parts))
            head = len(whole) - len(b"".join(parts))
            ws.send(whole[:head + len(parts[0])])
            ws.send(whole[head + len(parts[0]):head + len(parts[0]) + len(parts[1])])
        else:
            ws.send(F(TEXT, parts[0], fin=False))
            ws.send(F(CONT, parts[1], fin=False))
        self.fails(b"", 1007, ws=ws)  # parts[2] never went

    def test_6_4_1_fail_fast_fragment_with_u110000(self):
        self.fail_fast([KOSME, bytes.fromhex("f4908080"), b"edited"], False)

    def test_6_4_2_fail_fast_fragment_at_the_second_byte(self):
        self.fail_fast([KOSME + b"\xf4", b"\x90", b"\x80\x80edited"], False)

    def test_6_4_3_fail_fast_within_a_frame(self):
        self.fail_fast([KOSME, bytes.fromhex("f4908080"), b"edited"], True)

    def test_6_4_4_fail_fast_within_a_frame_at_the_second_byte(self):
        self.fail_fast([KOSME + b"\xf4", b"\x90", b"\x80\x80edited"], True)

    def test_6_fail_fast_long_message(self):
        # a 60000-byte text, invalid at its 11th byte: only 100 bytes of it
        # are sent, in a frame announcing all of it and as a first fragment
        body = b"0123456789\xff" + b"x" * (60000 - 11)
        ws = self.open()
        ws.send(F(TEXT, body)[:8 + 100])
        self.fails(b"", 1007, ws=ws)
        ws = self.open()
        ws.send(F(TEXT, body[:20000], fin=False)[:8 + 100])
        self.fails(b"", 1007, ws=ws)

    def test_6_binary_is_not_checked(self):
        self.echoes(F(BINARY, b"\xff\xfe\xc0\x80\xed\xa0\x80"), BINARY,
                    b"\xff\xfe\xc0\x80\xed\xa0\x80")


# ---- 7 Close handling ----

class Close7(Case):

    def test_7_1_1_echo_then_close(self):
        ws = self.open()
        ws.send(F(TEXT, b"Hello World!"))
        self.expect(ws, TEXT, b"Hello World!")
        self.clean_close(ws)

    def test_7_1_2_close_twice(self):
        ws = self.open()
        ws.send(close_frame(1000) + close_frame(1000))
        self.assertEqual(ws.recv_close(), (1000, b"", []))
        self.assertTrue(ws.eof())

    def test_7_1_3_ping_after_close(self):
        ws = self.open()
        ws.send(close_frame(1000) + F(PING, b"Hello World!"))
        self.assertEqual(ws.recv_close(), (1000, b"", []))  # no pong
        self.assertTrue(ws.eof())

    def test_7_1_4_text_after_close(self):
        ws = self.open()
        ws.send(close_frame(1000) + F(TEXT, b"Hello World!"))
        self.assertEqual(ws.recv_close(), (1000, b"", []))  # no echo
        self.assertTrue(ws.eof())
        msgs, closes = seen()
        self.assertEqual([x for x in msgs if x["meta"]["name"] == self.name], [])
        self.assertEqual([(x["code"], x["reason"]) for x in closes
                          if x["meta"]["name"] == self.name], [(1000, "")])

    def test_7_1_5_close_between_fragments(self):
        ws = self.open()
        ws.send(F(TEXT, b"fragment1", fin=False) + close_frame(1000) + F(CONT, b"fragment2"))
        self.assertEqual(ws.recv_close(), (1000, b"", []))
        self.assertTrue(ws.eof())
        msgs, _ = seen()
        self.assertEqual([x for x in msgs if x["meta"]["name"] == self.name], [])

    def test_7_1_6_large_text_then_close_then_ping(self):
        # (Autobahn's message is 256 KiB; ours stays under the limit) the
        # close is answered at once: an echo still in flight at the service
        # may come before it or not at all, never after it or cut
        p = b"BAsd7&jh23" * 6000
        ws = self.open()
        ws.send(F(TEXT, p) + close_frame(1000) + F(PING, b"Hello World!"))
        frames = []
        while True:
            op, payload = ws.recv()
            frames.append((op, payload))
            if op == CLOSE:
                break
        self.assertIn(frames[:-1], ([], [(TEXT, p)]))
        self.assertEqual(frames[-1], (CLOSE, (1000).to_bytes(2, "big")))
        self.assertTrue(ws.eof())

    def test_7_3_1_close_empty(self):
        # muster answers 1000 (it never sends 1005); the service hears 1005
        ws = self.open()
        ws.send(close_frame())
        self.assertEqual(ws.recv_close(), (1000, b"", []))
        self.assertTrue(ws.eof())
        _, closes = seen()
        self.assertEqual([(x["code"], x["reason"]) for x in closes
                          if x["meta"]["name"] == self.name], [(1005, "")])

    def test_7_3_2_close_1_byte_payload_is_1002(self):
        self.fails(F(CLOSE, b"\x03"), 1002)

    def test_7_3_3_close_1000(self):
        self.clean_close(self.open(), 1000)

    def echoed_reason(self, reason):
        ws = self.open()
        ws.send(close_frame(1000, reason))
        self.assertEqual(ws.recv_close(), (1000, reason, []))
        self.assertTrue(ws.eof())
        _, closes = seen()
        self.assertEqual([(x["code"], x["reason"].encode()) for x in closes
                          if x["meta"]["name"] == self.name], [(1000, reason)])

    def test_7_3_4_close_with_reason(self):
        self.echoed_reason(b"Hello World!")

    def test_7_3_5_close_with_123_byte_reason(self):
        self.echoed_reason(b"*" * 123)
        self.echoed_reason("\u20ac".encode() * 41)  # 123 bytes of 3-byte characters

    def test_7_3_6_close_with_124_byte_reason_is_1002(self):
        self.fails(close_frame(1000, b"*" * 124), 1002)

    def test_7_3_close_reason_with_nul(self):
        self.echoed_reason(b"a\x00b")

    def test_7_5_1_close_reason_not_utf8_is_1007(self):
        self.fails(close_frame(1000, KOSME + bytes.fromhex("eda080") + b"edited"), 1007)
        self.fails(close_frame(1000, b"cut short \xe2\x82"), 1007)

    VALID = {1: 1000, 2: 1001, 3: 1002, 4: 1003, 5: 1007, 6: 1008, 7: 1009, 8: 1010,
             9: 1011, 10: 3000, 11: 3999, 12: 4000, 13: 4999}

    def test_7_7_valid_codes_echoed(self):
        for n, code in self.VALID.items():
            with self.subTest(case="7.7.%d" % n, code=code):
                self.clean_close(self.open(), code)

    # 7.9.x, and 7.13.1-2 (codes past 4999); 1012-1014 are registered at
    # IANA for servers (restart, try again, bad gateway): muster refuses
    # them from a client, as it does 1015 (docs/realtime.md)
    INVALID = {1: 0, 2: 999, 3: 1004, 4: 1005, 5: 1006, 6: 1012, 7: 1013, 8: 1014, 9: 1015,
               10: 1016, 11: 1100, 12: 2000, 13: 2999}

    def test_7_9_invalid_codes_are_1002(self):
        for n, code in self.INVALID.items():
            with self.subTest(case="7.9.%d" % n, code=code):
                self.fails(close_frame(code), 1002)

    def test_7_13_codes_past_4999_are_1002(self):
        for n, code in ((1, 5000), (2, 65535)):
            with self.subTest(case="7.13.%d" % n, code=code):
                self.fails(close_frame(code, b"reason"), 1002)

    def test_7_normal_client_close(self):
        async def go(ws):
            await ws.send("last")
            self.assertEqual(await recv(ws), "last")
        self.assertEqual(client(go), 1000)


# ---- 10 Limits ----

class Limits10(Case):

    def test_10_1_1_text_65536_in_1300_byte_fragments(self):
        p = b"*" * 65536
        self.echoes(fragments(TEXT, p, 1300), TEXT, p)

    def test_10_message_at_the_limit_accepted(self):
        self.echoes(F(BINARY, b"\x01" * LIMIT), BINARY, b"\x01" * LIMIT)
        self.echoes(fragments(TEXT, b"t" * LIMIT, 10000), TEXT, b"t" * LIMIT)
        # control frames between its fragments do not count
        ws = self.open()
        ws.send(F(TEXT, b"a" * (LIMIT - 1), fin=False) + F(PING, b"p" * 125) + F(CONT, b"b"))
        self.expect(ws, PONG, b"p" * 125)
        self.expect(ws, TEXT, b"a" * (LIMIT - 1) + b"b")
        self.clean_close(ws)

    def test_10_one_byte_over_is_1009(self):
        self.fails(F(TEXT, b"x" * (LIMIT + 1)), 1009)
        self.fails(F(BINARY, b"x" * (LIMIT + 1)), 1009)

    def test_10_limit_across_fragments_before_the_bytes(self):
        # the second fragment's header makes it one byte too many: the
        # close comes before any of its payload is sent
        ws = self.open()
        ws.send(F(TEXT, b"a" * 60000, fin=False))
        ws.send(F(CONT, b"b" * (LIMIT - 60000 + 1))[:8])
        self.fails(b"", 1009, ws=ws)

    def test_10_one_gigabyte_frame_announced(self):
        # only the header of a 1 GB frame: 1009 at once, nothing buffered
        pid = M.proc.pid
        before = rss_kb(pid)
        for op in (TEXT, BINARY):
            ws = self.open()
            ws.send(F(op, length=1 << 30)[:14])
            self.fails(b"", 1009, ws=ws)
        grown = rss_kb(pid) - before
        self.assertLess(grown, 16 * 1024, "muster's RSS grew by %d kB" % grown)


if __name__ == "__main__":
    unittest.main()
