"""readmongo_service through the real gateway (issue 6): the SPEC §7 rows
as HTTP, the error mapping, MongoDB going away and coming back, and a
stalled MongoDB not blocking other services. The MongoDB peer is the
in-memory mockupdb fixture; the tests assert both the HTTP answers and the
commands the server received."""
import http.client
import json
import os
import sys
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from musterproc import Muster, ctl, gateway_addr, http_get, service, TIMEOUT  # noqa: E402
from mongo_fixture import MongoFixture  # noqa: E402

ORDERS = [{"_id": i, "n": i, "tag": "even" if i % 2 == 0 else "odd", "s": "x%d" % i}
          for i in range(10)]


def q(**params):
    return urllib.parse.urlencode({k: json.dumps(v) if isinstance(v, (dict, list)) else v
                                   for k, v in params.items()}, quote_via=urllib.parse.quote)


def request(m, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(*gateway_addr(m), timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        conn.close()


class MongoGatewayTest(unittest.TestCase):

    def setUp(self):
        self.mongo = MongoFixture()
        self.mongo.start()
        self.mongo.insert("shop", "orders", ORDERS)
        self.addCleanup(self.mongo.stop)

    def muster(self, instances=2):
        uri = self.mongo.uri(serverSelectionTimeoutMS=1000, heartbeatFrequencyMS=500)
        svcs = [service("readmongo", ["readmongo_service"], instances=instances,
                        routes=["/mongo"], env={"MONGODB_URI": uri}),
                service("dummy", ["dummy_service"], routes=["/dummy"])]
        m = Muster(svcs).start()
        for label in ["readmongo[%d]" % i for i in range(instances)] + ["dummy[0]"]:
            m.seen_or_expect(r"%s: ready: " % label.replace("[", r"\[").replace("]", r"\]"))
        return m

    def test_spec_rows(self):
        with self.muster() as m:
            path = "/mongo/shop/orders?" + q(filter={"n": {"$gte": 3}}, projection={"s": 0},
                                              sort={"n": -1}, limit=2, skip=1)
            status, headers, body = request(m, "GET", path)
            self.assertEqual(status, 200, body)
            self.assertTrue(headers["content-type"].startswith("application/json"))
            self.assertEqual(json.loads(body)["documents"],
                             [{"_id": 8, "n": 8, "tag": "even"}, {"_id": 7, "n": 7, "tag": "odd"}])
            (cmd,) = [c["doc"] for c in self.mongo.named("find")]
            self.assertEqual((cmd["filter"], cmd["projection"], cmd["sort"], cmd["skip"]),
                             ({"n": {"$gte": 3}}, {"s": 0}, {"n": -1}, 1))
            self.assertEqual(cmd["limit"], 2)
            self.assertEqual(cmd["maxTimeMS"], 5000)
            # by _id: an integer here
            status, _, body = request(m, "GET", "/mongo/shop/orders/4")
            self.assertEqual((status, json.loads(body)["n"]), (200, 4))
            self.assertEqual(request(m, "GET", "/mongo/shop/orders/99")[0], 404)
            status, _, body = request(m, "GET", "/mongo/shop/orders/_count?" + q(filter={"tag": "odd"}))
            self.assertEqual(json.loads(body), {"count": 5})
            status, _, body = request(m, "GET", "/mongo/shop/orders/_distinct?key=tag")
            self.assertEqual(sorted(json.loads(body)["values"]), ["even", "odd"])
            pipeline = [{"$match": {"n": {"$gt": 7}}}, {"$project": {"n": 1}}]
            status, _, body = request(m, "POST", "/mongo/shop/orders/_aggregate",
                                      body=json.dumps(pipeline),
                                      headers={"content-type": "application/json"})
            self.assertEqual(json.loads(body)["documents"], [{"_id": 8, "n": 8}, {"_id": 9, "n": 9}])
            self.assertEqual(request(m, "GET", "/mongo/_health")[0], 200)

    def test_ndjson_stream(self):
        with self.muster(instances=1) as m:
            status, headers, body = request(m, "GET", "/mongo/shop/orders",
                                            headers={"accept": "application/x-ndjson"})
            self.assertEqual(status, 200)
            self.assertEqual(headers.get("transfer-encoding"), "chunked")
            lines = body.decode().splitlines()
            self.assertEqual([json.loads(x)["_id"] for x in lines], list(range(10)))

    def test_errors(self):
        with self.muster(instances=1) as m:
            self.assertEqual(request(m, "GET", "/mongo/admin/users")[0], 403)
            status, _, body = request(m, "GET", "/mongo/shop/orders?filter=%7Bbad")
            self.assertEqual(status, 400)
            self.assertIn("error", json.loads(body))
            self.assertEqual(request(m, "GET", "/mongo/shop/orders?" + q(filter={"$where": "1"}))[0], 400)
            status, _, _ = request(m, "POST", "/mongo/shop/orders/_aggregate",
                                   body=json.dumps([{"$out": "x"}]))
            self.assertEqual(status, 400)
            self.mongo.fail("find", code=50, errmsg="operation exceeded time limit", times=1)
            self.assertEqual(request(m, "GET", "/mongo/shop/orders")[0], 504)

    def test_mongodb_down_then_back_without_restarts(self):
        with self.muster() as m:
            pids = sorted(i["pid"] for i in ctl(m, cmd="status", service="readmongo")
                          ["services"][0]["instances"])
            self.assertEqual(request(m, "GET", "/mongo/shop/orders/_count")[0], 200)
            self.mongo.stop()
            status, headers, _ = request(m, "GET", "/mongo/shop/orders/_count")
            self.assertEqual(status, 503)
            self.assertEqual(request(m, "GET", "/mongo/_health")[0], 503)
            self.mongo.start()  # same port
            deadline = time.monotonic() + TIMEOUT
            while request(m, "GET", "/mongo/shop/orders/_count")[0] != 200:
                self.assertLess(time.monotonic(), deadline, "never recovered")
            st = ctl(m, cmd="status", service="readmongo")["services"][0]
            self.assertEqual(sorted(i["pid"] for i in st["instances"]), pids)
            self.assertEqual(st["restarts"], 0)

    def test_stalled_mongodb_does_not_block_others(self):
        with self.muster() as m:
            self.mongo.stall(["find"])
            results = []

            def query():
                results.append(request(m, "GET", "/mongo/shop/orders")[0])
            threads = [threading.Thread(target=query) for _ in range(50)]
            for t in threads:
                t.start()
            self.mongo.wait_for(lambda f: f.held_count("find") >= 1, "a held find")
            t0 = time.monotonic()
            for _ in range(10):
                self.assertEqual(http_get(m, "/dummy/echo")[0], 200)
            self.assertLess(time.monotonic() - t0, 5)
            t0 = time.monotonic()
            self.assertEqual(request(m, "GET", "/mongo/_health")[0], 200)
            self.assertLess(time.monotonic() - t0, 5)
            self.mongo.release()
            for t in threads:
                t.join(TIMEOUT)
            self.assertEqual(results.count(200), 50, results)


if __name__ == "__main__":
    unittest.main()
