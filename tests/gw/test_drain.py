"""Health and drain for load balancers (SPEC §10): /livez, /readyz (and
/healthz) on the gateway and the admin listener; `musterctl drain` /
`undrain`; SIGTERM with gateway.drain_delay_ms; WebSocket clients told
1001 when the gateway stops accepting."""
import asyncio
import json
import os
import signal
import socket
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "rt"))
from gwtest import GatewayCase, ctl, dummy, free_port, gw, wait_ready  # noqa: E402
from musterproc import Muster, TIMEOUT, gateway_addr, http_get  # noqa: E402


class HealthTest(GatewayCase):

    def test_livez_and_readyz_on_both_listeners(self):
        admin = "127.0.0.1:%d" % free_port()
        svcs = [dummy(), dummy("late", env={"DUMMY_NO_READY": "1"}, ready_timeout_ms=60000)]
        with Muster(svcs, admin={"listen": admin}).start() as m:
            wait_ready(m, "dummy")
            host, port = admin.split(":")
            for addr in (None, (host, int(port))):
                status, _, body = http_get(m, "/livez", addr=addr)
                self.assertEqual((status, json.loads(body)["status"]), (200, "live"))
                for path in ("/readyz", "/healthz"):
                    status, _, body = http_get(m, path, addr=addr)
                    doc = json.loads(body)
                    self.assertEqual(status, 503, (path, doc))
                    self.assertEqual(doc["services"], {"dummy": "running", "late": "starting"})


class DrainTest(GatewayCase):

    def refused(self, m):
        try:
            socket.create_connection(gateway_addr(m), timeout=TIMEOUT).close()
            return False
        except ConnectionRefusedError:
            return True

    def test_drain_then_undrain(self):
        with Muster([dummy()], gateway=gw(drain_delay_ms=300)).start() as m:
            wait_ready(m, "dummy")
            kept = self.client(m)
            kept.request("GET", "/dummy/echo")
            self.assertEqual(self.read(kept).status, 200)
            self.assertTrue(ctl(m, cmd="drain")["ok"])
            status, _, body = http_get(m, "/readyz")
            self.assertEqual((status, json.loads(body)["status"]), (503, "draining"))
            self.assertFalse(ctl(m, cmd="drain")["ok"])  # already
            kept.request("GET", "/dummy/echo")  # still served, but told to go
            r = self.read(kept)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.header("connection"), "close")
            m.expect(r"drain: the gateway stopped accepting")
            self.assertTrue(self.refused(m))
            self.assertTrue(ctl(m, cmd="undrain")["ok"])
            m.expect(r"undrain: the gateway accepts again")
            status, _, _ = http_get(m, "/readyz")
            self.assertEqual(status, 200)
            self.assertFalse(ctl(m, cmd="undrain")["ok"])  # not draining

    def test_sigterm_drains_first(self):
        with Muster([dummy()], gateway=gw(drain_delay_ms=400)).start() as m:
            wait_ready(m, "dummy")
            m.signal(signal.SIGTERM)
            m.expect(r"draining for 400 ms before stopping")
            status, headers, _ = http_get(m, "/dummy/echo")  # still serving
            self.assertEqual(status, 200)
            self.assertEqual(headers.get("connection"), "close")
            self.assertEqual(http_get(m, "/readyz")[0], 503)
            m.expect(r"shutting down: stopping")
            self.assertEqual(m.wait(), 0)

    def test_websockets_get_1001_when_the_drain_closes(self):
        from rtlib import closed_code, url, websockets, ws_svc
        with Muster([ws_svc()], gateway=gw(drain_delay_ms=100)).start() as m:
            wait_ready(m, "chat")

            async def go():
                async with websockets.connect(url(m, "/chat/ws")) as a:
                    await a.send("echo:x")
                    self.assertEqual(await asyncio.wait_for(a.recv(), TIMEOUT), "x")
                    self.assertTrue(ctl(m, cmd="drain")["ok"])
                    self.assertEqual((await closed_code(a))[0], 1001)
            asyncio.run(asyncio.wait_for(go(), TIMEOUT))


if __name__ == "__main__":
    unittest.main()
