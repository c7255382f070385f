"""An in-memory MongoDB for readmongo's tests.

`MongoFixture` is a real MongoDB wire-protocol server (Debian's
python3-mockupdb) on 127.0.0.1 and a free port. It keeps documents in
memory and answers what readmongo's driver sends: hello/isMaster (as a
standalone, a mongos or a replica-set primary, maxWireVersion 13 so that
mongo-c-driver uses OP_MSG and the find/getMore/aggregate/distinct
commands), ping, find, getMore (batches of `batch_size` documents, so a
result can span several batches), killCursors, aggregate (the stages a test
needs: $match, $sort, $skip, $limit, $project, $group with $sum, $count),
count, distinct, endSessions.

It records every command but the monitoring hello (`commands`, with the
command document exactly as received) so that tests can assert what the
server was asked, and it can be told to

  * fail:   `fail(command, code, errmsg, times)` answers {ok: 0, code, errmsg};
  * stall:  `stall(names)` holds the commands (all but hello by default)
            unanswered until `release()`;
  * go away and come back: `stop()` closes the listening socket and every
            connection; `start()` listens again on the same port.

Synchronisation is on a condition variable (`wait_for`), never on time.
Standard library + python3-mockupdb (with python3-bson) only.
"""

import datetime
import functools
import itertools
import os
import select
import threading
import traceback
import urllib.parse

from bson import Int64, ObjectId
import mockupdb

TIMEOUT = 20.0  # failure limit of a wait

HELLO = ("hello", "ismaster")


class CommandError(Exception):
    """A command's error reply: {ok: 0, code, errmsg}."""

    def __init__(self, code, errmsg):
        super().__init__(errmsg)
        self.code = code
        self.errmsg = errmsg


# ---- Query semantics (the subset the tests use) ----

_MISSING = object()

# BSON comparison order of types (MongoDB's sort order).
def _rank(v):
    if v is _MISSING or v is None:
        return 1
    if isinstance(v, bool):
        return 8
    if isinstance(v, (int, float)):
        return 2
    if isinstance(v, str):
        return 3
    if isinstance(v, dict):
        return 4
    if isinstance(v, list):
        return 5
    if isinstance(v, bytes):
        return 6
    if isinstance(v, ObjectId):
        return 7
    if isinstance(v, datetime.datetime):
        return 9
    return 10


def _sort_key(v):
    r = _rank(v)
    if r == 1:
        return (r, 0)
    if r in (4, 5):
        return (r, repr(v))
    return (r, v)


def get_path(doc, path):
    """The value at a dotted path, or _MISSING."""
    cur = doc
    for part in path.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return _MISSING
    return cur


def _eq(val, x):
    if isinstance(val, list) and not isinstance(x, list):
        return any(_eq(v, x) for v in val)
    if val is _MISSING:
        return x is None
    if _rank(val) != _rank(x):
        return False
    return val == x


def _cmp(val, x, op):
    if val is _MISSING or _rank(val) != _rank(x):
        return False
    try:
        return {"$gt": val > x, "$gte": val >= x, "$lt": val < x, "$lte": val <= x}[op]
    except TypeError:
        return False


def _match_value(val, cond):
    if isinstance(cond, dict) and cond and all(k.startswith("$") for k in cond):
        for op, arg in cond.items():
            if op == "$eq":
                ok = _eq(val, arg)
            elif op == "$ne":
                ok = not _eq(val, arg)
            elif op in ("$gt", "$gte", "$lt", "$lte"):
                ok = _cmp(val, arg, op)
            elif op == "$in":
                ok = any(_eq(val, a) for a in arg)
            elif op == "$nin":
                ok = not any(_eq(val, a) for a in arg)
            elif op == "$exists":
                ok = (val is not _MISSING) == bool(arg)
            else:
                raise CommandError(2, "unknown operator: %s" % op)
            if not ok:
                return False
        return True
    return _eq(val, cond)


def match(doc, flt):
    """True when doc matches the query filter flt."""
    for k, cond in (flt or {}).items():
        if k == "$and":
            if not all(match(doc, f) for f in cond):
                return False
        elif k == "$or":
            if not any(match(doc, f) for f in cond):
                return False
        elif k == "$nor":
            if any(match(doc, f) for f in cond):
                return False
        elif k.startswith("$"):
            raise CommandError(2, "unknown top level operator: %s" % k)
        elif not _match_value(get_path(doc, k), cond):
            return False
    return True


