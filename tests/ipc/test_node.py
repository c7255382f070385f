"""A Node.js service speaks muster's channel with no library (SPEC section 3).

Spawns `$MUSTER_NODE tests/ipc/node_service.js` exactly like muster spawns an
instance (socketpair end on fd 3, NODE_CHANNEL_FD=3, json serialization) and
checks that Node's own fork channel carries the protocol both ways; then the
example services/examples/hello_node.js and its real-time side (SPEC §8).
Skipped when MUSTER_NODE is empty.
"""

import json
import os
import sys
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

NODE = harness.NODE
SCRIPT = os.path.join(harness.SRC_DIR, "tests", "ipc", "node_service.js")


@unittest.skipUnless(NODE, "MUSTER_NODE is empty: node not available")
class NodeServiceTest(harness.ChildTestCase):

    def start(self, **kw):
        self.assertTrue(os.access(NODE, os.X_OK), "MUSTER_NODE=%r is not executable" % NODE)
        self.assertTrue(os.path.isfile(SCRIPT), SCRIPT)
        # No inherited NODE_OPTIONS etc. could change how node runs the script.
        env = {"NODE_OPTIONS": None}
        env.update(kw.pop("env", {}))
        child = self.spawn([NODE, SCRIPT], service="node", env=env, **kw)
        first = child.recv()
        self.assertEqual(first, {"type": "ready"}, "first message must be ready")
        return child

    def test_ready_request_ping(self):
        c = self.start()
        c.request(1, "GET", "/node/hello", query="x=1", prefix="/node")
        resp, before = c.recv_response(1)
        self.assertEqual(before, [])
        self.assertEqual(resp, {"type": "response", "id": 1, "status": 200,
                                "json": {"node": True, "path": "/node/hello",
                                         "method": "GET"}})
        self.assertEqual(c.roundtrip_ping(7), [])
        self.assertEqual(c.received[-1], {"type": "pong", "seq": 7})

    def test_many_requests_and_unicode(self):
        c = self.start()
        # Several messages in one write, split lines, raw UTF-8 and \\u escapes:
        # Node's framing must cope with all of them.
        msgs = [c.request(i, "POST", "/node/p\u00e4th-%d-\U0001F600" % i, body="b",
                          prefix="/node", send=False) for i in range(1, 21)]
        raw = b"".join((json.dumps(m, ensure_ascii=(m["id"] % 2 == 0)) + "\n")
                       .encode("utf-8") for m in msgs)
        third = len(raw) // 3
        c.send_raw(raw[:third])
        c.send_raw(raw[third:2 * third])
        c.send_raw(raw[2 * third:])
        got = c.recv_until(lambda m: m["type"] == "response" and m["id"] == 20)
        self.assertEqual([m["id"] for m in got], list(range(1, 21)))
        for m in got:
            self.assertEqual(m["json"]["path"], "/node/p\u00e4th-%d-\U0001F600" % m["id"])
            self.assertEqual(m["json"]["method"], "POST")

    def test_shutdown_exits_0(self):
        c = self.start()
        self.assertEqual(c.roundtrip_ping(1), [])
        c.shutdown(5000)
        self.assertEqual(c.drain(), [])
        self.assertEqual(c.wait_exit(), 0)

    def test_channel_close_exits(self):
        c = self.start()
        self.assertEqual(c.roundtrip_ping(1), [])
        c.close_channel()
        self.assertEqual(c.wait_exit(), 0)


@unittest.skipUnless(NODE, "MUSTER_NODE is empty: node not available")
class HelloExampleTest(harness.ChildTestCase):
    """services/examples/hello_node.js over the channel: its real-time side
    in plain process.send (SPEC §8)."""

    def test_websocket_accept_echo_join(self):
        c = self.spawn([NODE, os.path.join(harness.SRC_DIR, "services", "examples",
                                           "hello_node.js")],
                       service="hello", env={"NODE_OPTIONS": None})
        self.assertEqual(c.recv(), {"type": "ready"})
        hs = c.request(1, "GET", "/hello/ws", query="name=Ada+L%C3%B6", prefix="/hello",
                       send=False)
        hs["ws"] = {"conn": "abc-1", "protocols": []}
        c.send(hs)
        resp, _ = c.recv_response(1)
        self.assertEqual(resp, {"type": "response", "id": 1, "status": 101,
                                "ws": {"meta": {"name": "Ada L\u00f6"}}})
        meta = resp["ws"]["meta"]
        c.send({"type": "ws_message", "conn": "abc-1", "seq": 1, "text": "hi", "meta": meta})
        self.assertEqual(c.recv(), {"type": "ws_send", "conn": "abc-1", "text": "hi"})
        c.send({"type": "ws_message", "conn": "abc-1", "seq": 2, "data_base64": "AP8=",
                "meta": meta})
        self.assertEqual(c.recv(), {"type": "ws_send", "conn": "abc-1", "data_base64": "AP8="})
        c.send({"type": "ws_message", "conn": "abc-1", "seq": 3, "text": "join lobby",
                "meta": meta})
        self.assertEqual(c.recv(), {"type": "join", "conn": "abc-1", "room": "lobby"})
        self.assertEqual(c.recv(), {"type": "publish", "topic": "lobby",
                                    "data": "Ada L\u00f6 joined lobby"})
        # a badly encoded name is no crash
        hs = c.request(2, "GET", "/hello/ws", query="name=%E0%A4%A", prefix="/hello",
                       send=False)
        hs["ws"] = {"conn": "abc-2", "protocols": []}
        c.send(hs)
        self.assertEqual(c.recv_response(2)[0]["ws"], {"meta": {"name": "someone"}})
        self.assertEqual(c.roundtrip_ping(9), [])


if __name__ == "__main__":
    unittest.main()
