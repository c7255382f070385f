"""Integration tests of SPEC §12 (issue 17): what users of systemd,
supervisord and PM2 expect. The real muster on a temp dir; events awaited
from its log or from a service's followed output, never slept on."""
import calendar
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import (SRC, LogFollow, Muster, TIMEOUT, bin_path, ctl, free_port,  # noqa: E402
                        http_get, poll_until, service, stop_clean, wait_pid_gone)


def dummy(name="dummy", **kw):
    return service(name, ["dummy_service"], **kw)


def sh(name, script, **kw):
    """A service that runs a shell script (which may exec dummy_service)."""
    return service(name, ["sh", "-c", script], **kw)


def read(path):
    with open(path) as f:
        return f.read()


def set_env(m, env):
    """Gives the first service env (paths inside m.dir, known only once m
    exists) and writes the config again."""
    m.config["services"][0]["env"] = env
    m.write_config()


def barrier(m):
    """Waits until muster has handled everything before this call: a reload
    (nothing changed) is answered and logged after every earlier event."""
    assert ctl(m, cmd="reload")["ok"]
    m.expect(r"reload: added: -; removed: -; changed: -")


class StopSignalTest(unittest.TestCase):

    def test_stop_signal_reaches_the_main_process(self):
        svcs = [service("rec", ["misbehave_service"], env={"MISBEHAVE": "record_signal"},
                        stop_signal="SIGINT", stop_timeout_ms=600),
                service("dflt", ["misbehave_service"], env={"MISBEHAVE": "record_signal"},
                        stop_timeout_ms=600)]
        with Muster(svcs).start() as m:
            pid = m.spawned_pid("rec[0]")
            m.seen_or_expect(r"rec\[0\]: ready: ")
            m.seen_or_expect(r"dflt\[0\]: ready: ")
            follow = LogFollow(m, "rec")
            try:
                self.assertTrue(ctl(m, cmd="stop", service="rec")["ok"])
                m.expect(r"rec\[0\]: not gone after the shutdown message; SIGINT to pid %d" % pid)
                follow.expect(r"rec\[0\] out: got SIGINT$")
            finally:
                follow.close()
            m.expect(r"rec\[0\]: exit: exited with code 0")
            follow = LogFollow(m, "dflt")
            try:
                self.assertTrue(ctl(m, cmd="stop", service="dflt")["ok"])
                follow.expect(r"dflt\[0\] out: got SIGTERM$")
            finally:
                follow.close()

    def test_an_exit_by_the_stop_signal_is_not_a_warning(self):
        # A program with no handler for SIGTERM (python's http.server, a
        # bare Node app) dies of it when muster stops it: that is the stop
        # working, logged at info; the same death unasked is a warning.
        port = free_port()
        svc = service("plain", ["sh", "-c", 'exec python3 -m http.server --bind 127.0.0.1 "$PORT"'],
                      upstream={"port": port}, routes=["/plain"], stop_timeout_ms=4000)
        with Muster([svc]).start() as m:
            m.spawned_pid("plain[0]")
            m.ready("plain[0]")
            self.assertTrue(ctl(m, cmd="restart", service="plain")["ok"])
            m.expect(r" info plain\[0\]: exit: killed by signal 15 ")
            pid = m.spawned_pid("plain[0]")
            m.ready("plain[0]")
            os.kill(pid, signal.SIGTERM)  # not muster's doing: a crash
            m.expect(r" warn plain\[0\]: exit: killed by signal 15 ")


class SuccessExitCodesTest(unittest.TestCase):

    def test_a_success_code_is_not_restarted_under_on_failure(self):
        fast = {"policy": "on-failure", "backoff_initial_ms": 1, "backoff_max_ms": 5,
                "max_restarts": 100, "window_s": 60}
        svcs = [sh("three", "exit 3", restart=fast, success_exit_codes=[0, 3]),
                sh("plain", "exit 3", restart=fast)]
        with Muster(svcs).start() as m:
            m.seen_or_expect(r"three\[0\]: exit: exited with code 3")
            m.seen_or_expect(r"plain\[0\]: exit: exited with code 3")
            m.expect(r"plain\[0\]: (restart|backoff): ")  # a failure: restarted
            barrier(m)
            self.assertNotRegex(m.log_text(), r"three\[0\]: (restart|backoff): ")
            self.assertEqual(len(re.findall(r"three\[0\]: spawn: ", m.log_text())), 1)
            r = ctl(m, cmd="status", service="three")
            self.assertEqual(r["services"][0]["instances"][0]["state"], "exited")
            self.assertEqual(r["services"][0]["instances"][0]["last_exit"],
                             {"code": 3, "signal": 0})

    def test_success_codes_never_count_toward_max_restarts(self):
        svc = sh("clean", "exit 3", success_exit_codes=[3],
                 restart={"policy": "always", "backoff_initial_ms": 1, "backoff_max_ms": 2,
                          "max_restarts": 2, "window_s": 60})
        with Muster([svc]).start() as m:
            for _ in range(6):  # three times max_restarts, within the window
                m.expect(r"clean\[0\]: exit: exited with code 3")
            self.assertNotIn("clean: failed", m.log_text())
            self.assertNotEqual(ctl(m, cmd="status")["services"][0]["state"], "failed")


