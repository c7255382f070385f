"""readmongo_service over the IPC channel (SPEC sections 3 and 7).

Each test starts an in-memory MongoDB wire-protocol server (mongo_fixture,
on python3-mockupdb) and spawns $MUSTER_BIN_DIR/readmongo_service the way
muster does (tests/ipc/harness.py), then sends it the `request` messages the
gateway would send for the HTTP requests of SPEC section 7. The tests assert
the answers and the exact commands the server received.

Synchronisation is on channel messages and on the fixture's condition
variable, never on time; timeouts are failure limits. Two assertions are
about time by nature: /_health answers 503 within a bound while the server
stalls, and a stream whose reader does not read stops fetching (checked
over a window: something that must NOT happen can only be watched for a
while).
"""

import datetime
import itertools
import json
import os
import sys
import time
import unittest
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "ipc"))
sys.path.insert(0, HERE)
import harness  # noqa: E402
from harness import body_bytes, chunk_bytes, header  # noqa: E402
from mongo_fixture import MongoFixture  # noqa: E402

from bson import Binary, Decimal128, Int64, ObjectId  # noqa: E402

READMONGO = harness.bin_path("readmongo_service")
PREFIX = "/mongo"
TIMEOUT = harness.TIMEOUT


def q(**params):
    """A query string, values percent-encoded as a browser would."""
    return urllib.parse.urlencode(params, quote_via=urllib.parse.quote)


def js(obj):
    return json.dumps(obj, separators=(",", ":"))


ORDERS = [{"_id": i, "n": i, "tag": "even" if i % 2 == 0 else "odd", "s": "x%d" % i}
          for i in range(10)]


class ReadMongoCase(harness.ChildTestCase):
    topology = "standalone"

    def setUp(self):
        super().setUp()
        self.assertTrue(os.access(READMONGO, os.X_OK),
                        "readmongo_service not built: %s (MUSTER_BIN_DIR=%r)"
                        % (READMONGO, os.environ.get("MUSTER_BIN_DIR")))
        self.mongo = MongoFixture(topology=self.topology)
        self.mongo.start()
        self.addCleanup(self._stop_mongo)
        self.mongo.insert("shop", "orders", ORDERS)
        self.ids = itertools.count(1)

    def _stop_mongo(self):
        self.mongo.stop()
        self.assertEqual(self.mongo.errors, [], "errors in the fixture's handler")

    def start(self, env=None, **uri_opts):
        """Spawn readmongo_service on the fixture; assert it says ready."""
        opts = {"serverSelectionTimeoutMS": 2000, "heartbeatFrequencyMS": 500}
        opts.update(uri_opts)
        full = {"MONGODB_URI": self.mongo.uri(**opts)}
        full.update(env or {})
        c = self.spawn([READMONGO], env=full, service="readmongo")
        self.assertEqual(c.recv(), {"type": "ready"}, "first message must be ready")
        return c

    def send(self, c, path, query="", method="GET", body="", headers=None):
        """Send a request (path after the prefix); return its id."""
        rid = next(self.ids)
        c.request(rid, method, PREFIX + path, query, body, headers, prefix=PREFIX)
        return rid

    def call(self, c, path, query="", method="GET", body="", headers=None, timeout=TIMEOUT):
        rid = self.send(c, path, query, method, body, headers)
        return c.recv_response(rid, timeout)[0]

    def ok_json(self, resp, status=200):
        """The JSON body of a non-streamed response with that status."""
        self.assertEqual(resp["status"], status, harness._short(resp, 2000))
        self.assertNotIn("stream", resp)
        self.assertEqual(header(resp, "content-type"), "application/json")
        return json.loads(body_bytes(resp))

    def assert_error(self, resp, status, contains=None):
        body = self.ok_json(resp, status)
        self.assertIsInstance(body.get("error"), str, body)
        if contains is not None:
            self.assertIn(contains, body["error"])
        return body

    def last(self, name):
        cmds = self.mongo.named(name)
        self.assertTrue(cmds, "the server received no %s command" % name)
        return cmds[-1]["doc"]

    def queries(self):
        """The commands that read data (everything but ping/endSessions)."""
        with self.mongo.cond:
            return [c for c in self.mongo.commands
                    if c["name"] not in ("ping", "endsessions", "buildinfo")]

    def stream_of(self, c, rid, timeout=TIMEOUT):
        """(head, body bytes) of a streamed response: the response with
        stream:true, then its chunks up to `end`."""
        head = c.recv_response(rid, timeout)[0]
        self.assertEqual(head["status"], 200, head)
        self.assertIs(head.get("stream"), True, head)
        self.assertEqual(header(head, "content-type"), "application/x-ndjson")
        got = c.recv_until(lambda m: m["type"] == "end" and m.get("id") == rid, timeout)
        data = b"".join(chunk_bytes(m) for m in got
                        if m["type"] == "chunk" and m.get("id") == rid)
        return head, data


