"""Programs written for other hosts, and what belongs to a process (SPEC §3):
a PM2 program's `process.send('ready')`, NODE_APP_INSTANCE, and
subscriptions that end with the process that made them."""
import json
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import Muster, SRC, http_get, service, TIMEOUT  # noqa: E402

NODE = os.environ.get("MUSTER_NODE") or "node"
PM2_APP = os.path.join(SRC, "tests", "helpers", "pm2_app.js")


def get_json(m, path):
    status, _, body = http_get(m, path)
    return status, json.loads(body)


class Pm2ProgramTest(unittest.TestCase):

    def test_bare_ready_string_counts_as_ready(self):
        svc = service("pm2", [NODE, PM2_APP], instances=2, routes=["/pm2"])
        with Muster([svc]).start() as m:
            m.expect(r"pm2\[0\]: ready: ", TIMEOUT)
            m.seen_or_expect(r"pm2\[1\]: ready: ", TIMEOUT)
            self.assertNotIn("dropped invalid message", m.log_text())
            seen = set()
            for _ in range(8):  # balanced over both: each reports its own index
                status, doc = get_json(m, "/pm2/x")
                self.assertEqual(status, 200)
                self.assertEqual(doc["node_app_instance"], doc["muster_instance"], doc)
                seen.add(doc["node_app_instance"])
            self.assertEqual(seen, {"0", "1"})

    def test_node_app_instance_for_every_service(self):
        svc = service("dummy", ["dummy_service"], instances=1, routes=["/dummy"],
                      env={"GREETING": "x"})
        with Muster([svc]).start() as m:
            m.expect(r"dummy\[0\]: spawn: spawned pid (\d+)")
            pid = int(m.seen_or_expect(r"dummy\[0\]: spawn: spawned pid (\d+)").group(1))
            m.seen_or_expect(r"dummy\[0\]: ready: ")
            with open("/proc/%d/environ" % pid, "rb") as f:
                env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
            self.assertEqual(env.get(b"NODE_APP_INSTANCE"), b"0")
            self.assertEqual(env.get(b"MUSTER_INSTANCE"), b"0")


class SubscriptionLifetimeTest(unittest.TestCase):

    def test_restarted_instance_starts_without_subscriptions(self):
        svc = service("dummy", ["dummy_service"], instances=1, routes=["/dummy"])
        with Muster([svc]).start() as m:
            pid = int(m.expect(r"dummy\[0\]: spawn: spawned pid (\d+)").group(1))
            m.ready("dummy[0]")
            self.assertEqual(get_json(m, "/dummy/subscribe?topic=news")[0], 200)
            # publish -> message -> the answer, all on one channel, in order:
            # by the time /messages is asked, a delivered message is there.
            self.assertEqual(get_json(m, "/dummy/publish?topic=news")[0], 200)
            _, doc = get_json(m, "/dummy/messages")
            self.assertEqual([x["topic"] for x in doc["messages"]], ["news"])
            os.kill(pid, signal.SIGKILL)
            m.expect(r"dummy\[0\]: exit: killed by signal 9")
            m.ready("dummy[0]")
            self.assertEqual(get_json(m, "/dummy/publish?topic=news")[0], 200)
            _, doc = get_json(m, "/dummy/messages")
            self.assertEqual(doc["messages"], [], "the new process never subscribed")
            # ... and it can subscribe for itself.
            self.assertEqual(get_json(m, "/dummy/subscribe?topic=news")[0], 200)
            self.assertEqual(get_json(m, "/dummy/publish?topic=news")[0], 200)
            _, doc = get_json(m, "/dummy/messages")
            self.assertEqual([x["topic"] for x in doc["messages"]], ["news"])


if __name__ == "__main__":
    unittest.main()