class EnvFileTest(unittest.TestCase):

    def test_env_file_is_read_again_at_each_spawn(self):
        svc = sh("env", 'echo "GREETING=$GREETING SECRET=$SECRET FROMENV=$FROMENV"; '
                 "exec dummy_service", env_file="app.env", env={"FROMENV": "env", "SECRET": "env"})
        m = Muster([svc])
        with open(os.path.join(m.dir, "app.env"), "w") as f:
            f.write("# first\nGREETING='hello there'\nSECRET=file\n")
        with m.start():
            pid = m.spawned_pid("env[0]")
            m.ready("env[0]")
            follow = LogFollow(m, "env")
            try:
                # The line may have been written before the follow began: read the file.
                poll_until(lambda: "GREETING=hello there SECRET=env FROMENV=env" in
                           read(os.path.join(m.dir, "logs", "env.log")),
                           what="the first environment in the log")
                with open(os.path.join(m.dir, "app.env"), "w") as f:
                    f.write('GREETING="changed \\"quoted\\""\n')
                os.kill(pid, signal.SIGKILL)
                m.expect(r"env\[0\]: exit: killed by signal 9")
                follow.expect(r'env\[0\] out: GREETING=changed "quoted" SECRET=env FROMENV=env$')
            finally:
                follow.close()

    def test_a_missing_env_file_fails_the_spawn_unless_optional(self):
        fast = {"backoff_initial_ms": 1, "backoff_max_ms": 5, "max_restarts": 1, "window_s": 60}
        svcs = [dummy("needs", env_file="needs.env", restart=fast),
                dummy("maybe", env_file="-maybe.env")]
        m = Muster(svcs)
        for name in ("needs.env", "maybe.env"):
            with open(os.path.join(m.dir, name), "w") as f:
                f.write("A=1\n")
        with m.start():
            pid = int(m.seen_or_expect(r"needs\[0\]: spawn: spawned pid (\d+)").group(1))
            mpid = int(m.seen_or_expect(r"maybe\[0\]: spawn: spawned pid (\d+)").group(1))
            m.seen_or_expect(r"needs\[0\]: ready: ")
            m.seen_or_expect(r"maybe\[0\]: ready: ")
            os.unlink(os.path.join(m.dir, "needs.env"))
            os.unlink(os.path.join(m.dir, "maybe.env"))
            os.kill(pid, signal.SIGKILL)
            m.expect(r"needs\[0\]: env_file %s: cannot read: No such file or directory; "
                     r"not spawning" % re.escape(os.path.join(m.dir, "needs.env")))
            m.expect(r"needs: failed: ")  # a spawn that fails is a crash
            os.kill(mpid, signal.SIGKILL)
            m.expect(r"maybe\[0\]: ready: ")  # an optional file may go away

    def test_check_names_the_bad_line(self):
        d = tempfile.mkdtemp(prefix="muster-envfile-")
        try:
            with open(os.path.join(d, "bad.env"), "w") as f:
                f.write("A=1\nexport B=2\n")
            cfg = {"services": [{"name": "a", "command": ["dummy_service"], "env_file": "bad.env"}]}
            path = os.path.join(d, "m.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            r = subprocess.run([bin_path("muster"), "--check", "-c", path], capture_output=True,
                               text=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, 1)
            self.assertIn('services[0].env_file: %s:2: "export" is not part of the syntax: '
                          "write B=value" % os.path.join(d, "bad.env"), r.stderr)
        finally:
            shutil.rmtree(d)


class InstancesMaxTest(unittest.TestCase):

    def test_max_is_one_per_cpu_of_the_affinity_mask(self):
        with Muster([dummy(instances="max")]).start() as m:
            n = len(os.sched_getaffinity(0))
            for i in range(n):
                m.seen_or_expect(r"dummy\[%d\]: ready: " % i)
            self.assertEqual(len(ctl(m, cmd="status")["services"][0]["instances"]), n)


