"""A small raw HTTP/1.x client for the gateway tests.

Everything malformed, pipelined or slow goes through RawClient: it sends
exactly the bytes it is given and reads responses one at a time (status
line, headers, then the body by content-length, by chunked encoding, or
until the server closes), keeping whatever follows in its buffer, so that
pipelined responses and "did the server close the connection afterwards"
can both be observed. Only the Python standard library is used.
"""
import json
import socket
import time

# Failure limit for one read (never a synchronisation delay): the suite runs
# under ASan on a loaded machine.
DEFAULT_TIMEOUT = 30.0


class Response:
    """One HTTP response as received."""

    def __init__(self, version, status, reason, header_list, body, chunked, raw_head,
                 chunk_times=None, closed=False):
        self.version = version          # "HTTP/1.1"
        self.status = status            # int
        self.reason = reason            # str
        self.header_list = header_list  # [(lower-case name, value)] in order
        self.body = body                # bytes (de-chunked)
        self.chunked = chunked          # True when sent with chunked encoding
        self.raw_head = raw_head        # bytes of the status line and headers
        self.chunk_times = chunk_times or []  # monotonic arrival time of each chunk
        self.closed = closed            # True when the body was delimited by the close

    def header(self, name, default=None):
        """The value of header name (repeated ones joined with ', ')."""
        vals = self.headers_all(name)
        return ", ".join(vals) if vals else default

    def headers_all(self, name):
        name = name.lower()
        return [v for k, v in self.header_list if k == name]

    @property
    def headers(self):
        out = {}
        for k, v in self.header_list:
            out[k] = out[k] + ", " + v if k in out else v
        return out

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        body = self.body if len(self.body) <= 300 else self.body[:300] + b"..."
        return "<Response %s %d %r headers=%r body=%r>" % (
            self.version, self.status, self.reason, self.header_list, body)


class ProtocolError(Exception):
    """The server sent something that is not a valid HTTP/1.x response."""


