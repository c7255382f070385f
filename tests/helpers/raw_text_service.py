"""A service that writes bytes that are not UTF-8 inside its JSON lines,
as a program writing bytes it never decoded may (cJSON takes them): a
WebSocket handshake is accepted; each message gets back a ws_send whose
text holds the byte 0xff. Speaks the channel on fd 3 (http_service's loop)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from http_service import channel  # noqa: E402


def on_message(m, send):
    if m["type"] == "request":
        send(b'{"type":"response","id":%d,"status":%d}' % (m["id"], 101 if m.get("ws") else 404))
    elif m["type"] == "ws_message":
        send(b'{"type":"ws_send","conn":"%s","text":"raw \xff text"}' % m["conn"].encode())


channel(on_message)