class DependsOnTest(unittest.TestCase):

    @staticmethod
    def positions(m, patterns):
        """The index in muster's log of the first line matching each pattern."""
        out = []
        for p in patterns:
            rx = re.compile(p)
            out.append(next(i for i, line in enumerate(m.history) if rx.search(line)))
        return out

    def test_start_order_then_reverse_order_at_shutdown(self):
        svcs = [dummy("web", depends_on=["api"]),
                dummy("api", instances=2, depends_on=["db"], env={"DUMMY_READY_DELAY_MS": "50"}),
                dummy("db", env={"DUMMY_READY_DELAY_MS": "100"}),
                dummy("alone")]
        with Muster(svcs).start() as m:
            m.expect(r"web\[0\]: ready: ")
            m.seen_or_expect(r"api\[1\]: ready: ")
            p = self.positions(m, [r"web: waiting: api$", r"api: waiting: db$", r"db\[0\]: ready",
                                   r"api\[0\]: spawn", r"api\[1\]: spawn", r"api\[\d\]: ready",
                                   r"web\[0\]: spawn"])
            self.assertEqual(p[2:], sorted(p[2:]), "\n".join(m.history))
            self.assertLess(max(p[:2]), p[2])
            log = m.log_text()
            self.assertLess(log.index("alone[0]: spawn"), log.index("db[0]: ready"))  # no deps
            m.signal(signal.SIGTERM)
            self.assertEqual(m.wait(), 0)
            p = self.positions(m, [r"web\[0\]: exit: ", r"api\[0\]: exit: ", r"api\[1\]: exit: ",
                                   r"db\[0\]: exit: "])
            self.assertLess(p[0], min(p[1], p[2]))
            self.assertLess(max(p[1], p[2]), p[3])
            self.assertIn("db: stops once its dependents are gone (api first)", m.log_text())

    def test_waiting_for_failed_dependency_and_stop_of_a_dependency(self):
        svcs = [dummy("api", depends_on=["db", "cache"]),
                sh("db", "exit 1", restart={"max_restarts": 0}),
                dummy("cache")]
        with Muster(svcs).start() as m:
            m.seen_or_expect(r"db: failed: ")
            m.seen_or_expect(r"cache\[0\]: ready: ")
            barrier(m)
            api = ctl(m, cmd="status", service="api")["services"][0]
            self.assertEqual(api["state"], "starting")
            self.assertEqual(api["waiting_for"], ["db"])
            self.assertEqual(api["failed_dependencies"], ["db"])
            self.assertEqual([i["state"] for i in api["instances"]], ["exited"])
            env = dict(os.environ, MUSTER_SOCKET=os.path.join(m.dir, "run", "muster.sock"))
            out = subprocess.run([bin_path("musterctl"), "status"], capture_output=True,
                                 text=True, env=env, timeout=TIMEOUT).stdout
            self.assertIn("api is waiting for db\n", out)
            self.assertIn("api depends on failed db\n", out)
            # An operator's start does not wait (dependencies are wanted, not required).
            self.assertTrue(ctl(m, cmd="start", service="api")["ok"])
            m.expect(r"api\[0\]: ready: ")
            api = ctl(m, cmd="status", service="api")["services"][0]
            self.assertNotIn("waiting_for", api)
            self.assertEqual(api["failed_dependencies"], ["db"])
            # Stopping a dependency leaves its dependents running.
            self.assertTrue(ctl(m, cmd="stop", service="cache")["ok"])
            m.expect(r"cache\[0\]: stop: stopped")
            barrier(m)
            self.assertEqual(ctl(m, cmd="status", service="api")["services"][0]["state"], "running")

    def test_scale_and_reload_do_not_start_a_waiting_service(self):
        svcs = [dummy("api", depends_on=["db"]),
                dummy("db", env={"DUMMY_NO_READY": "1"}, ready_timeout_ms=60000)]
        with Muster(svcs).start() as m:
            m.seen_or_expect(r"api: waiting: db$")
            self.assertTrue(ctl(m, cmd="scale", service="api", instances=2)["ok"])
            set_env(m, {"CHANGED": "1"})
            self.assertTrue(ctl(m, cmd="reload")["ok"])
            m.expect(r"reload: added: -; removed: -; changed: api")
            barrier(m)
            api = ctl(m, cmd="status", service="api")["services"][0]
            self.assertEqual((api["state"], api["waiting_for"]), ("starting", ["db"]))
            self.assertEqual([i["state"] for i in api["instances"]], ["exited", "exited"])
            self.assertNotIn("api[0]: spawn", m.log_text())
            self.assertNotIn("api[1]: spawn", m.log_text())

    def test_a_reload_starts_added_services_in_order(self):
        with Muster([dummy("db")]).start() as m:
            m.ready("db[0]")
            m.config["services"] += [dummy("late", depends_on=["db"]),
                                     dummy("later", depends_on=["newdep"]),
                                     dummy("newdep", env={"DUMMY_READY_DELAY_MS": "50"})]
            m.write_config()
            r = ctl(m, cmd="reload")
            self.assertTrue(r["ok"], r)
            m.expect(r"later: waiting: newdep$")
            m.seen_or_expect(r"late\[0\]: ready: ")
            m.seen_or_expect(r"later\[0\]: ready: ")
            log = m.log_text()
            self.assertNotIn("late: waiting", log)  # db was ready
            self.assertLess(log.index("newdep[0]: ready"), log.index("later[0]: spawn"))

    def test_autostart_false_waits_for_start_and_its_dependents_with_it(self):
        # supervisord's autostart=false: a job started by hand. The health
        # path does not wait for it; what depends on it does.
        svcs = [dummy("job", autostart=False), dummy("api", depends_on=["job"]),
                dummy("web", routes=["/web"])]
        with Muster(svcs).start() as m:
            m.seen_or_expect(r"job: autostart is false; `musterctl start job` starts it")
            m.ready("web[0]")
            barrier(m)
            self.assertNotRegex(m.log_text(), r"(job|api)\[0\]: spawn: ")
            states = {s["name"]: s["state"] for s in ctl(m, cmd="status")["services"]}
            self.assertEqual(states, {"job": "stopped", "api": "starting", "web": "running"})
            st, _, body = http_get(m, "/healthz")  # api is not ready: that counts
            self.assertEqual((st, json.loads(body)["services"]),
                             (503, {"job": "stopped", "api": "starting", "web": "running"}))
            self.assertTrue(ctl(m, cmd="start", service="job")["ok"])
            m.ready("job[0]")
            m.ready("api[0]")
            self.assertTrue(ctl(m, cmd="reload")["ok"])  # a reload does not stop it
            barrier(m)
            self.assertEqual(ctl(m, cmd="status", service="job")["services"][0]["state"],
                             "running")
        with Muster([dummy("job", autostart=False), dummy("web", routes=["/web"])]).start() as m:
            m.ready("web[0]")
            st, _, body = http_get(m, "/healthz")  # job alone does not count
            self.assertEqual((st, json.loads(body)["status"]), (200, "ok"))

    def test_check_rejects_a_cycle_with_its_path(self):
        d = tempfile.mkdtemp(prefix="muster-cycle-")
        try:
            cfg = {"services": [
                {"name": "x", "command": ["dummy_service"]},
                {"name": "y", "command": ["dummy_service"]},
                {"name": "a", "command": ["dummy_service"], "depends_on": ["b"]},
                {"name": "b", "command": ["dummy_service"], "depends_on": ["x", "a"]}]}
            path = os.path.join(d, "m.json")
            with open(path, "w") as f:
                json.dump(cfg, f)
            r = subprocess.run([bin_path("muster"), "--check", "-c", path], capture_output=True,
                               text=True, timeout=TIMEOUT)
            self.assertEqual(r.returncode, 1)
            self.assertEqual(r.stderr, "services[2].depends_on: cycle a \u2192 b \u2192 a\n")
        finally:
            shutil.rmtree(d)


