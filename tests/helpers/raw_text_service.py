"""A service that writes bytes that are not UTF-8 inside its JSON lines,
as a program writing bytes it never decoded may (cJSON takes them): a
WebSocket handshake is accepted; each message gets back a ws_send whose
text holds the byte 0xff. Speaks the channel on fd 3 directly."""
import json
import os

ch = os.fdopen(3, "rb+", buffering=0)


def send(line):
    ch.write(line + b"\n")


send(b'{"type":"ready"}')
buf = b""
while True:
    data = ch.read(65536)
    if not data:
        break
    buf += data
    while b"\n" in buf:
        line, buf = buf.split(b"\n", 1)
        m = json.loads(line)
        if m["type"] == "ping":
            send(b'{"type":"pong","seq":%d}' % m["seq"])
        elif m["type"] == "request":
            send(b'{"type":"response","id":%d,"status":%d}' % (m["id"], 101 if m.get("ws") else 404))
        elif m["type"] == "ws_message":
            send(b'{"type":"ws_send","conn":"%s","text":"raw \xff text"}' % m["conn"].encode())
        elif m["type"] == "shutdown":
            raise SystemExit(0)