class RawClient:
    """One TCP connection to the gateway."""

    def __init__(self, addr, timeout=DEFAULT_TIMEOUT, connect=True, source=None):
        self.addr = addr
        self.source = (source, 0) if source else None  # a local address to connect from
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        self.sock = None
        if connect:
            self.connect()

    def connect(self):
        self.sock = socket.create_connection(self.addr, timeout=self.timeout,
                                             source_address=self.source)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return self

    # ---- sending ----

    def send(self, data):
        self.sock.sendall(data)

    def request(self, method, path, headers=(), body=None, version="HTTP/1.1",
                host="t", chunked_parts=None):
        """Sends a well-formed request. headers: [(name, value)]. With body
        (bytes) a content-length is added unless a header already gives one;
        with chunked_parts the body is sent chunked."""
        lines = ["%s %s %s" % (method, path, version)]
        names = {k.lower() for k, _ in headers}
        if host is not None and "host" not in names:
            lines.append("Host: %s" % host)
        for k, v in headers:
            lines.append("%s: %s" % (k, v))
        payload = b""
        if chunked_parts is not None:
            if "transfer-encoding" not in names:
                lines.append("Transfer-Encoding: chunked")
            payload = chunked(chunked_parts)
        elif body is not None:
            if "content-length" not in names:
                lines.append("Content-Length: %d" % len(body))
            payload = body
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)

    # ---- receiving ----

    def _fill(self, timeout=None):
        """Reads more bytes into buf; False at EOF (or reset)."""
        if self.eof:
            return False
        self.sock.settimeout(self.timeout if timeout is None else timeout)
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _line(self, what):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 2:]
                return line
            if len(self.buf) > 1 << 20:
                raise ProtocolError("line too long while reading %s" % what)
            if not self._fill():
                raise EOFError("connection closed while reading %s (buffered %r)"
                               % (what, self.buf[:200]))

    def _take(self, n, what):
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError("connection closed after %d of %d bytes of %s"
                               % (len(self.buf), n, what))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self):
        """Reads a status line and headers: (version, status, reason,
        header_list, raw_head). Interim (1xx) heads are returned too."""
        raw = []
        status_line = self._line("the status line")
        raw.append(status_line)
        parts = status_line.split(b" ", 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit() \
                or len(parts[1]) != 3:
            raise ProtocolError("bad status line %r" % status_line)
        version = parts[0].decode()
        status = int(parts[1])
        reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
        header_list = []
        while True:
            line = self._line("the headers")
            raw.append(line)
            if not line:
                break
            if b":" not in line:
                raise ProtocolError("bad header line %r" % line)
            k, v = line.split(b":", 1)
            if k != k.strip() or not k:
                raise ProtocolError("bad header name %r" % line)
            header_list.append((k.decode("latin-1").lower(), v.strip(b" \t").decode("latin-1")))
        return version, status, reason, header_list, b"\r\n".join(raw) + b"\r\n"

    def iter_chunks(self):
        """Yields (data, arrival time) of each chunk of a chunked body; eats
        the last chunk and trailers."""
        while True:
            line = self._line("a chunk size")
            size_txt = line.split(b";", 1)[0].strip()
            try:
                size = int(size_txt, 16)
            except ValueError:
                raise ProtocolError("bad chunk size line %r" % line)
            if size == 0:
                while self._line("the trailers"):
                    pass
                return
            data = self._take(size, "a chunk")
            t = time.monotonic()
            if self._take(2, "a chunk's CRLF") != b"\r\n":
                raise ProtocolError("chunk not followed by CRLF")
            yield data, t

    def read_response(self, head_only=False, skip_interim=True):
        """Reads one full response. head_only: the request was HEAD (no body
        follows whatever the headers say). 1xx heads are skipped unless
        skip_interim is False (then the 1xx is returned)."""
        while True:
            version, status, reason, hl, raw = self.read_head()
            if 100 <= status < 200 and status != 101 and skip_interim:
                continue
            break
        resp = Response(version, status, reason, hl, b"", False, raw)
        if head_only or status < 200 or status in (204, 304):
            return resp
        te = resp.header("transfer-encoding")
        cl = resp.headers_all("content-length")
        if te is not None:
            if te.lower() != "chunked":
                raise ProtocolError("unexpected transfer-encoding %r" % te)
            resp.chunked = True
            parts = list(self.iter_chunks())
            resp.body = b"".join(d for d, _ in parts)
            resp.chunk_times = [t for _, t in parts]
        elif cl:
            if len(set(cl)) != 1 or not cl[0].isdigit():
                raise ProtocolError("bad content-length %r" % cl)
            resp.body = self._take(int(cl[0]), "the body")
        else:
            while self._fill():
                pass
            resp.body, self.buf = self.buf, b""
            resp.closed = True
        return resp

    def wait_closed(self, timeout=None):
        """Waits for the server to close the connection. Returns
        (closed, extra): closed is True when EOF (or a reset) came, False
        when the timeout passed first; extra is whatever bytes arrived
        before it (after the responses already read)."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                return False, self.buf
            try:
                self._fill(timeout=left)
            except socket.timeout:
                return False, self.buf
        return True, self.buf

    def close(self):
        if self.sock:
            self.sock.close()
            self.sock = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def chunked(parts):
    """bytes of a chunked body made of parts (each non-empty), with the last chunk."""
    out = b""
    for p in parts:
        out += b"%x\r\n" % len(p) + p + b"\r\n"
    return out + b"0\r\n\r\n"


def exchange(addr, data, head_only=False, timeout=DEFAULT_TIMEOUT):
    """Connects, sends data, reads one response, closes. Returns the response."""
    with RawClient(addr, timeout) as c:
        c.send(data)
        return c.read_response(head_only=head_only)


def sse_events(body):
    """Splits a text/event-stream body into its events (each a dict of
    field -> value, last value wins)."""
    events = []
    for block in body.replace(b"\r\n", b"\n").split(b"\n\n"):
        if not block.strip():
            continue
        ev = {}
        for line in block.split(b"\n"):
            if b":" in line:
                k, v = line.split(b":", 1)
                ev[k.decode()] = v[1:].decode() if v.startswith(b" ") else v.decode()
        events.append(ev)
    return events
