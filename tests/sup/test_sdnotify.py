"""services[].ready and upstream.ready "notify": programs written for
systemd's Type=notify, hosted as systemd hosts them. Each process gets a
NOTIFY_SOCKET of its own (no channel); READY=1 makes it ready, STATUS=
shows in `status`, EXTEND_TIMEOUT_USEC= moves the deadline, WATCHDOG=1
feeds the watchdog of watchdog_ms (WATCHDOG_USEC), WATCHDOG=trigger is a
hang. The program is tests/helpers/sd_notify_prog.py, which speaks
sd_notify(3) by hand; every wait is on a line of muster's log, of the
program's output, or on a state `status` reports."""
import os
import re
import shutil
import socket
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
sys.path.insert(0, os.path.join(HERE, "..", "up"))
from musterproc import (SRC, TIMEOUT, Muster, bin_path, ctl, http_get, poll_until,  # noqa: E402
                        service)
from uplib import free_ports  # noqa: E402

PROG = os.path.join(SRC, "tests", "helpers", "sd_notify_prog.py")


def prog(name, *steps, **kw):
    return service(name, [sys.executable, PROG] + list(steps), **kw)


def output(m, name):
    return "\n".join(ctl(m, cmd="logs", service=name, lines=200)["lines"])


def output_has(m, name, pattern):
    """The match of pattern in the service's output, once it is there."""
    return poll_until(lambda: re.search(pattern, output(m, name)), what="/%s/ in %s's output"
                      % (pattern, name))


def instance(m, name):
    return ctl(m, cmd="status", service=name)["services"][0]["instances"][0]


class NotifyTest(unittest.TestCase):

    def test_ready_by_READY_1_with_status_and_a_longer_deadline(self):
        # ready_timeout_ms is 1 s, but EXTEND_TIMEOUT_USEC asks for 30 s:
        # the program is past its first second (it slept 1.2 s) when the
        # test looks, and still starting. Its dependent waits for READY=1.
        go = "GO"
        svcs = [prog("n", "env", "send", "STATUS=warming up\\nEXTEND_TIMEOUT_USEC=30000000",
                     "sleep", "1.2", "until", go, "send", "READY=1\\nSTATUS=serving", "wait",
                     ready="notify", ready_timeout_ms=1000),
                service("after", ["sleep", "600"], ready="running", depends_on=["n"])]
        m = Muster(svcs)
        with m.start():
            env = output_has(m, "n", r"NOTIFY_SOCKET=(\S+) WATCHDOG_USEC=(\S+) fd3=(\w+)")
            self.assertRegex(env.group(1), r"^@\w+$")  # the abstract namespace, as systemd's
            self.assertEqual(env.group(2), "-")        # no watchdog_ms: no WATCHDOG_USEC
            self.assertEqual(env.group(3), "closed")   # no channel
            output_has(m, "n", r"step: until")
            i = instance(m, "n")
            self.assertEqual((i["state"], i.get("status_text")), ("starting", "warming up"))
            self.assertNotIn("after[0]: spawn", m.log_text())
            open(os.path.join(m.dir, go), "w").close()
            m.expect(r"n\[0\]: ready: ready in \d+ ms")
            m.expect(r"after\[0\]: spawn: ")
            poll_until(lambda: instance(m, "n").get("status_text") == "serving",
                       what="STATUS=serving in status")
            self.assertNotRegex(m.log_text(), r"n\[0\]: (exit|.*killing)")
            self.assertTrue(ctl(m, cmd="stop", service="n")["ok"])
            m.expect(r"n\[0\]: exit: exited with code 0")

    def test_no_READY_1_is_a_failed_start_that_names_the_socket(self):
        m = Muster([prog("n", "wait", ready="notify", ready_timeout_ms=300,
                         restart={"policy": "never"})])
        with m.start():
            m.expect(r"n\[0\]: no READY=1 on its NOTIFY_SOCKET within 300 ms; killing")
            m.expect(r"n\[0\]: exit: killed by signal 9")

    def test_the_watchdog_kills_a_program_that_stops_feeding_it(self):
        # watchdog_ms 1000: WATCHDOG=1 every 250 ms for 6 beats keeps it (a
        # loaded machine may stretch a gap a lot before it counts), silence
        # then is a hang. WATCHDOG=trigger is one at once.
        m = Muster([prog("w", "env", "send", "READY=1", "beat", "6", "send", "STATUS=quiet",
                         "wait", ready="notify", watchdog_ms=1000, restart={"policy": "never"}),
                    prog("t", "send", "READY=1", "until", "TRIGGER", "send", "WATCHDOG=trigger",
                         "wait", ready="notify", restart={"policy": "never"})])
        with m.start():
            self.assertEqual(output_has(m, "w", r"WATCHDOG_USEC=(\d+)").group(1), "1000000")
            m.expect(r"w\[0\]: ready: ")
            m.expect(r"w\[0\]: no WATCHDOG=1 within 1000 ms \(hung\); killing")
            # not before the beats ended: STATUS=quiet came after the last one
            self.assertIn("step: wait", output(m, "w"))
            m.seen_or_expect(r"t\[0\]: ready: ")
            open(os.path.join(m.dir, "TRIGGER"), "w").close()
            m.expect(r"t\[0\]: sent WATCHDOG=trigger; killing")

    def test_bad_datagrams_are_refused_and_a_child_may_send(self):
        # Too long, a NUL byte, another uid (as root): refused, logged, not
        # ready. Descriptors sent along are closed. Then READY=1 from a
        # child that exits at once, as `systemd-notify --ready` does, counts.
        steps = ["big", "nul"]
        if os.geteuid() == 0:
            steps += ["asuser", "READY=1"]
        steps += ["fds", "STATUS=fds sent", "send", "BOGUS\\nREADY=yes\\nSTATUS=checked",
                  "until", "GO", "child", "READY=1", "wait"]
        m = Muster([prog("n", *steps, ready="notify", ready_timeout_ms=60000)])
        with m.start():
            poll_until(lambda: instance(m, "n").get("status_text") == "checked",
                       what="STATUS=checked")
            self.assertEqual(instance(m, "n")["state"], "starting")
            refused = r"n\[0\]: NOTIFY_SOCKET message refused: "
            m.seen_or_expect(refused + "longer than 4096 bytes")
            m.seen_or_expect(refused + "a message with a NUL byte")
            if os.geteuid() == 0:
                m.seen_or_expect(refused + r"sent by uid 65534, not the instance's \(0\)")
            m.seen_or_expect(r'n\[0\]: NOTIFY_SOCKET: 2 assignments ignored, the first "BOGUS"')
            pipe = re.search(r"pipe:\[\d+\]", output(m, "n")).group(0)
            fds = os.listdir("/proc/%d/fd" % m.proc.pid)
            links = [os.readlink("/proc/%d/fd/%s" % (m.proc.pid, fd)) for fd in fds
                     if os.path.exists("/proc/%d/fd/%s" % (m.proc.pid, fd))]
            self.assertNotIn(pipe, links)
            open(os.path.join(m.dir, "GO"), "w").close()
            m.expect(r"n\[0\]: ready: ")
            self.assertTrue(ctl(m, cmd="status", service="n")["ok"])


