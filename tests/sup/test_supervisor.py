"""Integration tests of the supervisor (issue 3): the real muster binary on a
temp dir, real child processes, events awaited from muster's log."""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import Muster, bin_path, free_port, pid_alive, service, wait_pid_gone, TIMEOUT  # noqa: E402


def dummy(name="dummy", **kw):
    return service(name, ["dummy_service"], **kw)


class SupervisorTest(unittest.TestCase):

    def test_kill9_instance_is_replaced(self):
        with Muster([dummy(instances=2)]).start() as m:
            pids = {}
            for _ in range(2):
                mt = m.expect(r"dummy\[(\d)\]: spawn: spawned pid (\d+)")
                pids[int(mt.group(1))] = int(mt.group(2))
            m.seen_or_expect(r"dummy\[0\]: ready: ")
            m.seen_or_expect(r"dummy\[1\]: ready: ")
            os.kill(pids[1], signal.SIGKILL)
            m.expect(r"dummy\[1\]: exit: killed by signal 9")
            m.expect(r"dummy\[1\]: restart: restarting now")  # first restart: immediate
            new = m.spawned_pid("dummy[1]")
            self.assertNotEqual(new, pids[1])
            m.ready("dummy[1]")
            self.assertTrue(pid_alive(pids[0]), "the other instance was left alone")

    def test_crash_loop_fails_service_and_muster_survives(self):
        svcs = [service("loop", ["/bin/false"], restart={"backoff_initial_ms": 1,
                                                         "backoff_max_ms": 5,
                                                         "max_restarts": 3, "window_s": 60}),
                dummy()]
        with Muster(svcs).start() as m:
            m.expect(r"loop: failed: more than 3 restarts within 60 s")
            exits = len(re.findall(r"loop\[0\]: exit: exited with code 1", m.log_text()))
            self.assertEqual(exits, 4)  # the start plus 3 restarts
            # muster and the other service are unaffected: dummy still restarts.
            m.seen_or_expect(r"dummy\[0\]: ready: ")
            pid = int(m.seen_or_expect(r"dummy\[0\]: spawn: spawned pid (\d+)").group(1))
            os.kill(pid, signal.SIGKILL)
            m.ready("dummy[0]")
            self.assertIsNone(m.proc.poll())
            self.assertNotIn("loop[0]: spawn", "\n".join(m.history[-3:]))

    def test_never_ready_is_a_failed_start(self):
        svc = dummy(env={"DUMMY_NO_READY": "1"}, ready_timeout_ms=300,
                    restart={"backoff_initial_ms": 1, "backoff_max_ms": 5,
                             "max_restarts": 2, "window_s": 60})
        with Muster([svc]).start() as m:
            m.expect(r"dummy\[0\]: no ready message within 300 ms; killing")
            m.expect(r"dummy\[0\]: exit: killed by signal 9")
            m.expect(r"dummy\[0\]: (restart|backoff): ")
            m.expect(r"dummy: failed: more than 2 restarts")
            self.assertNotIn(": ready: ", m.log_text())

    def test_hung_instance_is_killed_and_replaced(self):
        svc = dummy(env={"DUMMY_HANG_AFTER_MS": "300"}, heartbeat_ms=100, heartbeat_misses=3)
        with Muster([svc]).start() as m:
            pid = m.spawned_pid("dummy[0]")
            m.ready("dummy[0]")
            m.expect(r"dummy\[0\]: missed 3 pongs in a row \(hung\); killing")
            m.expect(r"dummy\[0\]: exit: killed by signal 9")
            self.assertNotEqual(m.spawned_pid("dummy[0]"), pid)
            m.ready("dummy[0]")

    def test_grandchild_is_stopped_with_its_service(self):
        for how in ("stop", "crash"):
            with self.subTest(how=how):
                with Muster([service("forker", ["misbehave_service"], restart={"policy": "never"},
                                     env={"MISBEHAVE": "fork",
                                          "MISBEHAVE_PIDFILE": "gc.pid"})]).start() as m:
                    pid = m.spawned_pid("forker[0]")
                    m.ready("forker[0]")
                    with open(os.path.join(m.dir, "gc.pid")) as f:
                        gc = int(f.read())
                    self.assertTrue(pid_alive(gc))
                    if how == "stop":
                        m.signal(signal.SIGTERM)
                        self.assertEqual(m.wait(), 0)
                    else:
                        os.kill(pid, signal.SIGKILL)  # the leader dies, the group must too
                        m.expect(r"forker\[0\]: exit: ")
                    self.assertTrue(wait_pid_gone(gc), "grandchild %d left behind" % gc)
                    self.assertTrue(wait_pid_gone(pid))

    def test_sigterm_stops_everything_and_exits_0(self):
        svcs = [dummy(instances=2),
                service("stubborn", ["misbehave_service"], env={"MISBEHAVE": "ignore_term"},
                        stop_timeout_ms=600)]
        with Muster(svcs).start() as m:
            pids = [m.spawned_pid("dummy[0]"), m.spawned_pid("dummy[1]"),
                    m.spawned_pid("stubborn[0]")]
            m.expect(r"stubborn\[0\]: ready: ")
            m.signal(signal.SIGTERM)
            self.assertEqual(m.wait(), 0)
            log = m.log_text()
            self.assertIn("stubborn[0]: still running 600 ms after the shutdown request; SIGKILL", log)
            self.assertRegex(log, r"dummy\[0\]: exit: exited with code 0")  # graceful
            for pid in pids:
                self.assertFalse(pid_alive(pid), "pid %d survived muster" % pid)

    def test_services_exit_when_muster_is_killed(self):
        with Muster([dummy(instances=2)]).start() as m:
            pids = [m.spawned_pid("dummy[0]"), m.spawned_pid("dummy[1]")]
            m.ready("dummy[1]")
            m.proc.kill()
            m.wait()
            for pid in pids:
                self.assertTrue(wait_pid_gone(pid), "dummy %d outlived muster" % pid)

    def test_log_capture_and_rotation(self):
        script = ('i=0; while [ $i -lt 400 ]; do echo "line $i"; i=$((i+1)); done; '
                  'echo oops >&2; exec dummy_service')
        svc = service("chatty", ["/bin/sh", "-c", script])
        with Muster([svc], logs={"dir": "logs", "max_bytes": 4096, "keep": 2}).start() as m:
            m.ready("chatty[0]")
            m.signal(signal.SIGTERM)
            self.assertEqual(m.wait(), 0)
            logs = os.path.join(m.dir, "logs")
            names = sorted(n for n in os.listdir(logs) if n.startswith("chatty"))
            self.assertEqual(names, ["chatty.log", "chatty.log.1", "chatty.log.2"])
            for n in names:
                self.assertLessEqual(os.path.getsize(os.path.join(logs, n)), 4096)
            text = open(os.path.join(logs, "chatty.log.2")).read() + \
                open(os.path.join(logs, "chatty.log.1")).read() + \
                open(os.path.join(logs, "chatty.log")).read()
            self.assertRegex(text, r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z chatty\[0\] out: line 399\n")
            self.assertIn("chatty[0] err: oops\n", text)
            self.assertNotIn("line 0\n", text)  # rotated away: only `keep` files are kept

    def test_log_flood_keeps_every_record_whole_and_in_order(self):
        # The records of a read are written in batches (one write, not one
        # per line): under a flood every line still lands whole, in order,
        # and no file passes max_bytes.
        script = ("import sys\n"
                  "for i in range(100000): sys.stdout.write('line %d ' % i + 'x' * (i % 50) + '\\n')\n"
                  "sys.stdout.flush()\n"
                  "import os; os.execvp('dummy_service', ['dummy_service'])\n")
        svc = service("flood", [sys.executable, "-c", script])
        with Muster([svc], logs={"dir": "logs", "max_bytes": 1 << 20, "keep": 5}).start() as m:
            m.ready("flood[0]")
            m.signal(signal.SIGTERM)
            self.assertEqual(m.wait(), 0)
            logs = os.path.join(m.dir, "logs")
            names = sorted((n for n in os.listdir(logs) if n.startswith("flood")), reverse=True)
            text = ""
            for n in names:  # flood.log.5 (oldest) ... flood.log
                self.assertLessEqual(os.path.getsize(os.path.join(logs, n)), 1 << 20, n)
                text += open(os.path.join(logs, n)).read()
            nums = [int(x) for x in re.findall(r"Z flood\[0\] out: line (\d+) x*\n", text)]
            lines = [ln for ln in text.split("\n") if " out: line " in ln]
            self.assertEqual(len(nums), len(lines), "a record is not whole")
            self.assertEqual(nums, list(range(nums[0], 100000)), "records lost or out of order")
            self.assertLess(nums[0], 60000)  # 5 files of 1 MiB keep the last ~60 %

    def test_memory_limit_restarts_instance(self):
        svc = service("grower", ["misbehave_service"], env={"MISBEHAVE": "grow"},
                      max_memory_mb=64)
        with Muster([svc]).start() as m:
            pid = m.spawned_pid("grower[0]")
            m.ready("grower[0]")
            m.expect(r"grower\[0\]: RSS \d+ MiB is over max_memory_mb 64; restarting it")
            m.expect(r"grower\[0\]: restart: planned restart")
            self.assertNotEqual(m.spawned_pid("grower[0]"), pid)

    def test_channel_closed_but_running_is_killed(self):
        svc = service("mute", ["misbehave_service"], env={"MISBEHAVE": "close_channel"},
                      restart={"policy": "never"})
        with Muster([svc]).start() as m:
            pid = m.spawned_pid("mute[0]")
            m.expect(r"mute\[0\]: closed its channel but kept running; killing")
            m.expect(r"mute\[0\]: exit: killed by signal 9")
            self.assertTrue(wait_pid_gone(pid))

    def test_instance_has_its_own_group_in_musters_session(self):
        # A process group of its own (a stop reaches what it forked), but
        # muster's session: a session each would be a scheduling group each
        # under the kernel's autogroup (sup_child.h). Signals as from a
        # fresh exec: none of 1..31 ignored (muster ignores SIGPIPE), none
        # blocked. (/bin/sleep: dummy_service ignores SIGPIPE itself.)
        svc = service("s", ["/bin/sleep", "60"], upstream={"port": free_port()},
                      ready_timeout_ms=60000)
        with Muster([dummy(), svc]).start() as m:
            pid = m.spawned_pid("dummy[0]")
            m.ready("dummy[0]")
            self.assertEqual(os.getpgid(pid), pid)
            self.assertEqual(os.getsid(pid), os.getsid(m.proc.pid))
            spid = int(m.seen_or_expect(r"s\[0\]: spawn: spawned pid (\d+)").group(1))
            with open("/proc/%d/status" % spid) as f:
                st = dict(line.split(":", 1) for line in f if ":" in line)
            self.assertEqual(int(st["PPid"]), m.proc.pid)
            self.assertEqual(os.getpgid(spid), spid)
            self.assertEqual(int(st["SigIgn"], 16) & 0x7fffffff, 0)  # 32, 33: glibc's own
            self.assertEqual(int(st["SigBlk"], 16), 0)
            self.assertEqual(os.readlink("/proc/%d/fd/0" % spid), "/dev/null")
            self.assertFalse(os.path.exists("/proc/%d/fd/3" % spid), "no channel, no fd 3")

    def test_program_gone_at_a_restart_is_a_failed_spawn(self):
        # The config check found the program; removed later, the restart's
        # spawn fails with the reason, and is handled as a crash.
        d = tempfile.mkdtemp(prefix="muster-test-prog-")
        self.addCleanup(shutil.rmtree, d, True)
        prog = os.path.join(d, "my-dummy")
        with open(prog, "w") as f:
            f.write("#!/bin/sh\nexec %s \"$@\"\n" % bin_path("dummy_service"))
        os.chmod(prog, 0o755)
        svc = service("gone", [prog], restart={"backoff_initial_ms": 1, "backoff_max_ms": 5,
                                               "max_restarts": 2, "window_s": 60})
        with Muster([svc, dummy()]).start() as m:
            pid = m.spawned_pid("gone[0]")
            m.ready("gone[0]")
            os.unlink(prog)
            os.kill(pid, signal.SIGKILL)
            m.expect(r'gone\[0\]: spawn "%s" failed: ENOENT' % re.escape(prog))
            m.expect(r"gone: failed: more than 2 restarts within 60 s")
            m.seen_or_expect(r"dummy\[0\]: ready: ")
            self.assertIsNone(m.proc.poll())

    def test_spawn_failure_is_reported(self):
        svc = service("ghost", ["/bin/sh"], cwd="/nonexistent-dir-for-test",
                      restart={"policy": "never"})
        m = Muster([svc])
        try:
            r = subprocess.run([bin_path("muster"), "--check", "-c", m.config_path],
                               capture_output=True, text=True, timeout=TIMEOUT)
            # A missing cwd is caught by the config check already.
            self.assertEqual(r.returncode, 1)
            self.assertIn("services[0].cwd", r.stdout + r.stderr)
        finally:
            m.stop()


def nofile(pid):
    """(soft, hard) RLIMIT_NOFILE of pid, from /proc."""
    with open("/proc/%d/limits" % pid) as f:
        for line in f:
            if line.startswith("Max open files"):
                soft, hard = line.split()[3:5]
                return int(soft), int(hard)
    raise AssertionError("no open-files line in /proc/%d/limits" % pid)


class FileLimitTest(unittest.TestCase):
    """muster raises its soft RLIMIT_NOFILE to the hard one (a login
    session's 1024 is below max_connections), and warns when even the hard
    limit is too low for its config."""

    def test_soft_limit_raised_to_the_hard_one_and_inherited(self):
        import resource
        hard = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 4096)  # no privilege needed
        gw = {"listen": "127.0.0.1:%d" % free_port(), "max_connections": hard - 200}
        m = Muster([dummy()], gateway=gw)
        with m.start(wrap=["prlimit", "--nofile=256:%d" % hard]):
            m.seen_or_expect(r"dummy\[0\]: ready: ")
            self.assertEqual(nofile(m.proc.pid), (hard, hard))
            child = int(m.seen_or_expect(r"dummy\[0\]: spawn: spawned pid (\d+)").group(1))
            self.assertEqual(nofile(child), (hard, hard))
            self.assertNotIn("file descriptors:", m.log_text())

    def test_a_hard_limit_below_the_config_is_named(self):
        m = Muster([dummy(instances=2)])
        with m.start(wrap=["prlimit", "--nofile=200:200"]):
            m.expect(r"warn file descriptors: the limit is 200, below the 10070 that "
                     r"max_connections and the instances may need")
            m.seen_or_expect(r"dummy\[0\]: ready: ")  # it runs all the same


