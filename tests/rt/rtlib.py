"""Shared pieces of the real-time tests (SPEC §8): a muster with the
ws_service.js test service, a WebSocket client (Debian's python3-websockets)
run on an asyncio loop of its own, raw-socket handshakes, and SSE reading."""
import asyncio
import os
import re
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "gw"))

from musterproc import Muster, SRC, TIMEOUT, ctl, free_port, gateway_addr, service  # noqa: E402,F401
import websockets  # noqa: E402

NODE = os.environ.get("MUSTER_NODE") or "node"
WS_SERVICE = os.path.join(SRC, "tests", "helpers", "ws_service.js")


def ws_svc(name="chat", instances=1, ack=False, env=None, **kw):
    """A ws_service.js service routed on /NAME."""
    kw.setdefault("routes", ["/" + name])
    s = service(name, [NODE, WS_SERVICE], instances=instances, env=env or {}, **kw)
    if ack:
        s["ws"] = {"ack": True}
    return s


def wait_ready(m, name="chat", n=1):
    m.seen_or_expect(r"gateway: listening on ")
    for i in range(n):
        m.seen_or_expect(r"%s\[%d\]: ready: " % (re.escape(name), i))


def url(m, path):
    host, port = gateway_addr(m)
    return "ws://%s:%d%s" % (host, port, path)


def run(coro, timeout=TIMEOUT):
    """Runs coro on a fresh event loop, bounded by timeout."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def recv(ws, timeout=TIMEOUT):
    return await asyncio.wait_for(ws.recv(), timeout)


async def closed_code(ws, timeout=TIMEOUT):
    """Waits for the server to close ws; returns (code, reason) it sent."""
    try:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    except websockets.ConnectionClosed as e:
        return (e.rcvd.code, e.rcvd.reason) if e.rcvd else (None, None)


def handshake(m, path, headers=None, key="dGhlIHNhbXBsZSBub25jZQ==", version="13", more=()):
    """A raw handshake; returns (socket, status, header dict, rest bytes).
    more: further "Name: value" lines, sent after headers (a name twice).
    A header the answer has twice is in the dict as a list."""
    hs = {"Host": "t", "Upgrade": "websocket", "Connection": "Upgrade",
          "Sec-WebSocket-Key": key, "Sec-WebSocket-Version": version}
    hs.update(headers or {})
    lines = (["GET %s HTTP/1.1" % path] + ["%s: %s" % kv for kv in hs.items() if kv[1] is not None]
             + list(more))
    s = socket.create_connection(gateway_addr(m), timeout=TIMEOUT)
    s.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    status_line, *hl = head.decode("latin-1").split("\r\n")
    hdrs = {}
    for line in hl:
        k, _, v = line.partition(":")
        k, v = k.strip().lower(), v.strip()
        if k in hdrs:
            hdrs[k] = (hdrs[k] if isinstance(hdrs[k], list) else [hdrs[k]]) + [v]
        else:
            hdrs[k] = v
    return s, int(status_line.split()[1]), hdrs, rest


def handshake_answer(m, path, headers=None, more=()):
    """A raw handshake's answer alone: (status, header dict); the socket
    is closed."""
    s, status, hdrs, _ = handshake(m, path, headers, more=more)
    s.close()
    return status, hdrs


def frame(op, payload=b"", fin=True, mask=b"\x01\x02\x03\x04", rsv=0, length=None):
    """A client frame (masked unless mask is None)."""
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | (rsv << 4) | op
    if n < 126:
        head = bytes([b0, (0x80 if mask else 0) | n])
    elif n < 65536:
        head = bytes([b0, (0x80 if mask else 0) | 126]) + n.to_bytes(2, "big")
    else:
        head = bytes([b0, (0x80 if mask else 0) | 127]) + n.to_bytes(8, "big")
    if mask:
        payload = bytes(c ^ mask[i % 4] for i, c in enumerate(payload))
        head += mask
    return head + payload


def read_frame_bits(s, buf=b""):
    """One server frame from socket s: (first header byte, payload, rest);
    the first byte holds FIN, RSV1-3 and the opcode."""
    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = s.recv(65536)
            if not chunk:
                raise EOFError("closed after %r" % buf[:50])
            buf += chunk
    need(2)
    b0, n = buf[0], buf[1] & 0x7F
    assert not buf[1] & 0x80, "a server frame must not be masked"
    k = 2
    if n == 126:
        need(4)
        n, k = int.from_bytes(buf[2:4], "big"), 4
    elif n == 127:
        need(10)
        n, k = int.from_bytes(buf[2:10], "big"), 10
    need(k + n)
    return b0, buf[k:k + n], buf[k + n:]


def read_frame(s, buf=b""):
    """One server frame from socket s: (opcode, payload, rest)."""
    b0, payload, rest = read_frame_bits(s, buf)
    return b0 & 0x0F, payload, rest


class RawWs:
    """A WebSocket client on a raw socket, for traffic a normal client will
    not send: frames go out as given (in pieces when asked), frames come
    in with their bits checked (FIN set, no RSV: muster never fragments
    and negotiates no extension)."""

    def __init__(self, m, path="/chat/ws"):
        self.s, status, self.hdrs, self.buf = handshake(m, path)
        assert status == 101, status
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data, piece=None):
        """Sends data, in writes of piece bytes when given."""
        step = piece or len(data) or 1
        for i in range(0, len(data), step):
            self.s.sendall(data[i:i + step])

    def recv(self):
        """The next frame: (opcode, payload)."""
        b0, payload, self.buf = read_frame_bits(self.s, self.buf)
        assert b0 & 0xF0 == 0x80, "server frame with FIN clear or RSV set: %#x" % b0
        return b0 & 0x0F, payload

    def recv_close(self):
        """Reads up to the server's close frame; returns (code, reason,
        opcodes of the frames before it)."""
        before = []
        while True:
            op, payload = self.recv()
            if op == 8:
                return close_code(payload), payload[2:], before
            before.append(op)

    def eof(self):
        """True once the server has closed the TCP connection (a FIN,
        within the socket's timeout); False when data came instead."""
        return not self.buf and self.s.recv(1) == b""

    def close(self):
        self.s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def close_code(payload):
    return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None


class SSE:
    """One SSE stream through the gateway: GET path, then events one by
    one (each a dict with the fields it had: id, event, data), read with a
    timeout (http.client undoes the chunked encoding)."""

    def __init__(self, m, path, headers=None, timeout=TIMEOUT):
        import http.client
        self.conn = http.client.HTTPConnection(*gateway_addr(m), timeout=timeout)
        self.conn.request("GET", path, headers=headers or {})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.headers = {k.lower(): v for k, v in self.resp.getheaders()}

    def event(self):
        """The next event (comments and data-less blocks skipped); EOFError at
        the end."""
        ev = {}
        while True:
            line = self.resp.readline()
            if not line:
                raise EOFError("the stream ended")
            line = line.decode().rstrip("\n")
            if line == "":
                if "data" in ev:    # as a browser: no data, no event (retry: ...)
                    return ev
                ev = {}
                continue
            if line.startswith(":"):
                continue
            k, _, v = line.partition(":")
            v = v[1:] if v.startswith(" ") else v
            ev[k] = ev[k] + "\n" + v if k == "data" and k in ev else v

    def events(self, n):
        return [self.event() for _ in range(n)]

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
