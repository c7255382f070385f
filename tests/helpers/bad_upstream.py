#!/usr/bin/env python3
"""An upstream that answers with broken HTTP on purpose (SPEC §9 tests):
listens on 127.0.0.1:$PORT, reads one request head per connection and
answers by its path:

  /ok          a valid answer (no date header)
  /dated       a valid answer with its own date header
  /badstatus   "HTTP/1.1 2000 OK"
  /badversion  "HTTP/2.0 200 OK"
  /clte        both content-length and transfer-encoding
  /dupcl       two content-lengths
  /bighead     a 100 KB header
  /badchunk    chunk data without its CRLF
  /cut         content-length 100, 10 bytes, then the close
  /silence     nothing, then the close
  /garbage     no HTTP at all
"""
import os
import socket
import threading

ANSWERS = {
    b"/ok": b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
    b"/dated": b"HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\ncontent-length: 2\r\n\r\nok",
    b"/badstatus": b"HTTP/1.1 2000 OK\r\ncontent-length: 2\r\n\r\nok",
    b"/badversion": b"HTTP/2.0 200 OK\r\ncontent-length: 2\r\n\r\nok",
    b"/clte": b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ntransfer-encoding: chunked\r\n\r\n"
              b"2\r\nok\r\n0\r\n\r\n",
    b"/te10": b"HTTP/1.0 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    b"/foldempty": b"HTTP/1.1 200 OK\r\nx-a:\r\n b\r\ncontent-length: 2\r\n\r\nok",
    b"/emptyvalue": b"HTTP/1.1 200 OK\r\nx-empty:\r\ncontent-length: 2\r\n\r\nok",
    b"/dupcl": b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nok",
    b"/bighead": b"HTTP/1.1 200 OK\r\nx-big: " + b"a" * 100000 + b"\r\ncontent-length: 2\r\n\r\nok",
    b"/badchunk": b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",
    b"/cut": b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789",
    b"/silence": b"",
    b"/garbage": b"this is not http\r\n\r\n",
}


def serve(c):
    with c:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = c.recv(65536)
            if not chunk:
                return
            head += chunk
        path = head.split(b" ", 2)[1]
        c.sendall(ANSWERS.get(path, ANSWERS[b"/ok"]))


def main():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", int(os.environ["PORT"])))
    ls.listen(64)
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()


if __name__ == "__main__":
    main()
