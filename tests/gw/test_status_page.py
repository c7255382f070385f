"""The admin listener's status page without a browser (SPEC §11): the
HTML muster sends for `/` already shows every service and instance as the
control `status` reply has them, with what varies (route prefixes) escaped;
`/status.json` is that reply; HEAD works; the page names no external URL.
The page in a browser: test_status_browser.py."""
import html.parser
import http.client
import json
import os
import re
import signal
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import Muster, ctl, free_port, http_get, service, TIMEOUT  # noqa: E402

ODD_ROUTE = "/odd<b>&\"'"   # route prefixes may hold what HTML must escape


def config():
    return [service("dummy", ["dummy_service"], instances=2, routes=["/dummy", ODD_ROUTE]),
            service("other.svc", ["dummy_service"], instances=1,
                    routes=[{"prefix": "/o", "host": "example.test"}])]


class Page(html.parser.HTMLParser):
    """What a reader of the page sees: sections, rows, cell texts."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.sections = {}   # name -> {"state", "routes", "kv": {dt: dd}}
        self.rows = []       # {"svc", "index", "pid", "state", "cells": {label: text}}
        self.attrs_seen = []  # every (tag, attribute, value)
        self.tags = []
        self._text = None     # (where, key) the text being collected goes to
        self._buf = ""
        self._svc = None
        self._dt = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        self.attrs_seen += [(tag, k, v) for k, v in attrs]
        if tag == "section" and "data-svc" in a:
            self._svc = self.sections[a["data-svc"]] = {"state": a["data-state"], "kv": {},
                                                        "routes": None, "tags": []}
        elif tag == "tr" and "data-svc" in a:
            self.rows.append({"svc": a["data-svc"], "index": int(a["data-index"]),
                              "pid": int(a["data-pid"]), "state": a["data-state"], "cells": {}})
        elif tag == "td" and "data-l" in a and self.rows:
            self._collect(("cell", a["data-l"]))
        elif tag == "span" and a.get("class") == "routes":
            self._collect(("routes", None))
        elif tag in ("dt", "dd") and self._svc is not None:
            self._collect((tag, None))
        elif self._text and self._text[0] == "routes":
            self._svc["tags"].append(tag)

    def _collect(self, where):
        self._text, self._buf = where, ""

    def handle_data(self, data):
        if self._text:
            self._buf += data

    def handle_endtag(self, tag):
        if self._text is None:
            return
        kind, key = self._text
        if kind == "cell" and tag == "td":
            self.rows[-1]["cells"][key] = self._buf.strip()
        elif kind == "routes" and tag == "span":
            self._svc["routes"] = self._buf
        elif kind == "dt" and tag == "dt":
            self._dt = self._buf.strip()
        elif kind == "dd" and tag == "dd":
            self._svc["kv"][self._dt] = self._buf.strip()
        else:
            return
        self._text = None


def volatile_free(status):
    """The status reply without what changes from one reading to the next."""
    for s in status["services"]:
        for i in s["instances"]:
            for k in ("uptime_ms", "rss_bytes", "cpu_percent"):
                i.pop(k)
    return status


class StatusPageTest(unittest.TestCase):

    def setUp(self):
        self.admin = ("127.0.0.1", free_port())
        self.m = Muster(config(), admin={"listen": "%s:%d" % self.admin}).start()
        self.addCleanup(self.m.stop)
        for label in ("dummy[0]", "dummy[1]", "other.svc[0]"):
            self.m.seen_or_expect(re.escape(label) + r": ready: ")
        self.m.seen_or_expect(r"admin: listening on ")

    def get(self, path):
        return http_get(self.m, path, addr=self.admin)

    def page(self):
        status, headers, body = self.get("/")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "text/html; charset=utf-8")
        p = Page()
        p.feed(body.decode())
        p.close()
        return p, body.decode(), headers

    def test_page_shows_services_and_instances_as_status_does(self):
        for _ in range(3):
            self.assertEqual(http_get(self.m, "/dummy/echo")[0], 200)
        p, text, _ = self.page()
        st = ctl(self.m, cmd="status")
        self.assertEqual(sorted(p.sections), ["dummy", "other.svc"])
        want = [(s["name"], i["index"], i["pid"], i["state"])
                for s in st["services"] for i in s["instances"]]
        got = [(r["svc"], r["index"], r["pid"], r["state"]) for r in p.rows]
        self.assertEqual(got, want)
        for s in st["services"]:
            self.assertEqual(p.sections[s["name"]]["state"], s["state"])
        for r in p.rows:
            self.assertEqual(r["cells"]["state"], "ready")
            self.assertEqual(r["cells"]["pid"], str(r["pid"]))
            self.assertEqual(r["cells"]["last exit"], "\u2013")
            self.assertRegex(r["cells"]["RSS"], r"^\d+\.\d (KiB|MiB)$")
            self.assertRegex(r["cells"]["uptime"], r"^\d+(s|m \d+s)$")
        d = p.sections["dummy"]["kv"]
        self.assertEqual(d["instances"], "2/2 ready")
        self.assertEqual(d["requests"], "3")
        self.assertIn("p99", text)                       # the histogram is drawn
        self.assertEqual(len(re.findall(r'<i style="height:\d+%"', text)), 14)
        self.assertIn("no requests yet", text)           # other.svc had none

    def test_route_prefixes_are_escaped(self):
        p, text, _ = self.page()
        self.assertEqual(p.sections["dummy"]["routes"], "/dummy, " + ODD_ROUTE)
        self.assertEqual(p.sections["dummy"]["tags"], [])   # no <b> made of the route
        self.assertIn("/odd&lt;b&gt;&amp;&quot;&#39;", text)
        self.assertNotIn("<b>&", text)
        self.assertEqual(p.sections["other.svc"]["routes"], "example.test/o")

    def test_no_external_url_and_a_strict_policy(self):
        p, text, headers = self.page()
        for bad in ("http://", "https://", "//", "@import"):
            self.assertNotIn(bad, text)
        for tag, attr, value in p.attrs_seen:
            if attr in ("src", "href", "action", "srcset", "poster", "data"):
                self.assertTrue(value.startswith("data:"), (tag, attr, value))
        self.assertNotIn("script", [t for t, a, v in p.attrs_seen if a == "src"])
        self.assertNotRegex(text, r"url\((?!data:)")
        csp = headers["content-security-policy"]
        self.assertIn("default-src 'none'", csp)
        self.assertIn("connect-src 'self'", csp)
        self.assertEqual(headers["cache-control"], "no-store")

    def test_status_json_is_the_control_status_reply(self):
        http_get(self.m, "/dummy/echo")
        status, headers, body = self.get("/status.json")
        self.assertEqual(status, 200)
        self.assertEqual(headers["content-type"], "application/json")
        mine = json.loads(body)
        theirs = ctl(self.m, cmd="status")
        self.assertEqual(set(mine["services"][0]["instances"][0]),
                         set(theirs["services"][0]["instances"][0]))
        self.assertEqual(volatile_free(mine), volatile_free(theirs))

    def test_head_and_other_methods_and_paths(self):
        c = http.client.HTTPConnection(*self.admin, timeout=TIMEOUT)
        try:
            for path in ("/", "/status.json"):
                c.request("HEAD", path)
                r = c.getresponse()
                self.assertEqual(r.status, 200)
                self.assertGreater(int(r.getheader("content-length")), 0)
                self.assertEqual(r.read(), b"")
            c.request("POST", "/", body=b"x")
            r = c.getresponse()
            self.assertEqual(r.status, 405)
            self.assertEqual(r.getheader("allow"), "GET, HEAD")
            r.read()
            c.request("GET", "/nope")
            r = c.getresponse()
            self.assertEqual(r.status, 404)
            self.assertIn("/, /status.json, /healthz, /livez, /readyz, /metrics, /events",
                          json.loads(r.read())["error"])
        finally:
            c.close()
        self.assertEqual(self.get("/?x=1")[0], 200)   # a query does not change the path
        # never on the public port
        self.assertEqual(http_get(self.m, "/status.json")[0], 404)

    def test_a_killed_instance_shows_its_last_exit(self):
        pid = [r for r in self.page()[0].rows if r["svc"] == "dummy" and r["index"] == 0][0]["pid"]
        os.kill(pid, signal.SIGKILL)
        self.m.expect(r"dummy\[0\]: exit: killed by signal 9")
        self.m.expect(r"dummy\[0\]: ready: ")
        row = [r for r in self.page()[0].rows if r["svc"] == "dummy" and r["index"] == 0][0]
        self.assertNotEqual(row["pid"], pid)
        self.assertEqual(row["state"], "ready")
        self.assertEqual(row["cells"]["last exit"], "SIGKILL")
        self.assertEqual(row["cells"]["restarts"], "1")


class UpstreamAddressTest(unittest.TestCase):
    def test_an_upstream_service_has_an_address_column(self):
        # where each instance listens, as status.json's "address"; a
        # service without addresses (an IPC one) has no such column
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "up"))
        from uplib import up_svc
        admin = ("127.0.0.1", free_port())
        web = up_svc("web", 2, routes=["/web"])
        with Muster([web, service("dummy", ["dummy_service"], routes=["/dummy"])],
                    admin={"listen": "%s:%d" % admin}).start() as m:
            for label in ("web[0]", "web[1]", "dummy[0]"):
                m.seen_or_expect(re.escape(label) + r": ready: ")
            status, _, body = http_get(m, "/", addr=admin)
            self.assertEqual(status, 200)
            p = Page()
            p.feed(body.decode())
            p.close()
            base = web["upstream"]["port"]
            self.assertEqual([(r["svc"], r["cells"].get("address")) for r in p.rows],
                             [("web", "127.0.0.1:%d" % base), ("web", "127.0.0.1:%d" % (base + 1)),
                              ("dummy", None)])
            served = body.decode().split("<script")[0]  # (the script has its own copy)
            self.assertEqual(served.count("<th>address</th>"), 1)


if __name__ == "__main__":
    unittest.main()