class HealthTest(unittest.TestCase):

    def test_http_check_failing_n_times_restarts_the_instance(self):
        port = free_port()
        svc = service("web", [sys.executable, os.path.join(SRC, "tests", "helpers",
                                                           "http_service.py")],
                      env={"PORT": str(port)}, heartbeat_ms=300, heartbeat_misses=3,
                      health={"http": "/health"})  # 300 ms: room for a loaded machine
        m = Muster([svc])
        health = os.path.join(m.dir, "health")
        svc["env"]["HEALTH_FILE"] = health
        m.write_config()
        with m.start():
            m.ready("web[0]")
            with open(health, "w") as f:
                f.write("503")
            what = r"GET /health on 127\.0\.0\.1:%d: status 503" % port
            m.expect(r"web\[0\]: health check failed \(1 of 3\): " + what)
            m.expect(r"web\[0\]: health check failed \(3 of 3\): " + what)
            m.expect(r"web\[0\]: unhealthy: health check failed 3 times in a row: " + what)
            m.expect(r"web\[0\]: exit: killed by signal 9")
            with open(health, "w") as f:
                f.write("200")
            m.expect(r"web\[0\]: restart: ")
            m.ready("web[0]")
            r = ctl(m, cmd="status")["services"][0]
            self.assertEqual(r["restarts"], 1)
            self.assertIn("health_misses", r["instances"][0])

    def test_http_check_of_a_port_nobody_listens_on(self):
        port = free_port()
        svc = dummy("deaf", env={"PORT": str(port)}, heartbeat_ms=50, heartbeat_misses=2,
                    health={"http": "/health"}, restart={"policy": "never"})
        with Muster([svc]).start() as m:
            m.ready("deaf[0]")
            m.expect(r"deaf\[0\]: health check failed \(2 of 2\): GET /health on "
                     r"127\.0\.0\.1:%d: connect failed: connection refused" % port)
            m.expect(r"deaf\[0\]: exit: killed by signal 9")

    def test_command_check_with_the_instance_environment(self):
        script = ('test -n "$MUSTER_INSTANCE_PID" && test -z "$NODE_CHANNEL_FD" && '
                  'test -z "$MUSTER_CHANNEL_FD" && test "$MUSTER_SERVICE" = w && '
                  'echo "$MUSTER_INSTANCE_PID" >> "$RUNS" && ! test -e "$SICK"')
        m = Muster([dummy("w", heartbeat_ms=300, heartbeat_misses=2,
                          health={"command": ["sh", "-c", script]})])
        runs, sick = os.path.join(m.dir, "runs"), os.path.join(m.dir, "sick")
        set_env(m, {"RUNS": runs, "SICK": sick})
        with m.start():
            pid = m.spawned_pid("w[0]")
            m.ready("w[0]")
            got = poll_until(lambda: (lambda t: t if t.count("\n") >= 3 else None)(
                read(runs) if os.path.exists(runs) else ""), what="three passed checks")
            self.assertEqual(set(got.split()), {str(pid)})
            self.assertEqual(ctl(m, cmd="status")["services"][0]["instances"][0]
                             ["health_misses"], 0)
            open(sick, "w").close()
            m.expect(r"w\[0\]: health check failed \(2 of 2\): the health command exited "
                     r"with code 1")
            m.expect(r"w\[0\]: unhealthy: ")
            m.expect(r"w\[0\]: exit: killed by signal 9")

    def test_a_hanging_check_is_killed_and_counts_as_failed(self):
        script = 'echo $$$$ >> "$PIDS"; exec sleep 600'  # "$$" in a config is a literal "$"
        m = Muster([dummy("slow", heartbeat_ms=200, heartbeat_misses=2,
                          restart={"policy": "never"}, health={"command": ["sh", "-c", script]})])
        pids = os.path.join(m.dir, "pids")
        set_env(m, {"PIDS": pids})
        with m.start():
            m.ready("slow[0]")
            m.expect(r"slow\[0\]: health check failed \(1 of 2\): no answer within 200 ms")
            m.expect(r"slow\[0\]: unhealthy: health check failed 2 times in a row: "
                     r"no answer within 200 ms")
            m.expect(r"slow\[0\]: exit: killed by signal 9")
            for pid in map(int, read(pids).split()):
                self.assertTrue(wait_pid_gone(pid), "health command %d left behind" % pid)


