"""gateway.rate_limit (gw_ratelimit, gw_bucket): each client may send
`burst` requests at once and `rate` a second after that; one more is a
429 with retry-after on a connection that stays open. The client is the
one trusted proxies name; exempt blocks and the health path are never
limited; a reload keeps the buckets. Real muster, raw sockets; the rates
are slow enough (one token a minute) that no refill happens during a
test, so nothing depends on the machine's speed."""
import os
import re
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gwtest import GatewayCase, check_refused, dummy, wait_ready  # noqa: E402
from musterproc import (Muster, TIMEOUT, ctl, free_port,  # noqa: E402
                        gateway_addr, http_get)

SLOW = 1 / 60  # a token a minute


class RateLimitCase(GatewayCase):

    def limited_muster(self, **limit):
        self.admin_port = free_port()
        m = Muster([dummy()], admin={"listen": "127.0.0.1:%d" % self.admin_port})
        m.config["gateway"]["rate_limit"] = limit
        m.config["gateway"]["trusted_proxies"] = ["127.0.0.2"]
        m.write_config()
        self.addCleanup(m.stop)
        m.start()
        wait_ready(m, "dummy")
        return m

    def metric(self, m, name):
        status, _, body = http_get(m, "/metrics", addr=("127.0.0.1", self.admin_port))
        self.assertEqual(status, 200)
        return int(re.search(r"\n%s (\d+)" % name, body.decode()).group(1))

    def statuses(self, m, n, headers=(), source=None):
        """The statuses of n requests on one keep-alive connection."""
        c = self.client(m, source=source)
        out = []
        for _ in range(n):
            c.request("GET", "/dummy/echo", headers=list(headers))
            out.append(self.read(c))
        return [r.status for r in out], out


class LimitTest(RateLimitCase):

    def test_burst_then_429_on_a_kept_connection(self):
        m = self.limited_muster(rate=SLOW, burst=3)
        codes, rs = self.statuses(m, 5)
        self.assertEqual(codes, [200, 200, 200, 429, 429])
        r = rs[3]
        self.assertIn(r.header("retry-after"), ("59", "60"))  # one token a minute
        self.assertIn("too many requests from 127.0.0.1", r.body.decode())
        self.assertNotEqual((r.header("connection") or "").lower(), "close")
        self.assertEqual(self.get(m, "/healthz").status, 200)  # probes are never limited
        self.assertEqual(self.metric(m, "muster_gateway_rate_limited_total"), 2)
        codes, _ = self.statuses(m, 1, source="127.0.0.3")  # another client: its own bucket
        self.assertEqual(codes, [200])

    def test_every_handler_and_protocol_counts_once(self):
        m = self.limited_muster(rate=SLOW, burst=4)
        host, port = gateway_addr(m)
        # a 404 (no route), a POST with a body, then HTTP/2: 4 requests
        self.assertEqual(self.get(m, "/none").status, 404)
        self.assertEqual(self.get(m, "/dummy/echo", method="POST", body=b"x" * 5000).status, 200)
        # (h2load, not curl: Debian's curl 7.88 fails on a reused h2c
        # connection, its bug #10634)
        out = subprocess.run(["h2load", "-n", "3", "-c", "1", "-m", "1",
                              "http://%s:%d/dummy/echo" % (host, port)],
                             capture_output=True, text=True, timeout=TIMEOUT).stdout
        self.assertIn("status codes: 2 2xx, 0 3xx, 1 4xx, 0 5xx", out)

    def test_the_client_behind_a_trusted_proxy(self):
        m = self.limited_muster(rate=SLOW, burst=2, exempt=["192.0.2.0/24"])
        fwd = [("x-forwarded-for", "198.51.100.7")]
        codes, rs = self.statuses(m, 3, headers=fwd, source="127.0.0.2")
        self.assertEqual(codes, [200, 200, 429])
        self.assertIn("from 198.51.100.7", rs[2].body.decode())
        codes, _ = self.statuses(m, 2, headers=[("x-forwarded-for", "198.51.100.8")],
                                 source="127.0.0.2")
        self.assertEqual(codes, [200, 200])  # the proxy itself is no client of its own
        codes, _ = self.statuses(m, 5, headers=[("x-forwarded-for", "192.0.2.9")],
                                 source="127.0.0.2")
        self.assertEqual(codes, [200] * 5)  # exempt
        codes, _ = self.statuses(m, 3, headers=fwd, source="127.0.0.4")  # not trusted: its own
        self.assertEqual(codes, [200, 200, 429])

    def test_reload_keeps_the_buckets_and_takes_new_rates(self):
        m = self.limited_muster(rate=SLOW, burst=2)
        self.assertEqual(self.statuses(m, 3)[0], [200, 200, 429])
        m.config["gateway"]["rate_limit"] = {"rate": SLOW, "burst": 3}
        m.write_config()
        self.assertTrue(ctl(m, cmd="reload").get("ok"))
        # the bucket was kept (empty): still refused until a token is back
        self.assertEqual(self.statuses(m, 1)[0], [429])
        m.config["gateway"]["rate_limit"] = None
        m.write_config()
        self.assertTrue(ctl(m, cmd="reload").get("ok"))
        self.assertEqual(self.statuses(m, 4)[0], [200] * 4)


class ConfigTest(unittest.TestCase):

    def test_problems_are_named(self):
        for limit, want in (({}, "gateway.rate_limit.rate: required"),
                            ({"rate": 0}, "gateway.rate_limit.rate: "),
                            ({"rate": 5, "burst": 1.5}, "gateway.rate_limit.burst: must be a whole"),
                            ({"rate": 5, "exempt": ["10.0.0.1/8"]},
                             "gateway.rate_limit.exempt[0]: "),
                            ({"rate": 5, "per": "minute"}, "gateway.rate_limit.per: unknown key")):
            m = Muster([])
            m.config["gateway"]["rate_limit"] = limit
            check_refused(self, m, want, limit)

if __name__ == "__main__":
    unittest.main()