# ---- SPEC 7 rows ----

class FindTest(ReadMongoCase):

    def test_find_with_every_parameter_sends_them_to_the_server(self):
        c = self.start(env={"READMONGO_MAX_TIME_MS": "1234"})
        resp = self.call(c, "/shop/orders", q(filter=js({"n": {"$gte": 3}}),
                                              projection=js({"s": 0}),
                                              sort=js({"n": -1}), limit=4, skip=1))
        docs = self.ok_json(resp)["documents"]
        self.assertEqual(docs, [{"_id": i, "n": i, "tag": "even" if i % 2 == 0 else "odd"}
                                for i in (8, 7, 6, 5)])
        cmd = self.last("find")
        self.assertEqual(cmd["find"], "orders")
        self.assertEqual(cmd["$db"], "shop")
        self.assertEqual(cmd["filter"], {"n": {"$gte": 3}})
        self.assertEqual(cmd["projection"], {"s": 0})
        self.assertEqual(cmd["sort"], {"n": -1})
        self.assertEqual(cmd["limit"], 4)
        self.assertEqual(cmd["skip"], 1)
        self.assertEqual(cmd["maxTimeMS"], 1234)

    def test_find_defaults_limit_to_the_cap(self):
        c = self.start(env={"READMONGO_MAX_LIMIT": "7"})
        docs = self.ok_json(self.call(c, "/shop/orders"))["documents"]
        self.assertEqual(docs, ORDERS[:7])
        cmd = self.last("find")
        self.assertEqual(cmd.get("filter", {}), {})
        self.assertEqual(cmd["limit"], 7)
        self.assertEqual(cmd["maxTimeMS"], 5000)
        for absent in ("skip", "projection", "sort"):
            self.assertNotIn(absent, cmd)
        # A larger limit is capped too.
        self.ok_json(self.call(c, "/shop/orders", q(limit=500)))
        self.assertEqual(self.last("find")["limit"], 7)

    def test_result_larger_than_one_batch(self):
        self.mongo.insert("shop", "big", [{"_id": i, "v": "v%d" % i} for i in range(250)])
        c = self.start()
        docs = self.ok_json(self.call(c, "/shop/big"))["documents"]
        self.assertEqual([d["_id"] for d in docs], list(range(250)))
        self.assertEqual(len(self.mongo.named("find")), 1)
        more = self.mongo.named("getmore")
        self.assertEqual(len(more), 2)  # 101 + 101 + 48
        self.assertEqual({int(m["doc"]["getMore"]) for m in more}, {1000})
        self.assertEqual(more[0]["doc"]["collection"], "big")
        self.assertEqual(self.mongo.cursors, {})

    def test_relaxed_extended_json(self):
        oid = ObjectId("5f0000000000000000000001")
        self.mongo.insert("shop", "types", [{
            "_id": oid,
            "when": datetime.datetime(2020, 1, 2, 3, 4, 5, 678000),
            "big": Int64(1 << 40), "small": Int64(5), "f": 1.5,
            "dec": Decimal128("1.5"), "bin": Binary(b"\x01\x02", 0),
            "nested": {"a": [1, "b", None, True]}, "text": "caf\u00e9 \"q\"\n",
        }])
        c = self.start()
        docs = self.ok_json(self.call(c, "/shop/types"))["documents"]
        self.assertEqual(docs, [{
            "_id": {"$oid": str(oid)},
            "when": {"$date": "2020-01-02T03:04:05.678Z"},
            "big": 1 << 40, "small": 5, "f": 1.5,
            "dec": {"$numberDecimal": "1.5"},
            "bin": {"$binary": {"base64": "AQI=", "subType": "00"}},
            "nested": {"a": [1, "b", None, True]}, "text": "caf\u00e9 \"q\"\n",
        }])
        # Extended JSON in a filter.
        self.ok_json(self.call(c, "/shop/types", q(filter=js({"_id": {"$oid": str(oid)}}))))
        self.assertEqual(self.last("find")["filter"], {"_id": oid})

    def test_by_id(self):
        oid = ObjectId("5f00000000000000000000aa")
        self.mongo.insert("shop", "ids", [
            {"_id": oid, "k": "oid"}, {"_id": 42, "k": "int"}, {"_id": "42", "k": "str42"},
            {"_id": "a/b c", "k": "str"}, {"_id": "5f00000000000000000000bb", "k": "hexstr"},
            {"_id": Int64(1 << 40), "k": "long"}])
        c = self.start()
        self.assertEqual(self.ok_json(self.call(c, "/shop/ids/" + str(oid))),
                         {"_id": {"$oid": str(oid)}, "k": "oid"})
        self.assertEqual(self.last("find")["filter"], {"_id": {"$in": [oid, str(oid)]}})
        self.assertEqual(self.last("find")["limit"], 2)
        # An integer wins over its string form; the string form is the fallback.
        self.assertEqual(self.ok_json(self.call(c, "/shop/ids/42"))["k"], "int")
        self.assertEqual(self.last("find")["filter"], {"_id": {"$in": [42, "42"]}})
        self.assertEqual(self.ok_json(self.call(c, "/shop/ids/%d" % (1 << 40)))["k"], "long")
        self.assertEqual(self.ok_json(self.call(c, "/shop/ids/5f00000000000000000000bb"))["k"],
                         "hexstr")
        # Percent-escapes in the path are decoded.
        self.assertEqual(self.ok_json(self.call(c, "/shop/ids/a%2Fb%20c"))["k"], "str")
        self.assertEqual(self.last("find")["filter"], {"_id": "a/b c"})
        self.assertEqual(self.last("find")["limit"], 1)
        # Projection applies; a missing _id is 404.
        self.assertEqual(self.ok_json(self.call(c, "/shop/ids/42", q(projection=js({"k": 0})))),
                         {"_id": 42})
        self.assert_error(self.call(c, "/shop/ids/nope"), 404)

    def test_count(self):
        c = self.start()
        self.assertEqual(self.ok_json(self.call(c, "/shop/orders/_count",
                                                q(filter=js({"tag": "even"})))), {"count": 5})
        cmd = self.last("aggregate")
        self.assertEqual(cmd["aggregate"], "orders")
        self.assertEqual(cmd["pipeline"], [{"$match": {"tag": "even"}},
                                           {"$group": {"_id": 1, "n": {"$sum": 1}}}])
        self.assertEqual(cmd["maxTimeMS"], 5000)
        self.assertEqual(self.ok_json(self.call(c, "/shop/orders/_count")), {"count": 10})
        self.assertEqual(self.ok_json(self.call(c, "/shop/none/_count")), {"count": 0})

    def test_distinct(self):
        c = self.start()
        body = self.ok_json(self.call(c, "/shop/orders/_distinct",
                                      q(key="tag", filter=js({"n": {"$lt": 5}}))))
        self.assertEqual(body, {"values": ["even", "odd"]})
        cmd = self.last("distinct")
        self.assertEqual(cmd["distinct"], "orders")
        self.assertEqual(cmd["key"], "tag")
        self.assertEqual(cmd["query"], {"n": {"$lt": 5}})
        self.assertEqual(cmd["maxTimeMS"], 5000)
        self.assert_error(self.call(c, "/shop/orders/_distinct"), 400, "key")

    def test_aggregate(self):
        c = self.start()
        pipeline = [{"$match": {"n": {"$gte": 4}}}, {"$sort": {"n": -1}}, {"$limit": 2},
                    {"$project": {"n": 1}}]
        resp = self.call(c, "/shop/orders/_aggregate", method="POST", body=js(pipeline),
                         headers={"content-type": "application/json"})
        self.assertEqual(self.ok_json(resp), {"documents": [{"_id": 9, "n": 9},
                                                            {"_id": 8, "n": 8}]})
        cmd = self.last("aggregate")
        self.assertEqual(cmd["aggregate"], "orders")
        self.assertEqual(cmd["pipeline"], pipeline)
        self.assertEqual(cmd["maxTimeMS"], 5000)
        self.assertIn("cursor", cmd)

    def test_aggregate_result_is_capped(self):
        c = self.start(env={"READMONGO_MAX_LIMIT": "3"})
        resp = self.call(c, "/shop/orders/_aggregate", method="POST", body="[]")
        self.assertEqual(len(self.ok_json(resp)["documents"]), 3)

    def test_health(self):
        c = self.start()
        self.assertEqual(self.ok_json(self.call(c, "/_health")), {"status": "ok"})
        ping = self.last("ping")
        self.assertEqual(ping["$db"], "admin")
        self.assertIn("maxTimeMS", ping)

    def test_buffered_response_size_is_bounded(self):
        self.mongo.insert("shop", "fat", [{"_id": i, "s": "x" * 1000} for i in range(10)])
        c = self.start(env={"READMONGO_MAX_RESPONSE_BYTES": "4096"})
        self.assert_error(self.call(c, "/shop/fat"), 400, "application/x-ndjson")
        self.assertEqual(self.mongo.cursors, {})  # the cursor was killed or exhausted
        head, data = self.stream_of(c, self.send(c, "/shop/fat",
                                                 headers={"accept": "application/x-ndjson"}))
        self.assertEqual(len(data.splitlines()), 10)