class LibsystemdTest(unittest.TestCase):
    """The clients people use, against muster's socket: libsystemd's
    sd_notify (python3-systemd) and the systemd-notify command."""

    def test_libsystemd_and_systemd_notify_are_understood(self):
        lib = ("from systemd import daemon; import time; "
               "assert daemon.notify('STATUS=from libsystemd\\nREADY=1'); time.sleep(600)")
        svcs = [service("lib", ["/usr/bin/python3", "-c", lib], ready="notify")]
        tool = shutil.which("systemd-notify")
        if tool:  # the systemd package; not every machine has it
            svcs.append(service("tool", ["sh", "-c", '%s --status="from the tool" && '
                                         '%s --ready && exec sleep 600' % (tool, tool)],
                                ready="notify"))
        m = Muster(svcs)
        with m.start():
            m.seen_or_expect(r"lib\[0\]: ready: ")
            self.assertEqual(instance(m, "lib").get("status_text"), "from libsystemd")
            if tool:
                m.seen_or_expect(r"tool\[0\]: ready: ")
                self.assertEqual(instance(m, "tool").get("status_text"), "from the tool")
            self.assertNotIn("refused", m.log_text())


class ExampleTest(unittest.TestCase):
    """services/examples/notify_indexer.py, as config/examples/notify.json
    hosts it: plain Python, written for Type=notify."""

    def test_the_indexer_example_runs_unmodified(self):
        app = os.path.join(SRC, "services", "examples", "notify_indexer.py")
        m = Muster([service("indexer", [sys.executable, app], ready="notify", watchdog_ms=2000,
                            ready_timeout_ms=60000)])
        out = os.path.join(m.dir, "index.count")
        m.config["services"][0]["env"] = {"INDEX_DIR": os.path.join(SRC, "docs"),
                                          "INDEX_OUT": out}
        m.write_config()
        with m.start():
            m.expect(r"indexer\[0\]: ready: ")
            text = poll_until(lambda: instance(m, "indexer").get("status_text"),
                              what="its STATUS=")
            self.assertRegex(text, r"^\d+ words from \d+ files$")
            poll_until(lambda: os.path.exists(out), what="the index count")
            with open(out) as f:
                self.assertEqual(f.read().strip(), text.split()[0])
            self.assertTrue(ctl(m, cmd="stop", service="indexer")["ok"])
            m.expect(r"indexer\[0\]: exit: exited with code 0")
            self.assertIn("indexer: stopped", output(m, "indexer"))
            self.assertNotIn("WATCHDOG", m.log_text())

    def test_the_example_config_checks(self):
        path = os.path.join(SRC, "config", "examples", "notify.json")
        r = subprocess.run([bin_path("muster"), "--check", "-c", path], capture_output=True,
                           text=True, timeout=TIMEOUT)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "config ok"), r.stderr)


class UpstreamNotifyTest(unittest.TestCase):

    def test_an_upstream_is_ready_by_READY_1_not_by_its_open_port(self):
        port = free_ports(1)
        s = prog("web", "serve", "until", "GO", "send", "READY=1", "wait", routes=["/"])
        s["upstream"] = {"port": port, "ready": "notify"}
        m = Muster([s])
        with m.start():
            output_has(m, "web", r"step: until")
            socket.create_connection(("127.0.0.1", port), timeout=5).close()  # it accepts
            self.assertEqual(instance(m, "web")["state"], "starting")
            open(os.path.join(m.dir, "GO"), "w").close()
            m.expect(r"web\[0\]: ready: ")
            status, _, body = http_get(m, "/x")
            self.assertEqual((status, body.decode()),
                             (200, "notify %d\n" % instance(m, "web")["pid"]))


if __name__ == "__main__":
    unittest.main()