class CheckTest(unittest.TestCase):

    def run_check(self, text):
        m = Muster([])
        try:
            with open(m.config_path, "w") as f:
                f.write(text)
            r = subprocess.run([bin_path("muster"), "--check", "-c", m.config_path],
                               capture_output=True, text=True, timeout=TIMEOUT)
            return r.returncode, r.stdout + r.stderr, m.config_path
        finally:
            m.stop()

    def test_ok(self):
        code, out, _ = self.run_check('{"services": [{"name": "d", "command": ["/bin/true"]}]}')
        self.assertEqual((code, out.strip()), (0, "config ok"))

    def test_syntax_error_has_position(self):
        code, out, path = self.run_check('{\n  "services": [\n    {"name": "d"\n     "command": []}\n  ]\n}\n')
        self.assertEqual(code, 1)
        self.assertRegex(out, re.escape(path) + r":4:6: ")

    def test_schema_errors_all_reported(self):
        code, out, _ = self.run_check(
            '{"services": [{"name": "d", "command": ["/bin/true"], "instances": 0},'
            ' {"name": "e", "command": ["/bin/true"], "instanses": 2}]}')
        self.assertEqual(code, 1)
        self.assertIn("services[0].instances: must be 1..1024", out)
        self.assertIn("services[1].instanses: unknown key", out)

    def test_missing_file(self):
        r = subprocess.run([bin_path("muster"), "--check", "-c", "/nonexistent/muster.json"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/muster.json", r.stderr)

    def test_version(self):
        r = subprocess.run([bin_path("muster"), "--version"], capture_output=True, text=True)
        self.assertRegex(r.stdout, r"^muster \d+\.\d+\.\d+\n$")


if __name__ == "__main__":
    unittest.main()