# ---- Safety ----

class GuardTest(ReadMongoCase):

    def test_internal_databases_are_denied_by_default(self):
        c = self.start()
        for path in ("/admin/system.users", "/local/oplog.rs", "/config/chunks",
                     "/admin/x/_count", "/local/x/_distinct?key=a", "/config/x/1"):
            p, _, query = path.partition("?")
            self.assert_error(self.call(c, p, query), 403, "not allowed")
        self.assert_error(self.call(c, "/admin/x/_aggregate", method="POST", body="[]"), 403)
        self.assert_error(self.call(c, "/shop/system.profile"), 403)
        self.assertEqual(self.queries(), [])

    def test_allow_list(self):
        c = self.start(env={"READMONGO_ALLOW": "shop.orders, logs.*"})
        self.ok_json(self.call(c, "/shop/orders"))
        self.ok_json(self.call(c, "/logs/anything"))
        self.assert_error(self.call(c, "/shop/users"), 403, "shop.users")
        self.assert_error(self.call(c, "/admin/orders"), 403)
        # A pipeline may not read a collection that is not allowed either.
        pipeline = [{"$lookup": {"from": "users", "localField": "n", "foreignField": "n",
                                 "as": "u"}}]
        self.assert_error(self.call(c, "/shop/orders/_aggregate", method="POST",
                                    body=js(pipeline)), 403, "shop.users")
        self.assertEqual(len(self.queries()), 2)

    def test_bad_allow_list_is_a_startup_error(self):
        c = self.spawn([READMONGO], env={"MONGODB_URI": self.mongo.uri(),
                                         "READMONGO_ALLOW": "shop"}, service="readmongo")
        self.assertEqual(c.wait_exit(), 1)
        self.assertIn("READMONGO_ALLOW", c.stderr_text())

    def test_refused_operators(self):
        c = self.start()
        cases = [
            (q(filter=js({"$or": [{"n": 1}, {"$where": "sleep(100)"}]})), "$where"),
            (q(filter=js({"$expr": {"$function": {"body": "x", "args": [], "lang": "js"}}})),
             "$function"),
            (q(projection=js({"x": {"$function": {"body": "x", "args": [], "lang": "js"}}})),
             "$function"),
        ]
        for query, op in cases:
            self.assert_error(self.call(c, "/shop/orders", query), 400, op)
        pipelines = [
            ([{"$match": {}}, {"$out": "copy"}], "$out"),
            ([{"$merge": {"into": "copy"}}], "$merge"),
            ([{"$facet": {"a": [{"$match": {}}], "b": [{"$out": "x"}]}}], "$out"),
            ([{"$lookup": {"from": "orders", "as": "o", "pipeline": [{"$merge": "x"}]}}],
             "$merge"),
            ([{"$group": {"_id": 1, "x": {"$accumulator": {"init": "f"}}}}], "$accumulator"),
            ([{"$match": {"$where": "1"}}], "$where"),
        ]
        for pipeline, op in pipelines:
            body = self.assert_error(self.call(c, "/shop/orders/_aggregate", method="POST",
                                               body=js(pipeline)), 400, op)
            self.assertIn("refused", body["error"])
        self.assert_error(self.call(c, "/shop/orders/_count",
                                    q(filter=js({"$where": "1"}))), 400, "$where")
        self.assertEqual(self.queries(), [])

    def test_invalid_json_and_parameters(self):
        c = self.start()
        body = self.assert_error(self.call(c, "/shop/orders", q(filter='{"a":1,}')), 400)
        self.assertIn("filter: invalid JSON", body["error"])
        self.assertIn("position 7", body["error"])
        body = self.assert_error(self.call(c, "/shop/orders", q(sort='{"a":')), 400)
        self.assertIn("position 5", body["error"])
        self.assert_error(self.call(c, "/shop/orders", q(filter="[1]")), 400, "JSON object")
        body = self.assert_error(self.call(c, "/shop/orders/_aggregate", method="POST",
                                           body='[{"$match": {}} x]'), 400, "pipeline")
        self.assertIn("position 16", body["error"])
        self.assert_error(self.call(c, "/shop/orders/_aggregate", method="POST",
                                    body='{"$match": {}}'), 400, "JSON array")
        self.assert_error(self.call(c, "/shop/orders", q(limit="ten")), 400, "limit")
        self.assert_error(self.call(c, "/shop/orders", q(skip=-1)), 400, "skip")
        self.assert_error(self.call(c, "/shop/orders", q(fliter="{}")), 400, "fliter")
        self.assertEqual(self.queries(), [])

    def test_paths_and_methods(self):
        c = self.start()
        for path in ("/", "/shop", "/shop/orders/1/2", "/_healthz", "/shop//orders"):
            self.assert_error(self.call(c, path), 404)
        self.assert_error(self.call(c, "/sh.op/orders"), 400, "database name")
        resp = self.call(c, "/shop/orders", method="POST", body="{}")
        self.assert_error(resp, 405)
        self.assertEqual(header(resp, "allow"), "GET, HEAD")
        resp = self.call(c, "/shop/orders/_aggregate")
        self.assert_error(resp, 405)
        self.assertEqual(header(resp, "allow"), "POST")
        self.assertEqual(self.queries(), [])


