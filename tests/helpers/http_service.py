#!/usr/bin/env python3
"""A test service that listens for HTTP itself, as the programs of SPEC §9
do, and speaks the IPC channel on fd 3 (ready, pongs) like the C library.

GET /health answers with the status written in the file $HEALTH_FILE
(200 while the file is missing or empty); every other path gets 404.
Listens on 127.0.0.1:$PORT. Exits when fd 3 closes."""
import http.server
import json
import os
import threading


class Handler(http.server.BaseHTTPRequestHandler):

    def do_GET(self):  # noqa: N802 - the stdlib's name
        status = 404
        if self.path == "/health":
            status = 200
            try:
                with open(os.environ["HEALTH_FILE"]) as f:
                    status = int(f.read().strip() or 200)
            except (KeyError, FileNotFoundError):
                pass
        body = b"%d\n" % status
        self.send_response(status)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def channel(on_message=None):
    """Sends ready, answers pings; returns when muster closes the channel
    or asks for a shutdown. Any other message goes to on_message(msg, send),
    send writing one line (bytes, without its newline)."""
    ch = os.fdopen(3, "r+b", buffering=0)

    def send(line):
        ch.write(line + b"\n")
    send(b'{"type":"ready"}')
    buf = b""
    while True:
        data = ch.read(65536)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            msg = json.loads(line)
            if msg.get("type") == "ping":
                send(b'{"type":"pong","seq":%d}' % msg["seq"])
            elif msg.get("type") == "shutdown":
                return
            elif on_message:
                on_message(msg, send)


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    channel()
    server.shutdown()


if __name__ == "__main__":
    main()
