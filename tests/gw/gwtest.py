"""Shared pieces of the gateway integration tests (test_gateway.py,
test_smuggling.py): config builders, readiness waits, and the checks every
response must pass (SPEC §4: content-length or chunked, x-request-id, JSON
error bodies)."""
import json
import os
import re
import shutil
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, HERE)

from musterproc import bin_path, ctl, free_port, gateway_addr, service, TIMEOUT  # noqa: E402,F401
from httpclient import RawClient  # noqa: E402


def dummy(name="dummy", instances=1, **kw):
    """A dummy_service entry routed on /NAME unless routes are given."""
    kw.setdefault("routes", ["/" + name])
    return service(name, ["dummy_service"], instances=instances, **kw)


def gw(**kw):
    """A gateway section on a free port with the given settings."""
    g = {"listen": "127.0.0.1:%d" % free_port()}
    g.update(kw)
    return g


def wait_gateway(m):
    m.seen_or_expect(r"gateway: listening on ")


def wait_ready(m, name, n=1):
    """Waits for instances 0..n-1 of service name to be ready; returns
    {index: pid} of their first spawn."""
    wait_gateway(m)
    pids = {}
    for i in range(n):
        label = re.escape("%s[%d]" % (name, i))
        pids[i] = int(m.seen_or_expect(label + r": spawn: spawned pid (\d+)").group(1))
        m.seen_or_expect(label + r": ready: ")
    return pids


def check_refused(case, m, want, what=None):
    """muster --check refuses the config of m (written here; m never
    started, its directory removed when case ends) and says want."""
    case.addCleanup(shutil.rmtree, m.dir, True)
    m.write_config()
    p = subprocess.run([bin_path("muster"), "--check", "-c", m.config_path],
                       capture_output=True, text=True, timeout=TIMEOUT)
    case.assertEqual(p.returncode, 1, (what, p.stdout, p.stderr))
    case.assertIn(want, p.stderr, what)


def service_requests(m, name):
    """Total `requests` counter of service name's instances (control status)."""
    r = ctl(m, cmd="status", service=name)
    assert r.get("ok"), r
    return sum(i["requests"] for i in r["services"][0]["instances"])


class GatewayCase(unittest.TestCase):
    """Base class: request helpers that check SPEC §4's invariants on every
    response they return."""

    def client(self, m, timeout=TIMEOUT, source=None):
        c = RawClient(gateway_addr(m), timeout, source=source)
        self.addCleanup(c.close)
        return c

    def check_common(self, r, what="", error_json=True):
        """Every final response: content-length or chunked (not both; a 204
        or 304 may have neither), a non-empty x-request-id; errors (>= 400) are
        JSON objects with a string "error" (error_json=False: the status
        and body are a service's own, not the gateway's)."""
        if r.status < 200:
            return
        ctx = "%s %r" % (what, r)
        has_cl = bool(r.headers_all("content-length"))
        te = (r.header("transfer-encoding") or "").lower()
        if r.status not in (204, 304):  # neither has a body (RFC 9110 §15.4.5)
            self.assertTrue(has_cl or te == "chunked",
                            "response without content-length or chunked encoding: " + ctx)
        self.assertFalse(has_cl and te, "response with both content-length and "
                         "transfer-encoding: " + ctx)
        self.assertTrue((r.header("x-request-id") or "").strip(), "no x-request-id: " + ctx)
        if error_json and r.status >= 400:
            self.assertTrue(r.body, "error without a body: " + ctx)
            self.assertTrue((r.header("content-type") or "").startswith("application/json"),
                            "error without content-type application/json: " + ctx)
            try:
                doc = json.loads(r.body)
            except ValueError:
                self.fail("error body is not JSON: " + ctx)
            self.assertIsInstance(doc, dict, ctx)
            self.assertIsInstance(doc.get("error"), str, "no string \"error\": " + ctx)

    def read(self, c, what="", **kw):
        r = c.read_response(**kw)
        self.check_common(r, what)
        return r

    def send_read(self, m, data, **kw):
        """One raw request on a fresh connection; the checked response."""
        c = self.client(m)
        c.send(data)
        r = self.read(c, what=repr(data[:200]), **kw)
        c.close()
        return r

    def get(self, m, path, headers=(), method="GET", body=None, host="t"):
        c = self.client(m)
        c.request(method, path, headers=headers, body=body, host=host)
        r = self.read(c, what="%s %s" % (method, path), head_only=(method == "HEAD"))
        c.close()
        return r

    def assert_closed(self, c, what, timeout=TIMEOUT):
        closed, extra = c.wait_closed(timeout)
        self.assertEqual(extra, b"", "%s: bytes after the response: %r" % (what, extra[:300]))
        self.assertTrue(closed, "%s: the server did not close the connection within %.0f s"
                        % (what, timeout))