# ---- Errors and availability ----

class ErrorTest(ReadMongoCase):

    def test_server_errors_are_mapped_with_their_message(self):
        c = self.start()
        cases = [(2, "bad value here", 400), (50, "operation exceeded time limit", 504),
                 (13435, "not primary and secondaryOk=false", 503), (13, "not authorized", 403),
                 (1, "internal", 502)]
        for code, msg, status in cases:
            # Until cleared: 13435 is retryable, so the driver tries twice.
            self.mongo.fail("find", code, msg)
            resp = self.call(c, "/shop/orders")
            self.mongo.clear_failures()
            body = self.assert_error(resp, status, msg)
            self.assertEqual(body.get("code"), code)
            if status == 503:
                self.assertEqual(header(resp, "retry-after"), "1")
        # maxTimeMS exceeded on each kind of operation.
        for path, query, method, body in (("/shop/orders/_count", "", "GET", ""),
                                          ("/shop/orders/_distinct", "key=n", "GET", ""),
                                          ("/shop/orders/1", "", "GET", ""),
                                          ("/shop/orders/_aggregate", "", "POST", "[]")):
            self.mongo.fail(None, 50, "operation exceeded time limit", times=1)
            self.assert_error(self.call(c, path, query, method, body), 504, "time limit")
        # Server-side refusals of the query itself.
        self.assert_error(self.call(c, "/shop/orders/_aggregate", method="POST",
                                    body=js([{"$bogus": {}}])), 400, "Unrecognized pipeline")
        self.assert_error(self.call(c, "/shop/orders", q(filter=js({"$bogus": 1}))), 400,
                          "unknown top level operator")

    def test_unreachable_mongodb_is_503_and_the_service_stays_up(self):
        c = self.start(serverSelectionTimeoutMS=500)
        self.mongo.stop()
        resp = self.call(c, "/shop/orders")
        self.assert_error(resp, 503, "MongoDB unavailable")
        self.assertEqual(header(resp, "retry-after"), "1")
        self.assert_error(self.call(c, "/shop/orders/_count"), 503)
        self.assert_error(self.call(c, "/_health"), 503)
        c.roundtrip_ping(1)
        self.assertTrue(c.alive())

    def test_mongodb_stopping_and_coming_back(self):
        c = self.start(serverSelectionTimeoutMS=1000)
        self.ok_json(self.call(c, "/shop/orders"))
        self.ok_json(self.call(c, "/_health"))
        self.mongo.stop()
        self.assert_error(self.call(c, "/shop/orders"), 503)
        self.assert_error(self.call(c, "/_health"), 503)
        c.roundtrip_ping(1)
        # Back on the same port: the driver's monitor finds it again.
        with self.mongo.cond:
            hellos = self.mongo.hellos
        self.mongo.start()
        self.mongo.wait_for(lambda m: m.hellos > hellos, "the driver to reconnect")
        docs = self.ok_json(self.call(c, "/shop/orders"))["documents"]
        self.assertEqual(docs, ORDERS)
        self.ok_json(self.call(c, "/_health"))
        self.assertTrue(c.alive(), "the service must recover without a restart")

    def test_unreachable_at_start(self):
        self.mongo.stop()
        c = self.start(serverSelectionTimeoutMS=300)
        self.assert_error(self.call(c, "/shop/orders"), 503)
        self.mongo.start()
        self.mongo.wait_for(lambda m: m.hellos > 0, "the driver to connect")
        self.ok_json(self.call(c, "/shop/orders"))

    def test_bad_uri_is_a_startup_error(self):
        c = self.spawn([READMONGO], env={"MONGODB_URI": "mongodb://h:notaport/"},
                       service="readmongo")
        self.assertEqual(c.wait_exit(), 1)
        self.assertIn("MONGODB_URI", c.stderr_text())