class WorkerTest(unittest.TestCase):
    """services[].ready "running": a program that neither speaks IPC nor
    listens on a port (a queue consumer, a cron-like loop), hosted as
    supervisord, systemd's Type=simple and PM2 host it."""

    # No channel: no variables, fd 3 closed. The TERM trap takes 2.5 s,
    # more than half of stop_timeout_ms and less than all of it.
    SCRIPT = ('trap \'echo stopping; sleep 2.5; echo clean; exit 0\' TERM; '
              'test -z "$MUSTER_CHANNEL_FD" && test -z "$NODE_CHANNEL_FD" && '
              '! { true >&3; } 2>/dev/null && echo "worker $MUSTER_INSTANCE up"; '
              'sleep 600 & wait')

    def test_a_worker_is_ready_has_no_channel_and_gets_all_of_its_grace(self):
        svcs = [sh("w", self.SCRIPT, ready="running", instances=2, ready_timeout_ms=100,
                   stop_timeout_ms=4000),
                sh("after", "exec sleep 600", ready="running", depends_on=["w"])]
        m = Muster(svcs)
        with m.start():
            for i in range(2):
                m.seen_or_expect(r"w\[%d\]: ready: ready in \d+ ms" % i)
            m.seen_or_expect(r"after\[0\]: ready: ")  # its dependency counts as ready
            ups = poll_until(lambda: (lambda t: t if t.count(" up") == 2 else None)(
                "\n".join(ctl(m, cmd="logs", service="w", lines=10)["lines"])),
                what="both workers' first line")
            self.assertRegex(ups, r"w\[0\] out: worker 0 up")
            self.assertRegex(ups, r"w\[1\] out: worker 1 up")
            follow = LogFollow(m, "w")
            try:
                barrier(m)  # well past ready_timeout_ms: that does not apply to a worker
                states = [i["state"] for i in ctl(m, cmd="status", service="w")
                          ["services"][0]["instances"]]
                self.assertEqual(states, ["ready", "ready"])
                self.assertNotRegex(m.log_text(), r"w\[\d\]: (exit|kill)")
                self.assertTrue(ctl(m, cmd="stop", service="w")["ok"])
                follow.expect(r"w\[0\] out: clean$")
            finally:
                follow.close()
            m.seen_or_expect(r"w\[0\]: exit: exited with code 0")
            m.seen_or_expect(r"w\[1\]: exit: exited with code 0")
            self.assertNotIn("SIGKILL", m.log_text())

    def test_the_spool_worker_example_runs_unmodified(self):
        # services/examples/spool_worker.js, as config/examples/worker.json
        # hosts it: two instances share the jobs, each job is done once, and
        # a stop lets each finish and exit 0.
        app = os.path.join(SRC, "services", "examples", "spool_worker.js")
        m = Muster([service("spool", ["node", app], ready="running", instances=2,
                            stop_timeout_ms=10000)])
        spool = os.path.join(m.dir, "spool")
        set_env(m, {"SPOOL_DIR": spool})
        with m.start():
            m.ready("spool[0]")
            m.seen_or_expect(r"spool\[1\]: ready: ")
            incoming = os.path.join(spool, "incoming")
            poll_until(lambda: os.path.isdir(incoming), what="the spool directory")
            for n in range(40):
                tmp = os.path.join(spool, "%02d.tmp" % n)
                with open(tmp, "w") as f:
                    f.write("word\n" * (n + 1))
                os.rename(tmp, os.path.join(incoming, "%02d.job" % n))
            done = os.path.join(spool, "done")
            poll_until(lambda: len([f for f in os.listdir(done) if f.endswith(".txt")]) == 40,
                       what="40 jobs done")
            for n in range(40):
                inst, lines, words = read(os.path.join(done, "%02d.txt" % n)).split()
                self.assertIn(inst, ("0", "1"))
                self.assertEqual((int(lines), int(words)), (n + 1, n + 1))
            self.assertEqual(os.listdir(incoming), [])
            self.assertEqual(os.listdir(os.path.join(spool, "work")), [])
            self.assertTrue(ctl(m, cmd="stop", service="spool")["ok"])
            m.expect(r"spool\[0\]: exit: exited with code 0")
            m.seen_or_expect(r"spool\[1\]: exit: exited with code 0")
            out = "\n".join(ctl(m, cmd="logs", service="spool", lines=100)["lines"])
            self.assertEqual(len(re.findall(r"out: worker \d: \d\d\.job: ", out)), 40)
            self.assertRegex(out, r"spool\[0\] out: worker 0: stopped")

    def test_a_worker_is_restarted_in_place_never_two_at_once(self):
        # A scheduler or a consumer that must run once: `restart` stops an
        # instance before its replacement starts, as supervisord does.
        with Muster([sh("w", "exec sleep 600", ready="running", instances=2)]).start() as m:
            old = [m.spawned_pid("w[%d]" % i) for i in range(2)]
            for i in range(2):
                m.seen_or_expect(r"w\[%d\]: ready: " % i)
            mark = len(m.log_text())
            self.assertEqual(ctl(m, cmd="restart", service="w"), {"ok": True, "service": "w"})
            m.seen_or_expect(r"w: restarted: every instance replaced")
            log = m.log_text()[mark:]
            for i in range(2):
                gone = log.index("w[%d]: exit: " % i)
                new = re.search(r"w\[%d\]: spawn: spawned pid (\d+)" % i, log)
                self.assertLess(gone, new.start(), "w[%d] replaced before it stopped" % i)
                self.assertNotIn(int(new.group(1)), old)
            self.assertLess(log.index("w[0]: ready: "), log.index("w[1]: exit: "))  # in turn

    def test_a_one_shot_job_completes_before_its_dependents_start(self):
        # docker-compose's service_completed_successfully, systemd's
        # Type=oneshot: migrations first, then the api. A job that fails
        # is restarted (on-failure), and its dependents wait.
        tries = 'n=$(cat "$TRIES" 2>/dev/null || echo 0); echo $((n+1)) > "$TRIES"; '
        job = sh("migrate", tries + 'sleep 0.3; test "$n" -ge 1', ready="exited",
                 restart={"backoff_initial_ms": 1, "backoff_max_ms": 2})
        svcs = [job, dummy("api", depends_on=["migrate"])]
        m = Muster(svcs)
        set_env(m, {"TRIES": os.path.join(m.dir, "tries")})
        with m.start():
            m.seen_or_expect(r"control: listening on ")
            sock = os.path.join(m.dir, "run/muster.sock")
            waiter = subprocess.Popen([bin_path("musterctl"), "-s", sock, "wait", "migrate",
                                       "--timeout", str(TIMEOUT)],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            m.expect(r"migrate\[0\]: exit: exited with code 1")  # the first try fails
            m.expect(r"migrate\[0\]: completed: exited with code 0 after \d+ ms")
            m.expect(r"api: every service it depends on is ready; starting it")
            m.ready("api[0]")
            log = m.log_text()
            self.assertLess(log.index("migrate[0]: completed"), log.index("api[0]: spawn"))
            self.assertEqual(len(re.findall(r"migrate\[0\]: spawn: ", log)), 2)  # no third run
            st, _, body = http_get(m, "/healthz")  # a completed job counts as up
            self.assertEqual((st, json.loads(body)["services"]["migrate"]), (200, "stopped"))
            out, err = waiter.communicate(timeout=TIMEOUT)  # `wait` knows a job is done
            self.assertEqual((waiter.returncode, out), (0, "migrate: ready\n"), err)
            self.assertIs(ctl(m, cmd="status", service="migrate")["services"][0]["completed"], True)
            inst = ctl(m, cmd="status", service="migrate")["services"][0]["instances"][0]
            self.assertEqual((inst["state"], inst["last_exit"]), ("exited",
                                                                  {"code": 0, "signal": 0}))

    def test_a_one_shot_job_past_ready_timeout_is_killed(self):
        with Muster([sh("slow", "exec sleep 600", ready="exited", ready_timeout_ms=300,
                        restart={"policy": "never"})]).start() as m:
            m.expect(r"slow\[0\]: a one-shot job still running after ready_timeout_ms \(300 ms\)")
            m.expect(r"slow\[0\]: exit: killed by signal 9")
            barrier(m)
            self.assertNotIn("completed", m.log_text())

    def test_ready_after_ms_is_supervisord_s_startsecs(self):
        # A worker that dies 300 ms in never counts as started with
        # ready_after_ms 2000: its dependent waits. One that lives on is
        # ready no sooner than its ready_after_ms.
        svcs = [sh("flaky", "sleep 0.3; exit 1", ready="running", ready_after_ms=2000,
                   restart={"policy": "never"}),
                sh("after", "exec sleep 600", ready="running", depends_on=["flaky"]),
                sh("slow", "exec sleep 600", ready="running", ready_after_ms=400)]
        with Muster(svcs).start() as m:
            m.expect(r"flaky\[0\]: exit: exited with code 1")
            ms = int(m.seen_or_expect(r"slow\[0\]: ready: ready in (\d+) ms").group(1))
            self.assertGreaterEqual(ms, 395)  # the loop's clock is read once a turn
            barrier(m)
            self.assertNotRegex(m.log_text(), r"flaky\[0\]: ready|after\[0\]: spawn")

    def test_the_example_config_checks(self):
        path = os.path.join(SRC, "config", "examples", "worker.json")
        r = subprocess.run([bin_path("muster"), "--check", "-c", path], capture_output=True,
                           text=True, timeout=TIMEOUT)
        self.assertEqual((r.returncode, r.stdout.strip()), (0, "config ok"), r.stderr)

    def test_a_worker_s_health_command_restarts_it(self):
        m = Muster([sh("w", "exec sleep 600", ready="running", heartbeat_ms=200,
                       heartbeat_misses=2, health={"command": ["sh", "-c", '! test -e "$SICK"']})])
        sick = os.path.join(m.dir, "sick")
        set_env(m, {"SICK": sick})
        with m.start():
            pid = m.spawned_pid("w[0]")
            m.ready("w[0]")
            open(sick, "w").close()
            m.expect(r"w\[0\]: unhealthy: health check failed 2 times in a row")
            m.expect(r"w\[0\]: exit: killed by signal 9")
            os.unlink(sick)
            self.assertNotEqual(m.spawned_pid("w[0]"), pid)
            m.ready("w[0]")


def hook(events, script):
    return {"on_event": {"events": events, "command": ["sh", "-c", script]}}


class ProcTest(unittest.TestCase):
    """services[].umask, nice and limits, as systemd's UMask=, Nice= and
    LimitNOFILE= set them: the program sees them from its first line."""

    SCRIPT = ('echo "umask=$(umask) nofile=$(ulimit -Sn)/$(ulimit -Hn) core=$(ulimit -c) '
              'nice=$(cut -d" " -f19 /proc/$$$$/stat)"; exec sleep 600')  # the config: $$ is $

    def test_the_program_starts_with_its_umask_nice_and_limits(self):
        svcs = [sh("p", self.SCRIPT, ready="running", umask="027", nice=5,
                   limits={"nofile": 1000, "core": "infinity"}),
                sh("plain", self.SCRIPT, ready="running")]
        with Muster(svcs).start() as m:
            for n in ("p", "plain"):
                m.seen_or_expect(r"%s\[0\]: ready: " % n)
            got = poll_until(lambda: re.search(r"p\[0\] out: (umask=.*)", "\n".join(
                ctl(m, cmd="logs", service="p", lines=5)["lines"])), what="p's line").group(1)
            self.assertEqual(got, "umask=0027 nofile=1000/1000 core=unlimited nice=5")
            plain = poll_until(lambda: re.search(r"plain\[0\] out: umask=(\d+) .* nice=(-?\d+)",
                                                 "\n".join(ctl(m, cmd="logs", service="plain",
                                                               lines=5)["lines"])),
                               what="plain's line")
            self.assertEqual((plain.group(1), plain.group(2)),
                             ("%04o" % self.own_umask(), str(os.getpriority(os.PRIO_PROCESS, 0))))

    @staticmethod
    def own_umask():
        u = os.umask(0)
        os.umask(u)
        return u

    def test_a_limit_the_kernel_refuses_is_a_failed_start_with_the_reason(self):
        with open("/proc/sys/fs/nr_open") as f:
            too_many = int(f.read()) + 1  # past what even root may set
        svc = sh("p", "exec sleep 600", ready="running", limits={"nofile": too_many},
                 restart={"policy": "never"})
        with Muster([svc]).start() as m:
            m.expect(r"p\[0\]: exit: exited with code 126")
            out = "\n".join(ctl(m, cmd="logs", service="p", lines=5)["lines"])
            self.assertIn("muster --exec-as: setrlimit(nofile=%d) failed: Operation not permitted;"
                          " not starting the program" % too_many, out)


class CronRestartTest(unittest.TestCase):
    """services[].cron_restart, as PM2's: a rolling restart at each minute
    (here: second, with PM2's six fields) the expression matches; not of
    a stopped service."""

    def test_a_rolling_restart_at_each_match(self):
        with Muster([dummy("d", cron_restart="*/2 * * * * *", routes=["/d"])]).start() as m:
            first = m.spawned_pid("d[0]")
            nxt = ctl(m, cmd="status", service="d")["services"][0]["next_cron_restart"]
            due = calendar.timegm(time.strptime(nxt, "%Y-%m-%dT%H:%M:%SZ"))
            self.assertTrue(-1 <= due - time.time() <= 3 and due % 2 == 0, nxt)
            m.expect(r'd: cron: cron_restart "\*/2 \* \* \* \* \*": restarting')
            m.expect(r"d: restarted: every instance replaced")
            pid = ctl(m, cmd="status", service="d")["services"][0]["instances"][0]["pid"]
            self.assertNotEqual(pid, first)
            self.assertTrue(ctl(m, cmd="stop", service="d")["ok"])
            m.expect(r'd: cron_restart "\*/2 \* \* \* \* \*" due; not restarting a service '
                     r"that is stopped")
            self.assertEqual(ctl(m, cmd="status", service="d")["services"][0]["state"],
                             "stopped")


class HookTest(unittest.TestCase):

    def test_a_hook_gets_the_failed_event_as_json(self):
        # stdin and MUSTER_EVENT carry the same object; the hook runs in the config's dir.
        script = ('cat > event.tmp; mv event.tmp event.json; '
                  'test "$(cat event.json)" = "$MUSTER_EVENT" && echo same')
        svcs = [sh("loop", "exit 4", restart={"max_restarts": 0}), dummy()]
        with Muster(svcs, hooks=hook(["failed"], script)).start() as m:
            m.seen_or_expect(r"loop: failed: ")
            m.expect(r"hook\[0\] out: same$")
            ev = json.loads(read(os.path.join(m.dir, "event.json")))
            self.assertEqual(ev["type"], "failed")
            self.assertEqual(ev["service"], "loop")
            self.assertEqual((ev["index"], ev["code"], ev["signal"]), (-1, 4, 0))
            self.assertIn("more than 0 restarts", ev["detail"])
            self.assertRegex(ev["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            self.assertEqual(set(ev), {"time", "type", "service", "index", "pid", "code",
                                       "signal", "detail"})
            # Its output came before its exit: wait for the run to be over.
            hooks = poll_until(lambda: (lambda h: h if not h[0]["running"] else None)(
                ctl(m, cmd="status")["hooks"]), what="the hook's run to end")
            self.assertEqual(hooks, [{"index": 0, "events": ["failed"], "running": False,
                                      "queued": 0, "runs": 1, "failures": 0, "killed": 0,
                                      "dropped": 0}])
            self.assertEqual(len(re.findall(r"hook\[0\] out:", m.log_text())), 1)

    def test_a_hook_that_hangs_is_killed_and_the_host_keeps_running(self):
        script = "echo $$$$ > hook.pid; exec sleep 600"  # "$$" in a config is a literal "$"
        with Muster([dummy(routes=["/d"])], hooks=hook(["ready"], script)).start() as m:
            m.ready("dummy[0]")
            pid = int(poll_until(lambda: os.path.exists(os.path.join(m.dir, "hook.pid")) and
                                 read(os.path.join(m.dir, "hook.pid")).strip(), what="hook pid"))
            self.assertEqual(http_get(m, "/d/echo")[0], 200)  # while the hook hangs
            self.assertTrue(ctl(m, cmd="status")["hooks"][0]["running"])
            m.expect(r"hook\[0\]: still running after 10 s; killing it", timeout=TIMEOUT + 10)
            m.expect(r"hook\[0\]: killed by signal 9")
            self.assertTrue(wait_pid_gone(pid))
            self.assertEqual(http_get(m, "/d/echo")[0], 200)
            h = ctl(m, cmd="status")["hooks"][0]
            self.assertEqual((h["running"], h["runs"], h["failures"], h["killed"]),
                             (False, 1, 1, 1))

    def test_a_burst_of_events_does_not_block_requests(self):
        # No run ends during the burst: the queue stays full.
        script = "cat > /dev/null; sleep 8"
        with Muster([dummy(routes=["/d"])], hooks=hook(["*"], script)).start() as m:
            m.ready("dummy[0]")
            import http.client
            import time
            host, port = m.config["gateway"]["listen"].rsplit(":", 1)
            conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
            slowest = 0.0
            try:
                for i in range(150):  # 150 publications: 150 "message" events
                    t0 = time.monotonic()
                    conn.request("POST", "/d/publish?topic=t", body=b"x%d" % i)
                    r = conn.getresponse()
                    r.read()
                    self.assertEqual(r.status, 200)
                    slowest = max(slowest, time.monotonic() - t0)
            finally:
                conn.close()
            m.expect(r"hook\[0\]: 100 events are waiting; dropping events until it catches up")
            self.assertLess(slowest, 2.0, "a request waited for the hooks")
            h = ctl(m, cmd="status")["hooks"][0]
            self.assertTrue(h["running"])
            self.assertEqual(h["queued"], 100)
            self.assertGreaterEqual(h["dropped"], 40)
            code, left = stop_clean(m)
            self.assertEqual(code, 0)
            self.assertEqual(left, [])
            log = m.log_text()
            self.assertRegex(log, r"hook\[0\]: 100 events not run: muster is shutting down")
            self.assertIn("hook[0]: muster is shutting down; SIGTERM to the running hook", log)


def group_file_with(extra):
    """A copy of /etc/group with one more line, in a temp dir."""
    d = tempfile.mkdtemp(prefix="muster-group-")
    path = os.path.join(d, "group")
    with open("/etc/group") as src, open(path, "w") as dst:
        dst.write(src.read().rstrip("\n") + "\n" + extra + "\n")
    os.chmod(d, 0o755)
    return d, path


@unittest.skipUnless(os.geteuid() == 0, "running instances as another user needs root "
                     "(run the suite as root, as `make test` on Debian does)")
class UserTest(unittest.TestCase):

    SCRIPT = ('echo "uid=$(id -u) gid=$(id -g) groups=$(id -G) home=$HOME user=$USER '
              'logname=$LOGNAME"; exec dummy_service')

    def wrap_with_group(self):
        """unshare + a bind-mounted /etc/group in which nobody is also in
        group 4242: supplementary groups can then be seen without touching
        the machine's own files. None when mount namespaces are refused."""
        d, path = group_file_with("mustertest:x:4242:nobody")
        self.addCleanup(shutil.rmtree, d)
        wrap = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                'mount --bind "$0" /etc/group && exec "$@"', path]
        try:
            if subprocess.run(wrap + ["true"], capture_output=True).returncode != 0:
                return None
        except FileNotFoundError:  # no unshare: tools/deps.sh test installs util-linux
            return None
        return wrap

    def test_instances_run_as_nobody_with_its_groups(self):
        wrap = self.wrap_with_group()
        svc = sh("who", self.SCRIPT, user="nobody")
        with Muster([svc]).start(wrap=wrap) as m:
            pid = m.spawned_pid("who[0]")
            m.ready("who[0]")
            status = read("/proc/%d/status" % pid)
            self.assertRegex(status, r"\nUid:\s+65534\s+65534\s+65534\s+65534\n")
            self.assertRegex(status, r"\nGid:\s+65534\s+65534\s+65534\s+65534\n")
            groups = re.search(r"\nGroups:\s*([\d ]*)\n", status).group(1).split()
            self.assertEqual(sorted(groups), ["4242", "65534"] if wrap else ["65534"])
            log = poll_until(lambda: (lambda t: t if "uid=" in t else None)(
                read(os.path.join(m.dir, "logs", "who.log"))), what="the id line")
            self.assertIn("uid=65534 gid=65534", log)
            self.assertIn("home=/nonexistent user=nobody logname=nobody", log)
            if wrap is None:
                print("note: mount namespaces refused here; supplementary groups checked "
                      "without an extra group", file=sys.stderr)

    def test_group_alone(self):
        with Muster([sh("grp", self.SCRIPT, group="nogroup")]).start() as m:
            pid = m.spawned_pid("grp[0]")
            m.ready("grp[0]")
            status = read("/proc/%d/status" % pid)
            self.assertRegex(status, r"\nUid:\s+0\s")
            self.assertRegex(status, r"\nGid:\s+65534\s+65534\s")
            self.assertEqual(re.search(r"\nGroups:\s*([\d ]*)\n", status).group(1).split(),
                             ["65534"])


if __name__ == "__main__":
    unittest.main()