def sort_docs(docs, spec):
    out = list(docs)
    for field, direction in reversed(list(spec.items())):
        out.sort(key=lambda d: _sort_key(get_path(d, field)), reverse=direction < 0)
    return out


def project(doc, spec):
    if not spec:
        return dict(doc)
    fields = {k: v for k, v in spec.items() if k != "_id"}
    include = any(bool(v) for v in fields.values())
    keep_id = bool(spec.get("_id", 1))
    if include:
        out = {k: doc[k] for k in doc if k in fields and fields[k]}
        if keep_id and "_id" in doc:
            out = dict([("_id", doc["_id"])] + list(out.items()))
    else:
        out = {k: v for k, v in doc.items() if k not in fields}
        if not keep_id:
            out.pop("_id", None)
    return out


def _expr(doc, e):
    if isinstance(e, str) and e.startswith("$"):
        v = get_path(doc, e[1:])
        return None if v is _MISSING else v
    return e


def _group(docs, spec):
    groups = {}
    order = []
    for d in docs:
        key = _expr(d, spec["_id"])
        k = repr(key)
        if k not in groups:
            groups[k] = {"_id": key}
            order.append(k)
        g = groups[k]
        for field, acc in spec.items():
            if field == "_id":
                continue
            (op, arg), = acc.items()
            if op != "$sum":
                raise CommandError(15952, "unknown group operator '%s'" % op)
            v = _expr(d, arg)
            g[field] = g.get(field, 0) + (v if isinstance(v, (int, float)) else 0)
    return [groups[k] for k in order]


def run_pipeline(docs, pipeline):
    for stage in pipeline:
        (name, arg), = stage.items()
        if name == "$match":
            docs = [d for d in docs if match(d, arg)]
        elif name == "$sort":
            docs = sort_docs(docs, arg)
        elif name == "$skip":
            docs = docs[arg:]
        elif name == "$limit":
            docs = docs[:arg]
        elif name == "$project":
            docs = [project(d, arg) for d in docs]
        elif name == "$group":
            docs = _group(docs, arg)
        elif name == "$count":
            docs = [{arg: len(docs)}] if docs else []
        else:
            raise CommandError(40324, "Unrecognized pipeline stage name: '%s'" % name)
    return docs


# ---- The server ----