# ---- Concurrency, cancel, shutdown ----

class ConcurrencyTest(ReadMongoCase):

    def test_50_stalled_queries_block_neither_pings_nor_health(self):
        # 8 threads: 7 query slots, 1 kept for /_health.
        c = self.start(env={"UV_THREADPOOL_SIZE": "8", "READMONGO_MAX_TIME_MS": "30000",
                            "READMONGO_HEALTH_TIMEOUT_MS": "1000"})
        self.ok_json(self.call(c, "/shop/orders"))
        self.mongo.stall()
        rids = [self.send(c, "/shop/orders", q(filter=js({"n": {"$lt": 100 + i}})))
                for i in range(50)]
        self.mongo.wait_for(lambda m: m.held_count("find") == 7, "7 finds held")
        # The loop is free: pings are answered while 50 queries wait.
        for seq in range(3):
            before = c.roundtrip_ping(seq, timeout=5)
            self.assertEqual([m for m in before if m["type"] == "response"], [])
        # /_health reaches the server on its own thread, and answers 503 at its
        # deadline since the server does not answer.
        t0 = time.monotonic()
        hid = self.send(c, "/_health")
        self.mongo.wait_for(lambda m: m.held_count("ping") == 1, "the health ping")
        resp = c.recv_response(hid)[0]
        elapsed = time.monotonic() - t0
        self.assert_error(resp, 503, "ping")
        self.assertLess(elapsed, 4.0, "health took %.1f s" % elapsed)
        # Concurrency stayed bounded: still exactly 7 finds at the server.
        self.assertEqual(self.mongo.held_count("find"), 7)
        c.roundtrip_ping(10, timeout=5)
        self.mongo.release()
        got = c.recv_until(lambda m: sum(1 for x in c.received if x["type"] == "response"
                                         and x["id"] in rids) == 50, timeout=60)
        resps = [m for m in c.received if m["type"] == "response" and m["id"] in rids]
        self.assertEqual(len(resps), 50, got[-3:])
        for r in resps:
            self.assertEqual(len(self.ok_json(r)["documents"]), 10)
        self.ok_json(self.call(c, "/_health"))

    def test_cancel_running_and_waiting_requests(self):
        # 2 threads: 1 query slot, so the second request waits in the queue.
        c = self.start(env={"UV_THREADPOOL_SIZE": "2", "READMONGO_MAX_TIME_MS": "30000"})
        self.mongo.stall(["find"])
        a = self.send(c, "/shop/orders")
        self.mongo.wait_for(lambda m: m.held_count("find") == 1, "find a held")
        b = self.send(c, "/shop/orders", q(limit=3))
        c.roundtrip_ping(1)
        c.cancel(b)   # waiting: dropped at once
        c.cancel(a)   # running: dropped when the driver call returns
        c.roundtrip_ping(2)
        self.mongo.release()
        docs = self.ok_json(self.call(c, "/shop/orders", q(limit=2)))["documents"]
        self.assertEqual(len(docs), 2)
        c.roundtrip_ping(3)
        self.assertEqual([m for m in c.received if m.get("id") in (a, b)], [])
        self.assertEqual([f["doc"]["limit"] for f in self.mongo.named("find")], [1000, 2])

    def test_shutdown_finishes_in_flight_requests_then_exits(self):
        c = self.start(env={"READMONGO_MAX_TIME_MS": "30000"})
        self.mongo.stall(["find"])
        a = self.send(c, "/shop/orders")
        self.mongo.wait_for(lambda m: m.held_count("find") == 1, "find held")
        c.shutdown(deadline_ms=20000)
        c.roundtrip_ping(1)
        self.mongo.release()
        resp = c.recv_response(a)[0]
        self.assertEqual(len(self.ok_json(resp)["documents"]), 10)
        c.drain()
        self.assertEqual(c.wait_exit(), 0)

    def test_shutdown_deadline_with_a_stalled_query(self):
        # The request is abandoned at the deadline; the driver call ends at
        # socketTimeoutMS (maxTimeMS + 1 s), then the service exits cleanly.
        c = self.start(env={"READMONGO_MAX_TIME_MS": "500"})
        self.mongo.stall(["find"])
        a = self.send(c, "/shop/orders")
        self.mongo.wait_for(lambda m: m.held_count("find") == 1, "find held")
        c.shutdown(deadline_ms=300)
        got = c.drain()
        self.assertEqual([m for m in got if m.get("id") == a], [])
        self.assertEqual(c.wait_exit(), 0)

    def test_channel_close_exits(self):
        c = self.start()
        self.ok_json(self.call(c, "/shop/orders"))
        c.close_channel()
        self.assertEqual(c.wait_exit(), 0)


