"""Shared pieces of the upstream tests (SPEC §9): a muster hosting
services/examples/express_like.js (plain Node `http`) as an upstream
service, free port ranges, and plain HTTP helpers."""
import http.client
import json
import os
import re
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))

from musterproc import (Muster, SRC, TIMEOUT, ctl, free_port, gateway_addr,  # noqa: E402,F401
                        recv_all, service)

NODE = os.environ.get("MUSTER_NODE") or "node"
APP = os.path.join(SRC, "services", "examples", "express_like.js")


def free_ports(n):
    """A base port P with P..P+n-1 free on 127.0.0.1 a moment ago, below
    the kernel's ephemeral range (on a busy machine its ports are taken by
    the client side of other connections, whose neighbours are too)."""
    import random
    for _ in range(200):
        base = random.randrange(20000, 32700 - n)
        socks = []
        try:
            for i in range(n):
                socks.append(socket.socket())
                # as servers listen (Node does): a port in TIME_WAIT is free
                socks[-1].setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                socks[-1].bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free port range")


def up_svc(name="web", instances=2, command=None, upstream=None, **kw):
    """An upstream service running express_like.js (or command) on its own ports."""
    kw.setdefault("routes", ["/"])
    up = {"port": free_ports(instances)}
    up.update(upstream or {})
    s = service(name, command or [NODE, APP], instances=instances, **kw)
    s["upstream"] = up
    return s


def wait_ready(m, name="web", n=2):
    m.seen_or_expect(r"gateway: listening on ")
    for i in range(n):
        m.seen_or_expect(r"%s\[%d\]: ready: " % (re.escape(name), i))


def conn(m, timeout=TIMEOUT):
    host, port = gateway_addr(m)
    return http.client.HTTPConnection(host, port, timeout=timeout)


def request(m, method, path, body=None, headers=None, c=None):
    """(status, headers dict (lower-case), body bytes) of one request."""
    own = c is None
    c = c or conn(m)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        if own:
            c.close()


def get_json(m, path, c=None, headers=None):
    st, h, b = request(m, "GET", path, headers=headers, c=c)
    return st, h, json.loads(b) if b else None


def raw(m, data, timeout=TIMEOUT):
    """Sends data on a fresh connection (its last request should say
    `connection: close`), returns all it got until muster closed it. (No
    half-close: a client that closes its side gives its request up, as
    nginx has it.)"""
    with socket.create_connection(gateway_addr(m), timeout=timeout) as s:
        s.sendall(data)
        return recv_all(s)
