"""Writes the seed corpus of fuzz_h2 (usage: mk_h2_seeds.py DIR): frame
sequences a client sends after the connection preface, made with python3-h2,
for the routes of fuzz_gw.h's config (/s, /h on host a.b, /t/u; small
limits)."""
import os
import sys

import h2.config
import h2.connection
import h2.errors
out = sys.argv[1]

def conn():
    c = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    c.initiate_connection()
    return c

def req(c, path, method="GET", headers=(), body=None):
    sid = c.get_next_available_stream_id()
    c.send_headers(sid, [(":method", method), (":path", path), (":scheme", "http"),
                         (":authority", "a.b")] + list(headers), end_stream=body is None)
    if body is not None:
        c.send_data(sid, body, end_stream=True)
    return sid

def save(name, c):
    data = c.data_to_send()
    assert data[:24] == b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    with open(os.path.join(out, name), "wb") as f:
        f.write(data[24:])

c = conn(); req(c, "/s"); req(c, "/nowhere"); req(c, "/healthz"); save("gets", c)
c = conn(); req(c, "/h/x", "POST", [("content-length", "5")], b"hello"); save("post", c)
c = conn(); req(c, "/s", "HEAD"); req(c, "/t/u?q=1", headers=[("x-request-id", "abc")]); save("head-query", c)
c = conn(); c.ping(b"12345678"); sid = req(c, "/s"); c.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
c.increment_flow_control_window(1000); save("ping-reset", c)
c = conn(); req(c, "/s", headers=[("x-big", "a" * 1500)]); req(c, "/s"); save("too-large", c)
c = conn(); sid = req(c, "/s", "POST", [("expect", "100-continue")], b"x" * 600); save("expect-413", c)
