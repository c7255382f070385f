"""readmongo_service end to end: HTTP through the real muster gateway.

Each test starts the in-memory MongoDB wire-protocol server of
mongo_fixture.py (python3-mockupdb) on 127.0.0.1 and a free port, then the
real `muster` (tests/lib/musterproc.py) with

  * `readmongo`: command ["readmongo_service"], 2 instances, route /mongo,
    MONGODB_URI pointing at the fixture;
  * `dummy`: dummy_service on /dummy.

The tests send HTTP to the gateway and assert both the answers (status,
JSON body, content-type, framing) and the exact commands the MongoDB peer
received (filter, projection, sort, limit, skip, maxTimeMS, pipeline ...):
every SPEC section 7 row, 400/403/503/504, MongoDB stopping and coming back
without a restart (muster's status over the control socket), a stalled
MongoDB blocking neither another service nor readmongo's own /_health, and
NDJSON streamed through the gateway as it is fetched.

Synchronisation is on events (log lines, the fixture's condition variable,
HTTP answers), never on sleeps; timeouts are failure limits. Two assertions
are about time by nature: /dummy/echo is answered promptly and /_health
answers 503 within its bound while MongoDB stalls.

Every process a test starts is stopped by the test's cleanups (muster
first, which stops its instances, then the fixture); a sanitizer report in
muster's log or in a service's log file fails the test.
"""

import datetime
import glob
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)
from musterproc import Muster, ctl, free_port, gateway_addr, service, TIMEOUT  # noqa: E402
from mongo_fixture import MongoFixture  # noqa: E402

from bson import ObjectId  # noqa: E402

MAX_TIME_MS = 4321          # READMONGO_MAX_TIME_MS: every command must carry it
MAX_LIMIT = 50              # READMONGO_MAX_LIMIT
ALLOW = "shop.*,logs.requests"
NDJSON = {"accept": "application/x-ndjson"}

# The sanitizer settings ctest gives the integration tests (CMakeLists), so
# that a direct run reports the same way: an instance's report ends it with
# exit code 86, which muster logs.
SAN_ENV = {
    "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0:exitcode=86"),
    "UBSAN_OPTIONS": os.environ.get("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1"),
}
SAN_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
               "SUMMARY: UndefinedBehaviorSanitizer")

ORDERS = [{"_id": i, "n": i, "tag": "even" if i % 2 == 0 else "odd", "s": "x%d" % i}
          for i in range(10)]
OID = ObjectId("5f00000000000000000000aa")
IDS = [{"_id": OID, "k": "oid"}, {"_id": 42, "k": "int"}, {"_id": "42", "k": "str42"},
       {"_id": "a/b c", "k": "str"}, {"_id": "5f00000000000000000000bb", "k": "hexstr"}]
WHEN = datetime.datetime(2024, 3, 4, 5, 6, 7, 890000)
KB = [{"_id": i, "s": "k" * 1000} for i in range(250)]
TYPES = [{"_id": ObjectId("5f0000000000000000000001"), "at": WHEN, "text": "caf\u00e9 \"q\"\n"}]


def js(obj):
    return json.dumps(obj, separators=(",", ":"))


def q(**params):
    """A query string; dict/list values as JSON, percent-encoded."""
    return urllib.parse.urlencode({k: js(v) if isinstance(v, (dict, list)) else v
                                   for k, v in params.items()}, quote_via=urllib.parse.quote)


def label_rx(label):
    return label.replace("[", r"\[").replace("]", r"\]")