# ---- NDJSON streaming ----

NDJSON = {"accept": "application/x-ndjson"}


class StreamTest(ReadMongoCase):

    def lines(self, data):
        self.assertTrue(data.endswith(b"\n"), data[-100:])
        return [json.loads(line) for line in data.decode("utf-8").splitlines()]

    def test_find_streams_one_document_per_line(self):
        self.mongo.insert("shop", "big", [{"_id": i, "v": "v%d" % i} for i in range(250)])
        c = self.start()
        head, data = self.stream_of(c, self.send(c, "/shop/big", q(sort=js({"_id": 1})),
                                                 headers=NDJSON))
        self.assertEqual([d["_id"] for d in self.lines(data)], list(range(250)))
        self.assertEqual(len(self.mongo.named("getmore")), 2)

    def test_aggregate_streams(self):
        c = self.start()
        rid = self.send(c, "/shop/orders/_aggregate", method="POST",
                        body=js([{"$match": {"tag": "odd"}}]), headers=NDJSON)
        head, data = self.stream_of(c, rid)
        self.assertEqual([d["n"] for d in self.lines(data)], [1, 3, 5, 7, 9])

    def test_error_before_the_first_line_is_a_plain_error(self):
        c = self.start()
        self.mongo.fail("find", 2, "bad filter", times=1)
        resp = self.call(c, "/shop/orders", headers=NDJSON)
        self.assert_error(resp, 400, "bad filter")

    def test_error_mid_stream_ends_it_with_an_error_line(self):
        # 1 KiB documents: the first step sends 64 KiB, the second fails on getMore.
        self.mongo.insert("shop", "kb", [{"_id": i, "s": "k" * 1000} for i in range(250)])
        c = self.start()
        self.mongo.fail("getmore", 50, "operation exceeded time limit", times=1)
        head, data = self.stream_of(c, self.send(c, "/shop/kb", headers=NDJSON))
        lines = self.lines(data)
        self.assertEqual([d["_id"] for d in lines[:-1]], list(range(101)))
        self.assertEqual(lines[-1]["status"], 504)
        self.assertIn("time limit", lines[-1]["error"])

    def test_backpressure_and_cancel(self):
        # ~8 MB of NDJSON in 40 batches. While the test does not read the
        # channel, the service must stop fetching batches (the channel's
        # write queue is full); once it reads, the rest follows.
        n = 4000
        self.mongo.insert("shop", "huge", [{"_id": i, "s": "%04d" % i + "h" * 2000}
                                           for i in range(n)])
        c = self.start(env={"READMONGO_MAX_LIMIT": "100000"})
        rid = self.send(c, "/shop/huge", headers=NDJSON)
        batches = (n + 100) // 101
        with self.assertRaises(AssertionError):
            self.mongo.wait_for(lambda m: m.count_locked("getmore") >= batches - 1,
                                "every getMore (must not happen while nobody reads)",
                                timeout=2.0)
        fetched = len(self.mongo.named("getmore"))
        self.assertLess(fetched, batches - 1)
        head, data = self.stream_of(c, rid, timeout=60)
        ids = [int(d["s"][:4]) for d in self.lines(data)]
        self.assertEqual(ids, list(range(n)))
        self.assertEqual(len(self.mongo.named("getmore")), batches - 1)

        # Cancel a stream in the middle: its cursor is killed on the server.
        rid = self.send(c, "/shop/huge", headers=NDJSON)
        c.recv_response(rid)
        c.cancel(rid)
        self.mongo.wait_for(lambda m: len(m.killed) == 1, "killCursors")
        self.assertEqual(self.mongo.named("killcursors")[0]["doc"]["killCursors"], "huge")
        c.roundtrip_ping(2)
        self.ok_json(self.call(c, "/shop/orders"))


# ---- Topologies: the URI passes through ----

class MongosTest(ReadMongoCase):
    topology = "mongos"

    def test_read_preference_passes_through(self):
        c = self.start(readPreference="secondaryPreferred")
        self.ok_json(self.call(c, "/shop/orders"))
        self.assertEqual(self.last("find")["$readPreference"], {"mode": "secondaryPreferred"})
        self.ok_json(self.call(c, "/_health"))
        self.assertEqual(self.last("ping")["$readPreference"], {"mode": "secondaryPreferred"})


class ReplicaSetTest(ReadMongoCase):
    topology = "rs"

    def test_replica_set_uri(self):
        c = self.start(readPreference="primaryPreferred")
        docs = self.ok_json(self.call(c, "/shop/orders", q(limit=3)))["documents"]
        self.assertEqual(docs, ORDERS[:3])
        self.assertEqual(self.last("find")["$readPreference"], {"mode": "primaryPreferred"})


if __name__ == "__main__":
    unittest.main()
