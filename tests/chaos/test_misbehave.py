"""Misbehaving children (issue 7): each breaks the IPC or process rules in
one way; muster must log, drop, or kill and restart it as SPEC §3 says,
while a healthy dummy in the same muster keeps answering and muster's own
fds and memory stay bounded."""
import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import (Muster, fd_count, free_port, http_get,  # noqa: E402
                        no_quarantine_env, rss_kb, service, TIMEOUT)


def bad(mode, **kw):
    kw.setdefault("routes", ["/bad"])
    kw.setdefault("env", {})
    kw["env"]["MISBEHAVE"] = mode
    return service("bad", ["misbehave_service"], **kw)


def dummy():
    return service("dummy", ["dummy_service"], routes=["/dummy"])


class MisbehaveTest(unittest.TestCase):

    def start(self, svc, **top):
        m = Muster([dummy(), svc], **top).start()
        try:
            m.seen_or_expect(r"dummy\[0\]: ready: ")
            m.seen_or_expect(r"bad\[0\]: ready: ")
        except BaseException:
            m.stop()  # the `with` is not entered yet: stop it here
            raise
        return m

    def assert_healthy(self, m):
        self.assertEqual(http_get(m, "/dummy/echo")[0], 200)
        self.assertIsNone(m.proc.poll(), "muster died")

    def test_a_few_invalid_lines_are_logged_and_dropped(self):
        with self.start(bad("junk_few")) as m:
            # (written raw, they may arrive before the library's `ready`)
            m.seen_or_expect(r"bad\[0\]: dropped invalid message: invalid JSON")
            m.seen_or_expect(r"bad\[0\]: dropped invalid message: unknown type \"nonsense\"")
            m.seen_or_expect(r"bad\[0\]: dropped invalid message: pong: field \"seq\" must be "
                             r"an integer")
            status, _, body = http_get(m, "/bad/x")  # still serving: not killed
            self.assertEqual(status, 404)
            self.assertNotIn("bad[0]: exit", m.log_text())
            self.assert_healthy(m)

    def test_flood_of_invalid_lines_marks_it_broken(self):
        with self.start(bad("garbage")) as m:
            m.expect(r"bad\[0\]: flood of invalid messages; killing")
            m.expect(r"bad\[0\]: exit: killed by signal 9")
            m.expect(r"bad\[0\]: spawn: ")  # restarted
            self.assert_healthy(m)

    def test_line_over_64_mib_marks_it_broken(self):
        # The line may come before its `ready`: do not wait for that. Under
        # ASan freed memory sits in a quarantine: turn it off for muster so
        # its RSS shows whether the 64 MiB buffer was really released.
        env = no_quarantine_env()
        with Muster([dummy(), bad("huge_line")]).start(extra_env=env) as m:
            m.seen_or_expect(r"dummy\[0\]: ready: ")
            before = rss_kb(m.proc.pid)
            m.expect(r"bad\[0\]: sent a line longer than 64 MiB; killing", timeout=TIMEOUT * 2)
            m.expect(r"bad\[0\]: exit: killed by signal 9")
            self.assert_healthy(m)
            # the partial line was released: muster holds no 64 MiB buffer
            self.assertLess(rss_kb(m.proc.pid) - before, 32 * 1024)

    def test_responses_for_unknown_ids_are_dropped(self):
        with self.start(bad("stray_ids")) as m:
            for _ in range(5):
                status, _, body = http_get(m, "/bad/x")
                self.assertEqual((status, body), (200, b"right"))
            self.assert_healthy(m)

    def test_second_response_for_one_id_is_dropped(self):
        with self.start(bad("double_reply")) as m:
            for _ in range(5):
                status, _, body = http_get(m, "/bad/x")
                self.assertEqual((status, body), (200, b"first"))
            self.assert_healthy(m)

    def test_stdout_flood_never_blocks_or_grows_muster(self):
        with self.start(bad("spam"), logs={"dir": "logs", "max_bytes": 1 << 20, "keep": 2}) as m:
            fds, rss = fd_count(m.proc.pid), rss_kb(m.proc.pid)
            log = os.path.join(m.dir, "logs", "bad.log")
            # wait for two rotations (an event we can see on disk)
            import time
            deadline = time.monotonic() + TIMEOUT
            while not os.path.exists(log + ".2") and time.monotonic() < deadline:
                self.assert_healthy(m)  # muster keeps answering meanwhile
            self.assertTrue(os.path.exists(log + ".2"), "log never rotated twice")
            self.assertFalse(os.path.exists(log + ".3"))
            self.assertLessEqual(fd_count(m.proc.pid), fds + 2)
            self.assertLess(rss_kb(m.proc.pid) - rss, 16 * 1024)

    def test_closed_channel_but_running_is_killed(self):
        with Muster([dummy(), bad("close_channel")]).start() as m:
            pid = m.spawned_pid("bad[0]")
            m.expect(r"bad\[0\]: closed its channel but kept running; killing")
            m.expect(r"bad\[0\]: exit: killed by signal 9")
            self.assertNotEqual(m.spawned_pid("bad[0]"), pid)
            self.assert_healthy(m)

    def test_ignores_sigterm_is_killed_at_stop_timeout(self):
        with self.start(bad("ignore_term", stop_timeout_ms=600)) as m:
            m.signal(signal.SIGTERM)
            self.assertEqual(m.wait(), 0)
            self.assertIn("bad[0]: still running 600 ms after the shutdown request; SIGKILL",
                          m.log_text())

    def test_invalid_response_is_a_502(self):
        with self.start(bad("bad_reply")) as m:
            for kind in ("status", "name", "value"):
                self.assertEqual(http_get(m, "/bad/x?kind=" + kind)[0], 502, kind)
            self.assert_healthy(m)


if __name__ == "__main__":
    unittest.main()