class GatewayCase(unittest.TestCase):
    """A fixture per test, and a muster hosting readmongo (2) and dummy (1)."""

    mongo_up_at_start = True

    def setUp(self):
        self.mongo = MongoFixture()
        if self.mongo_up_at_start:
            self.mongo.start()
        else:
            self.mongo.port = free_port()  # start() listens there later
        self.addCleanup(self._stop_mongo)
        self.mongo.insert("shop", "orders", ORDERS)
        self.mongo.insert("shop", "ids", IDS)
        self.mongo.insert("shop", "types", TYPES)
        self.mongo.insert("shop", "big", [{"_id": i, "v": "v%d" % i} for i in range(250)])
        # 1 KiB documents: a streamed step sends about 64 KiB (RM_CHUNK_BYTES),
        # so the first of these goes out before the first getMore.
        self.mongo.insert("shop", "kb", KB)
        self.mongo.insert("logs", "requests", [{"_id": 1, "path": "/"}])
        self.mongo.insert("logs", "other", [{"_id": 1}])
        self.mongo.insert("admin", "system.users", [{"_id": "admin.root"}])

    def _stop_mongo(self):
        self.mongo.release()   # held commands (a failed test) are answered first
        self.mongo.stop()
        self.assertEqual(self.mongo.errors, [], "errors in the fixture's handler")

    # ---- muster ----

    def start_muster(self, env=None, instances=2, **uri_opts):
        opts = {"serverSelectionTimeoutMS": 1000, "heartbeatFrequencyMS": 500}
        opts.update(uri_opts)
        menv = {"MONGODB_URI": self.mongo.uri(**opts), "READMONGO_ALLOW": ALLOW,
                "READMONGO_MAX_TIME_MS": str(MAX_TIME_MS),
                "READMONGO_MAX_LIMIT": str(MAX_LIMIT)}
        menv.update(env or {})
        svcs = [service("readmongo", ["readmongo_service"], instances=instances,
                        routes=["/mongo"], env=menv),
                service("dummy", ["dummy_service"], routes=["/dummy"])]
        m = Muster(svcs)
        self.addCleanup(self._stop_muster, m)
        m.start(extra_env=SAN_ENV)
        for label in ["readmongo[%d]" % i for i in range(instances)] + ["dummy[0]"]:
            m.seen_or_expect(label_rx(label) + r": ready: ")
        self.m = m
        return m

    def _stop_muster(self, m):
        """SIGTERM, wait, look for sanitizer reports in the services' log
        files (the dir goes with m.stop()), then m.stop() (muster's log)."""
        problems = []
        if m.proc is not None and m.proc.poll() is None:
            m.signal(signal.SIGTERM)
            try:
                code = m.wait(TIMEOUT)
                if code != 0:
                    problems.append("muster exited %s after SIGTERM" % code)
            except subprocess.TimeoutExpired:
                problems.append("muster did not exit within %.0f s of SIGTERM" % TIMEOUT)
        for path in glob.glob(os.path.join(m.dir, "logs", "*.log*")):
            with open(path, errors="replace") as f:
                text = f.read()
            for marker in SAN_MARKERS:
                if marker in text:
                    i = text.index(marker)
                    problems.append("%s in %s:\n%s" % (marker, os.path.basename(path),
                                                        text[max(0, i - 200):i + 3000]))
        m.stop()  # kills what is left; fails on muster's own reports
        self.assertEqual(problems, [])

    # ---- HTTP ----

    def request(self, method, path, body=None, headers=None, timeout=TIMEOUT):
        """(status, lower-cased headers, body) of one request on a new connection."""
        conn = http.client.HTTPConnection(*gateway_addr(self.m), timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def json_ok(self, resp, status=200):
        """The JSON body of a buffered answer with that status."""
        st, headers, body = resp
        self.assertEqual(st, status, body[:2000])
        self.assertEqual(headers.get("content-type"), "application/json", headers)
        self.assertEqual(int(headers.get("content-length", -1)), len(body), headers)
        self.assertNotIn("transfer-encoding", headers)
        self.assertTrue(headers.get("x-request-id"), headers)
        return json.loads(body)

    def json_error(self, resp, status, contains=None):
        body = self.json_ok(resp, status)
        self.assertIsInstance(body.get("error"), str, body)
        self.assertLessEqual(set(body), {"error", "code"}, body)
        if contains is not None:
            self.assertIn(contains, body["error"])
        return body

    # ---- what the MongoDB peer received ----

    def mark(self):
        with self.mongo.cond:
            return len(self.mongo.commands)

    def since(self, mark, skip=("endsessions",)):
        """The commands received since mark (hello is never recorded)."""
        with self.mongo.cond:
            return [c for c in self.mongo.commands[mark:] if c["name"] not in skip]

    def only(self, mark, name):
        """The one command received since mark, which must be `name`."""
        got = self.since(mark)
        self.assertEqual([c["name"] for c in got], [name], got)
        return got[0]["doc"]

    # ---- muster's view ----

    def status(self):
        r = ctl(self.m, cmd="status", service="readmongo")
        self.assertTrue(r.get("ok"), r)
        (svc,) = r["services"]
        return svc

    def assert_up_unrestarted(self, pids=None):
        """readmongo running, every instance ready, no restart, and (when
        given) the same pids as before."""
        svc = self.status()
        self.assertEqual(svc["state"], "running", svc)
        self.assertEqual(svc["restarts"], 0, svc)
        for inst in svc["instances"]:
            self.assertEqual(inst["state"], "ready", svc)
            self.assertEqual(inst["restarts"], 0, svc)
            self.assertIsNone(inst["last_exit"], svc)
        now = sorted(i["pid"] for i in svc["instances"])
        if pids is not None:
            self.assertEqual(now, pids, "instances were replaced")
        return now

    def requests_per_instance(self):
        return {i["index"]: i["requests"] for i in self.status()["instances"]}

    def both_instances(self, path, expect_status):
        """Sends path until each instance answered at least once (muster's
        per-instance request counts), asserting every answer; returns them."""
        before = self.requests_per_instance()
        answers = []
        while True:
            resp = self.get(path)
            answers.append(resp)
            self.assertEqual(resp[0], expect_status, (len(answers), resp[2][:500]))
            now = self.requests_per_instance()
            if all(now[i] > before[i] for i in before):
                return answers
            self.assertLess(len(answers), 10, "the gateway used only one instance: %s" % now)


# ---- SPEC 7 rows ----

class SpecRowsTest(GatewayCase):

    def setUp(self):
        super().setUp()
        self.start_muster()

    def test_find_with_filter_projection_sort_limit_skip(self):
        mk = self.mark()
        body = self.json_ok(self.get("/mongo/shop/orders?" + q(
            filter={"n": {"$gte": 3}}, projection={"s": 0}, sort={"n": -1}, limit=4, skip=1)))
        self.assertEqual(body, {"documents": [
            {"_id": i, "n": i, "tag": "even" if i % 2 == 0 else "odd"} for i in (8, 7, 6, 5)]})
        cmd = self.only(mk, "find")
        self.assertEqual((cmd["find"], cmd["$db"]), ("orders", "shop"))
        self.assertEqual(cmd["filter"], {"n": {"$gte": 3}})
        self.assertEqual(cmd["projection"], {"s": 0})
        self.assertEqual(cmd["sort"], {"n": -1})
        self.assertEqual(cmd["limit"], 4)
        self.assertEqual(cmd["skip"], 1)
        self.assertEqual(cmd["maxTimeMS"], MAX_TIME_MS)

    def test_find_defaults_and_cap(self):
        mk = self.mark()
        body = self.json_ok(self.get("/mongo/shop/orders"))
        self.assertEqual(body, {"documents": ORDERS})
        cmd = self.only(mk, "find")
        self.assertEqual(cmd.get("filter", {}), {})
        self.assertEqual(cmd["limit"], MAX_LIMIT)
        self.assertEqual(cmd["maxTimeMS"], MAX_TIME_MS)
        for absent in ("skip", "projection", "sort"):
            self.assertNotIn(absent, cmd)
        # limit=0 and a limit above the cap both mean the cap.
        for limit in (0, 10 * MAX_LIMIT):
            mk = self.mark()
            body = self.json_ok(self.get("/mongo/shop/big?" + q(limit=limit)))
            self.assertEqual([d["_id"] for d in body["documents"]], list(range(MAX_LIMIT)))
            self.assertEqual(self.only(mk, "find")["limit"], MAX_LIMIT)

    def test_extended_json_in_and_relaxed_extended_json_out(self):
        mk = self.mark()
        body = self.json_ok(self.get("/mongo/shop/types?" + q(filter={
            "_id": {"$oid": "5f0000000000000000000001"},
            "at": {"$gte": {"$date": "2024-01-01T00:00:00Z"}}})))
        self.assertEqual(body, {"documents": [{
            "_id": {"$oid": "5f0000000000000000000001"},
            "at": {"$date": "2024-03-04T05:06:07.890Z"}, "text": "caf\u00e9 \"q\"\n"}]})
        cmd = self.only(mk, "find")
        self.assertEqual(cmd["filter"], {
            "_id": ObjectId("5f0000000000000000000001"),
            "at": {"$gte": datetime.datetime(2024, 1, 1)}})

    def test_by_id_objectid_string_integer(self):
        # ObjectId: 24 hex digits, its string form as the fallback.
        mk = self.mark()
        self.assertEqual(self.json_ok(self.get("/mongo/shop/ids/" + str(OID))),
                         {"_id": {"$oid": str(OID)}, "k": "oid"})
        cmd = self.only(mk, "find")
        self.assertEqual(cmd["filter"], {"_id": {"$in": [OID, str(OID)]}})
        self.assertEqual(cmd["limit"], 2)
        self.assertEqual(cmd["maxTimeMS"], MAX_TIME_MS)
        # 24 hex digits whose document has a string _id: the fallback.
        self.assertEqual(self.json_ok(self.get("/mongo/shop/ids/5f00000000000000000000bb")),
                         {"_id": "5f00000000000000000000bb", "k": "hexstr"})
        # Integer: preferred over its string form.
        mk = self.mark()
        self.assertEqual(self.json_ok(self.get("/mongo/shop/ids/42")), {"_id": 42, "k": "int"})
        self.assertEqual(self.only(mk, "find")["filter"], {"_id": {"$in": [42, "42"]}})
        # String (percent-encoded in the path), with a projection.
        mk = self.mark()
        self.assertEqual(self.json_ok(self.get("/mongo/shop/ids/a%2Fb%20c?" +
                                               q(projection={"_id": 0}))), {"k": "str"})
        cmd = self.only(mk, "find")
        self.assertEqual(cmd["filter"], {"_id": "a/b c"})
        self.assertEqual(cmd["projection"], {"_id": 0})
        self.assertEqual(cmd["limit"], 1)
        self.assertEqual(cmd["maxTimeMS"], MAX_TIME_MS)
        # Not found: 404 with a JSON error.
        self.json_error(self.get("/mongo/shop/ids/nope"), 404)
        self.json_error(self.get("/mongo/shop/ids/7"), 404)

    def test_count(self):
        mk = self.mark()
        self.assertEqual(self.json_ok(self.get("/mongo/shop/orders/_count?" +
                                               q(filter={"tag": "odd"}))), {"count": 5})
        cmd = self.only(mk, "aggregate")
        self.assertEqual((cmd["aggregate"], cmd["$db"]), ("orders", "shop"))
        self.assertEqual(cmd["pipeline"], [{"$match": {"tag": "odd"}},
                                           {"$group": {"_id": 1, "n": {"$sum": 1}}}])
        self.assertEqual(cmd["maxTimeMS"], MAX_TIME_MS)
        mk = self.mark()
        self.assertEqual(self.json_ok(self.get("/mongo/shop/orders/_count?" +
                                               q(filter={"n": {"$gt": 0}}, skip=2, limit=3))),
                         {"count": 3})
        cmd = self.only(mk, "aggregate")
        self.assertEqual(cmd["pipeline"], [{"$match": {"n": {"$gt": 0}}}, {"$skip": 2},
                                           {"$limit": 3},
                                           {"$group": {"_id": 1, "n": {"$sum": 1}}}])
        self.assertEqual(self.json_ok(self.get("/mongo/shop/nothing/_count")), {"count": 0})

    def test_distinct(self):
        mk = self.mark()
        body = self.json_ok(self.get("/mongo/shop/orders/_distinct?" +
                                     q(key="tag", filter={"n": {"$lt": 5}})))
        self.assertEqual(body, {"values": ["even", "odd"]})
        cmd = self.only(mk, "distinct")
        self.assertEqual((cmd["distinct"], cmd["$db"]), ("orders", "shop"))
        self.assertEqual(cmd["key"], "tag")
        self.assertEqual(cmd["query"], {"n": {"$lt": 5}})
        self.assertEqual(cmd["maxTimeMS"], MAX_TIME_MS)
        mk = self.mark()
        self.json_error(self.get("/mongo/shop/orders/_distinct"), 400, "key")
        self.assertEqual(self.since(mk), [])

    def test_aggregate(self):
        pipeline = [{"$match": {"n": {"$gte": 4}}}, {"$sort": {"n": -1}}, {"$limit": 2},
                    {"$project": {"n": 1}}]
        mk = self.mark()
        body = self.json_ok(self.request("POST", "/mongo/shop/orders/_aggregate",
                                         body=js(pipeline),
                                         headers={"content-type": "application/json"}))
        self.assertEqual(body, {"documents": [{"_id": 9, "n": 9}, {"_id": 8, "n": 8}]})
        cmd = self.only(mk, "aggregate")
        self.assertEqual((cmd["aggregate"], cmd["$db"]), ("orders", "shop"))
        self.assertEqual(cmd["pipeline"], pipeline)
        self.assertEqual(cmd["maxTimeMS"], MAX_TIME_MS)
        self.assertIn("cursor", cmd)
        # The result is cut off at READMONGO_MAX_LIMIT documents.
        body = self.json_ok(self.request("POST", "/mongo/shop/big/_aggregate", body="[]"))
        self.assertEqual([d["_id"] for d in body["documents"]], list(range(MAX_LIMIT)))
        # GET is not the method of _aggregate.
        st, headers, _ = resp = self.get("/mongo/shop/orders/_aggregate")
        self.json_error(resp, 405)
        self.assertEqual(headers.get("allow"), "POST")

    def test_health(self):
        mk = self.mark()
        self.assertEqual(self.json_ok(self.get("/mongo/_health")), {"status": "ok"})
        cmd = self.only(mk, "ping")
        self.assertEqual(cmd["$db"], "admin")
        self.assertLessEqual(cmd["maxTimeMS"], MAX_TIME_MS)
        self.assertGreater(cmd["maxTimeMS"], 0)


# ---- 400 / 403 / 504 ----

class ErrorsTest(GatewayCase):

    def setUp(self):
        super().setUp()
        self.start_muster()

    def test_403_admin_and_namespaces_not_allowed(self):
        mk = self.mark()
        for path in ("/mongo/admin/system.users", "/mongo/admin/users/_count",
                     "/mongo/local/oplog.rs", "/mongo/config/chunks/1",
                     "/mongo/logs/other", "/mongo/other/orders/_distinct?key=a"):
            body = self.json_error(self.get(path), 403, "not allowed")
            ns = ".".join(path.split("?")[0].split("/")[2:4])
            self.assertIn(ns, body["error"])
        self.json_error(self.request("POST", "/mongo/admin/users/_aggregate", body="[]"), 403)
        # A pipeline reading a namespace outside the list.
        pipeline = [{"$unionWith": {"coll": "other", "pipeline": []}}]
        self.json_error(self.request("POST", "/mongo/logs/requests/_aggregate",
                                     body=js(pipeline)), 403, "logs.other")
        self.assertEqual(self.since(mk), [], "a refused request reached MongoDB")
        # The allowed ones in the same databases work.
        body = self.json_ok(self.get("/mongo/logs/requests"))
        self.assertEqual(body, {"documents": [{"_id": 1, "path": "/"}]})

    def test_400_invalid_json_with_the_parsers_message(self):
        mk = self.mark()
        body = self.json_error(self.get("/mongo/shop/orders?" + q(filter='{"a":1,}')), 400)
        self.assertEqual(body["error"],
                         'filter: invalid JSON: Got parse error at "}", position 7: '
                         '"TRAILING_COMMA"')
        body = self.json_error(self.get("/mongo/shop/orders?filter=%7Bbad"), 400,
                               "filter: invalid JSON")
        self.assertIn("position", body["error"])
        self.json_error(self.get("/mongo/shop/orders?" + q(sort='{"n":')), 400,
                        "sort: invalid JSON")
        self.json_error(self.get("/mongo/shop/orders?" + q(filter=[1])), 400, "JSON object")
        body = self.json_error(self.request("POST", "/mongo/shop/orders/_aggregate",
                                            body='[{"$match": {}} x]'), 400,
                               "pipeline: invalid JSON")
        self.assertIn("position 16", body["error"])
        self.json_error(self.get("/mongo/shop/orders?" + q(limit="ten")), 400, "limit")
        self.json_error(self.get("/mongo/shop/orders?" + q(fliter="{}")), 400, "fliter")
        self.assertEqual(self.since(mk), [], "an invalid request reached MongoDB")

    def test_400_refused_operators(self):
        mk = self.mark()
        for flt in ({"$where": "this.n > 1"}, {"$or": [{"n": 1}, {"$where": "1"}]}):
            body = self.json_error(self.get("/mongo/shop/orders?" + q(filter=flt)), 400,
                                   "$where")
            self.assertIn("refused", body["error"])
        self.json_error(self.get("/mongo/shop/orders/_count?" + q(filter={"$where": "1"})),
                        400, "$where")
        for pipeline, op in (([{"$match": {}}, {"$out": "stolen"}], "$out"),
                             ([{"$merge": {"into": "x"}}], "$merge"),
                             ([{"$facet": {"a": [{"$out": "x"}]}}], "$out")):
            body = self.json_error(self.request("POST", "/mongo/shop/orders/_aggregate",
                                                body=js(pipeline)), 400, op)
            self.assertIn("refused", body["error"])
        self.assertEqual(self.since(mk), [], "a refused request reached MongoDB")

    def test_504_max_time_ms_exceeded(self):
        for method, path, body, name in (
                ("GET", "/mongo/shop/orders?" + q(filter={"n": 1}), None, "find"),
                ("GET", "/mongo/shop/orders/1", None, "find"),
                ("GET", "/mongo/shop/orders/_count", None, "aggregate"),
                ("GET", "/mongo/shop/orders/_distinct?key=n", None, "distinct"),
                ("POST", "/mongo/shop/orders/_aggregate", "[]", "aggregate")):
            self.mongo.fail(name, code=50, errmsg="operation exceeded time limit", times=1)
            mk = self.mark()
            err = self.json_error(self.request(method, path, body=body), 504, "time limit")
            self.assertEqual(err["code"], 50)
            cmd = self.only(mk, name)
            self.assertEqual(cmd["maxTimeMS"], MAX_TIME_MS)
        # The next request works (the failure was for one command).
        self.assertEqual(len(self.json_ok(self.get("/mongo/shop/orders"))["documents"]), 10)
        self.assert_up_unrestarted()


# ---- MongoDB unreachable, stopping and coming back ----

class AvailabilityTest(GatewayCase):

    def test_503_when_unreachable_and_the_instances_stay_ready(self):
        self.start_muster()
        pids = self.assert_up_unrestarted()
        self.json_ok(self.get("/mongo/shop/orders/_count"))
        self.mongo.stop()
        for st, headers, body in self.both_instances("/mongo/shop/orders", 503):
            self.json_error((st, headers, body), 503, "MongoDB unavailable")
            self.assertEqual(headers.get("retry-after"), "1")
        self.json_error(self.get("/mongo/shop/orders/_count"), 503, "MongoDB unavailable")
        self.json_error(self.get("/mongo/shop/orders/_distinct?key=n"), 503)
        self.json_error(self.request("POST", "/mongo/shop/orders/_aggregate", body="[]"), 503)
        for resp in self.both_instances("/mongo/_health", 503):
            self.json_error(resp, 503, "MongoDB unavailable")
        # muster still sees both instances ready: same pids, no restart, and
        # its own health check says every service has a ready instance.
        self.assert_up_unrestarted(pids)
        st, _, body = self.get("/healthz")
        self.assertEqual(st, 200, body)
        self.assertEqual(json.loads(body)["status"], "ok")
        # The other service is not affected.
        self.assertEqual(self.get("/dummy/echo")[0], 200)

    def test_mongodb_stops_and_comes_back_without_restarts(self):
        self.start_muster()
        pids = self.assert_up_unrestarted()
        self.both_instances("/mongo/shop/orders", 200)
        self.mongo.stop()
        self.both_instances("/mongo/shop/orders", 503)
        self.both_instances("/mongo/_health", 503)
        with self.mongo.cond:
            hellos = self.mongo.hellos
        self.mongo.start()  # the same port
        self.mongo.wait_for(lambda f: f.hellos > hellos, "a driver to reconnect")
        # Both instances answer again, each at once (no restart, no retry).
        mk = self.mark()
        for _, _, body in self.both_instances("/mongo/shop/orders?" + q(limit=3), 200):
            self.assertEqual(json.loads(body), {"documents": ORDERS[:3]})
        for c in self.since(mk):
            self.assertEqual((c["name"], c["doc"]["limit"], c["doc"]["maxTimeMS"]),
                             ("find", 3, MAX_TIME_MS))
        for resp in self.both_instances("/mongo/_health", 200):
            self.assertEqual(self.json_ok(resp), {"status": "ok"})
        self.assert_up_unrestarted(pids)


class UnreachableAtStartTest(GatewayCase):
    """MongoDB is not there yet when the instances start."""

    mongo_up_at_start = False

    def test_unreachable_at_start_then_up(self):
        self.start_muster()
        pids = self.assert_up_unrestarted()
        self.both_instances("/mongo/shop/orders", 503)
        with self.mongo.cond:
            hellos = self.mongo.hellos
        self.mongo.start()
        self.mongo.wait_for(lambda f: f.hellos > hellos, "a driver to connect")
        for _, _, body in self.both_instances("/mongo/shop/orders", 200):
            self.assertEqual(json.loads(body), {"documents": ORDERS})
        self.assert_up_unrestarted(pids)


# ---- A stalled MongoDB ----

class StalledTest(GatewayCase):

    def test_50_stalled_queries_block_neither_dummy_nor_health(self):
        # Default thread pool (16): 15 query slots per instance; 2 instances.
        # maxTimeMS 30 s so that the driver does not give up while we look.
        self.start_muster(env={"READMONGO_MAX_TIME_MS": "30000"})
        pids = self.assert_up_unrestarted()
        self.json_ok(self.get("/mongo/shop/orders"))
        self.mongo.stall()   # every command but hello stays unanswered
        results = {}
        lock = threading.Lock()

        def query(i):
            try:
                resp = self.get("/mongo/shop/orders?" + q(filter={"n": {"$lt": 100 + i}}),
                                timeout=60)
            except Exception as e:  # noqa: BLE001 - reported by the assertion below
                resp = (None, {}, repr(e).encode())
            with lock:
                results[i] = resp

        threads = [threading.Thread(target=query, args=(i,), daemon=True) for i in range(50)]
        try:
            for t in threads:
                t.start()
            # 15 finds per instance reach the server; the other 20 wait in
            # the instances' queues; muster has all 50 in flight.
            self.mongo.wait_for(lambda f: f.held_count("find") == 30, "30 finds held")
            # The last of the 50 may still be on its way to muster: 30
            # held finds say nothing of the 20 others. Await them.
            deadline = time.monotonic() + TIMEOUT
            while True:
                svc = self.status()
                if sum(i["inflight"] for i in svc["instances"]) >= 50 or \
                        time.monotonic() > deadline:
                    break
                time.sleep(0.02)
            self.assertEqual(sum(i["inflight"] for i in svc["instances"]), 50, svc)

            # Another service is answered promptly meanwhile.
            for _ in range(10):
                t0 = time.monotonic()
                st, _, body = self.get("/dummy/echo")
                elapsed = time.monotonic() - t0
                self.assertEqual(st, 200, body)
                self.assertEqual(json.loads(body)["path"], "/dummy/echo")
                self.assertLess(elapsed, 2.0, "/dummy/echo took %.2f s" % elapsed)

            # readmongo's own /_health answers 503 within its bound (1 s by
            # default) on both instances, its ping being held too.
            before = self.requests_per_instance()
            for n in range(2):
                t0 = time.monotonic()
                resp = self.get("/mongo/_health")
                elapsed = time.monotonic() - t0
                self.json_error(resp, 503, "ping")
                self.assertEqual(resp[1].get("retry-after"), "1")
                self.assertLess(elapsed, 3.0, "/_health took %.2f s" % elapsed)
                self.assertGreaterEqual(elapsed, 0.5, "/_health did not wait for the ping")
            after = self.requests_per_instance()
            self.assertEqual({i: after[i] - before[i] for i in after}, {0: 1, 1: 1})
            self.mongo.wait_for(lambda f: f.held_count("ping") == 2, "each health ping held")
            # Still bounded: no more than 15 finds per instance at the server.
            self.assertEqual(self.mongo.held_count("find"), 30)
            self.assertEqual(results, {}, "a stalled query was answered")
            # muster kept getting pongs: nothing was restarted.
            self.assert_up_unrestarted(pids)
        finally:
            self.mongo.release()
            for t in threads:
                t.join(TIMEOUT)
        self.assertEqual(len(results), 50)
        for i, resp in sorted(results.items()):
            docs = self.json_ok(resp)["documents"]
            self.assertEqual(docs, ORDERS, i)
        filters = sorted(c["doc"]["filter"]["n"]["$lt"] for c in self.mongo.named("find")
                         if c["doc"]["filter"])
        self.assertEqual(filters, list(range(100, 150)))
        self.assertEqual(self.json_ok(self.get("/mongo/_health")), {"status": "ok"})
        self.assert_up_unrestarted(pids)


# ---- NDJSON through the gateway ----

class StreamTest(GatewayCase):

    def setUp(self):
        super().setUp()
        self.start_muster(env={"READMONGO_MAX_LIMIT": "1000"})

    def open_stream(self, method, path, body=None):
        conn = http.client.HTTPConnection(*gateway_addr(self.m), timeout=TIMEOUT)
        self.addCleanup(conn.close)
        conn.request(method, path, body=body, headers=NDJSON)
        r = conn.getresponse()
        self.assertEqual(r.status, 200)
        headers = {k.lower(): v for k, v in r.getheaders()}
        self.assertEqual(headers.get("content-type"), "application/x-ndjson")
        self.assertEqual(headers.get("transfer-encoding"), "chunked")
        self.assertNotIn("content-length", headers)
        self.assertTrue(headers.get("x-request-id"), headers)
        return r

    def lines(self, data):
        self.assertTrue(data.endswith(b"\n"), data[-200:])
        out = []
        for line in data.decode("utf-8").split("\n")[:-1]:
            doc = json.loads(line)   # each line is one JSON document
            self.assertIsInstance(doc, dict, line)
            out.append(doc)
        return out

    def test_find_is_streamed_one_document_per_line_as_it_is_fetched(self):
        # The getMores are held: what the service read from the first batch
        # must reach the client through the gateway before the rest of the
        # result is even fetched (a buffered answer could not start).
        self.mongo.stall(["getmore"])
        mk = self.mark()
        r = self.open_stream("GET", "/mongo/shop/kb?" + q(sort={"_id": 1}))
        self.mongo.wait_for(lambda f: f.held_count("getmore") == 1, "the first getMore")
        first = [json.loads(r.readline()) for _ in range(50)]
        self.assertEqual(first, KB[:50])
        self.assertEqual(self.mongo.held_count("getmore"), 1)
        self.assertEqual([c["name"] for c in self.since(mk)], ["find", "getmore"])
        self.mongo.release()
        rest = self.lines(r.read())
        self.assertEqual(first + rest, KB)
        got = self.since(mk)
        self.assertEqual([c["name"] for c in got], ["find", "getmore", "getmore"])
        find = got[0]["doc"]
        self.assertEqual((find["find"], find["sort"], find["limit"], find["maxTimeMS"]),
                         ("kb", {"_id": 1}, 1000, MAX_TIME_MS))
        self.assertEqual({c["doc"]["collection"] for c in got[1:]}, {"kb"})

    def test_small_documents_stream(self):
        mk = self.mark()
        r = self.open_stream("GET", "/mongo/shop/big?" + q(filter={"_id": {"$gte": 5}},
                                                           projection={"v": 0}))
        self.assertEqual(self.lines(r.read()), [{"_id": i} for i in range(5, 250)])
        got = self.since(mk)
        self.assertEqual([c["name"] for c in got], ["find", "getmore", "getmore"])
        self.assertEqual((got[0]["doc"]["filter"], got[0]["doc"]["projection"]),
                         ({"_id": {"$gte": 5}}, {"v": 0}))

    def test_aggregate_is_streamed(self):
        mk = self.mark()
        pipeline = [{"$match": {"tag": "odd"}}, {"$project": {"n": 1}}]
        r = self.open_stream("POST", "/mongo/shop/orders/_aggregate", body=js(pipeline))
        self.assertEqual(self.lines(r.read()), [{"_id": i, "n": i} for i in (1, 3, 5, 7, 9)])
        cmd = self.only(mk, "aggregate")
        self.assertEqual((cmd["pipeline"], cmd["maxTimeMS"]), (pipeline, MAX_TIME_MS))

    def test_error_mid_stream_is_the_last_line(self):
        self.mongo.fail("getmore", code=50, errmsg="operation exceeded time limit", times=1)
        r = self.open_stream("GET", "/mongo/shop/kb")
        lines = self.lines(r.read())
        self.assertEqual([d["_id"] for d in lines[:-1]], list(range(101)))
        self.assertEqual(lines[-1]["status"], 504)
        self.assertIn("time limit", lines[-1]["error"])

    def test_error_before_the_first_line_is_a_plain_error(self):
        self.mongo.fail("find", code=50, errmsg="operation exceeded time limit", times=1)
        resp = self.get("/mongo/shop/big", headers=NDJSON)
        self.assertEqual(self.json_error(resp, 504, "time limit")["code"], 50)


if __name__ == "__main__":
    unittest.main()