class _Server(mockupdb.MockupDB):
    """MockupDB whose accept loop starts before run() returns and stops at
    once on stop() (a self-pipe wakes it; mockupdb's own loop polls the
    listening socket once a second, and races a stop() right after run())."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._accepting = threading.Event()
        self._wake_r, self._wake_w = os.pipe()

    def run(self):
        port = super().run()
        self._accepting.wait(TIMEOUT)
        return port

    def _accept_loop(self):
        sock = self._listening_sock
        sock.setblocking(False)
        self._accepting.set()
        while not self._stopped:
            ready, _, _ = select.select([sock, self._wake_r], [], [])
            if self._stopped:
                break
            if sock in ready:
                try:
                    client, addr = sock.accept()
                except (BlockingIOError, InterruptedError):
                    continue
                client.setblocking(True)
                thread = threading.Thread(
                    target=functools.partial(self._server_loop, client, addr), daemon=True)
                self._server_threads[thread] = None
                self._server_socks[client] = None
                thread.start()

    def stop(self):
        self._stopped = True
        os.write(self._wake_w, b"x")
        try:
            super().stop()
        finally:
            os.close(self._wake_r)
            os.close(self._wake_w)


class MongoFixture:
    """The in-memory server. `topology`: "standalone", "mongos" or "rs"."""

    def __init__(self, topology="standalone", max_wire_version=13, batch_size=101):
        self.topology = topology
        self.max_wire_version = max_wire_version
        self.batch_size = batch_size
        self.cond = threading.Condition()
        self.data = {}            # (db, coll) -> [documents]
        self.commands = []        # every command but hello: {"name", "db", "doc"}
        self.held = []            # requests held by stall()
        self.stalled = None       # None, or the set of command names held (empty: all)
        self.failures = []        # [{"command", "code", "errmsg", "times"}]
        self.cursors = {}         # cursor id -> [ns, remaining documents]
        self.killed = []          # cursor ids killed by killCursors
        self.errors = []          # exceptions in the handler (fixture bugs)
        self.hellos = 0
        self._ids = itertools.count(1000)
        self._conn_ids = itertools.count(1)
        self.server = None
        self.port = None

    # ---- life cycle ----

    def start(self):
        """Listen (again, on the same port after stop()). Returns the port."""
        assert self.server is None, "already running"
        server = _Server(port=self.port, request_timeout=TIMEOUT)
        server.autoresponds(self._handle)
        self.port = server.run()
        self.server = server
        return self.port

    def stop(self):
        """Go away: close the listening socket and every connection (held
        requests are dropped unanswered)."""
        if self.server is None:
            return
        with self.cond:
            self.held = []
        server, self.server = self.server, None
        server.stop()

    def uri(self, **opts):
        """A connection string for this server (options as keywords)."""
        q = {}
        if self.topology == "rs":
            q["replicaSet"] = "rs0"
        else:
            q["directConnection"] = "true"
        q.update({k: str(v).lower() if isinstance(v, bool) else str(v)
                  for k, v in opts.items()})
        return "mongodb://127.0.0.1:%d/?%s" % (self.port, urllib.parse.urlencode(q))

    # ---- data and behaviour ----

    def insert(self, db, coll, docs):
        with self.cond:
            self.data.setdefault((db, coll), []).extend(docs)

    def fail(self, command=None, code=2, errmsg="fixture failure", times=None):
        """Make `command` (None: any but hello) fail with code/errmsg, `times`
        times (None: until clear_failures())."""
        with self.cond:
            self.failures.append({"command": command, "code": code, "errmsg": errmsg,
                                  "times": times})

    def clear_failures(self):
        with self.cond:
            self.failures = []

    def stall(self, names=None):
        """Hold the commands named (default: every command but hello)."""
        with self.cond:
            self.stalled = set(n.lower() for n in names) if names else set()

    def release(self):
        """Stop stalling and answer every held command."""
        with self.cond:
            self.stalled = None
            held, self.held = self.held, []
            replies = [(req, self._reply_locked(req)) for req in held]
        for req, reply in replies:
            self._send(req, reply)

    # ---- observation ----

    def named(self, name, coll=None):
        """The recorded commands called name (on collection coll)."""
        with self.cond:
            return [c for c in self.commands if c["name"] == name.lower() and
                    (coll is None or c["doc"].get(name) == coll)]

    def held_count(self, name=None):
        with self.cond:
            return sum(1 for r in self.held if name is None or _name(r) == name.lower())

    def wait_for(self, pred, what, timeout=TIMEOUT):
        """Wait until pred(self) (called with the lock held) is true."""
        with self.cond:
            if not self.cond.wait_for(lambda: pred(self), timeout):
                raise AssertionError("mongo fixture: timed out waiting for %s; commands: %s"
                                     % (what, [c["name"] for c in self.commands][-20:]))

    def count_locked(self, name, coll=None):
        return sum(1 for c in self.commands if c["name"] == name and
                   (coll is None or c["doc"].get(name) == coll))

    # ---- the handler (mockupdb's connection threads) ----

    def _handle(self, request):
        try:
            name = _name(request)
            if name is None:
                return False
            if name in HELLO:
                with self.cond:
                    self.hellos += 1
                    self.cond.notify_all()
                request.replies(self._hello())
                return True
            with self.cond:
                self.commands.append({"name": name, "db": request.namespace,
                                      "doc": dict(request.doc)})
                self.cond.notify_all()
                if self.stalled is not None and (not self.stalled or name in self.stalled):
                    self.held.append(request)
                    return True
                reply = self._reply_locked(request)
            self._send(request, reply)
        except Exception as e:  # a fixture bug: report it to the test
            with self.cond:
                self.errors.append(traceback.format_exc())
            try:
                request.command_err(8, "fixture error: %r" % (e,))
            except OSError:
                pass
        return True

    @staticmethod
    def _send(request, reply):
        try:
            request.replies(reply)
        except OSError:
            pass  # the client hung up (socket timeout): nothing to answer

    def _hello(self):
        me = "127.0.0.1:%d" % self.port
        doc = {"ismaster": True, "isWritablePrimary": True, "helloOk": True,
               "maxBsonObjectSize": 16 * 1024 * 1024, "maxMessageSizeBytes": 48000000,
               "maxWriteBatchSize": 100000,
               "localTime": datetime.datetime.now(datetime.timezone.utc),
               "minWireVersion": 0, "maxWireVersion": self.max_wire_version,
               "readOnly": False, "connectionId": next(self._conn_ids)}
        if self.topology == "mongos":
            doc["msg"] = "isdbgrid"
        elif self.topology == "rs":
            doc.update({"setName": "rs0", "hosts": [me], "me": me, "primary": me,
                        "setVersion": 1,
                        "electionId": ObjectId("7fffffff0000000000000001")})
        return doc

    def _reply_locked(self, request):
        """The reply document for a command (lock held)."""
        name = _name(request)
        doc = request.doc
        for f in self.failures:
            if f["times"] != 0 and f["command"] in (None, name):
                if f["times"] is not None:
                    f["times"] -= 1
                return {"ok": 0, "code": f["code"], "errmsg": f["errmsg"]}
        try:
            return self._run(name, request.namespace, doc)
        except CommandError as e:
            return {"ok": 0, "code": e.code, "errmsg": e.errmsg}

    def _cursor_reply(self, ns, docs, batch, key):
        first, rest = docs[:batch], docs[batch:]
        cid = 0
        if rest:
            cid = next(self._ids)
            self.cursors[cid] = [ns, rest]
        return {"cursor": {"id": Int64(cid), "ns": ns, key: first}, "ok": 1}

    def _run(self, name, db, doc):
        if name in ("ping", "endsessions"):
            return {"ok": 1}
        if name == "buildinfo":
            return {"version": "5.0.0", "versionArray": [5, 0, 0, 0], "ok": 1}
        if name == "find":
            coll = doc["find"]
            docs = [d for d in self.data.get((db, coll), []) if match(d, doc.get("filter"))]
            if doc.get("sort"):
                docs = sort_docs(docs, doc["sort"])
            docs = docs[int(doc.get("skip", 0)):]
            limit = abs(int(doc.get("limit", 0)))
            if limit:
                docs = docs[:limit]
            docs = [project(d, doc.get("projection")) for d in docs]
            batch = int(doc.get("batchSize") or self.batch_size)
            if doc.get("singleBatch"):
                docs = docs[:batch]
            return self._cursor_reply("%s.%s" % (db, coll), docs, batch, "firstBatch")
        if name == "getmore":
            cid = int(doc["getMore"])
            if cid not in self.cursors:
                raise CommandError(43, "cursor id %d not found" % cid)
            ns, rest = self.cursors[cid]
            batch = int(doc.get("batchSize") or self.batch_size)
            nxt, rest = rest[:batch], rest[batch:]
            if rest:
                self.cursors[cid][1] = rest
            else:
                del self.cursors[cid]
                cid = 0
            return {"cursor": {"id": Int64(cid), "ns": ns, "nextBatch": nxt}, "ok": 1}
        if name == "killcursors":
            ids = [int(i) for i in doc.get("cursors", [])]
            for i in ids:
                self.cursors.pop(i, None)
            self.killed.extend(ids)
            return {"cursorsKilled": ids, "cursorsNotFound": [], "cursorsAlive": [],
                    "cursorsUnknown": [], "ok": 1}
        if name == "aggregate":
            coll = doc["aggregate"]
            docs = run_pipeline(list(self.data.get((db, coll), [])), doc.get("pipeline", []))
            batch = int((doc.get("cursor") or {}).get("batchSize") or self.batch_size)
            return self._cursor_reply("%s.%s" % (db, coll), docs, batch, "firstBatch")
        if name == "count":
            coll = doc["count"]
            docs = [d for d in self.data.get((db, coll), []) if match(d, doc.get("query"))]
            docs = docs[int(doc.get("skip", 0)):]
            if doc.get("limit"):
                docs = docs[:abs(int(doc["limit"]))]
            return {"n": len(docs), "ok": 1}
        if name == "distinct":
            coll = doc["distinct"]
            values = []
            for d in self.data.get((db, coll), []):
                if not match(d, doc.get("query")):
                    continue
                v = get_path(d, doc["key"])
                for x in (v if isinstance(v, list) else [v]):
                    if x is not _MISSING and not any(_eq(x, y) for y in values):
                        values.append(x)
            return {"values": values, "ok": 1}
        raise CommandError(59, "no such command: '%s'" % name)


def _name(request):
    """The lower-case command name of a request, or None."""
    if not getattr(request, "is_command", False):
        return None
    n = request.command_name
    return n.lower() if n else None
