"""Integration tests of the control socket, reload/scale/rolling restart and
the admin listener (issue 5): the real muster, driven through its socket."""
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import (Muster, CtlConn, Load, ctl, free_port, http_get, service,  # noqa: E402
                        TIMEOUT, poll_until, wait_pid_gone)


def dummy(name="dummy", instances=2, **kw):
    kw.setdefault("routes", ["/" + name])
    return service(name, ["dummy_service"], instances=instances, **kw)


def ready_pids(m, name):
    """pids of the ready instances of service name, from status."""
    r = ctl(m, cmd="status", service=name)
    return sorted(i["pid"] for i in r["services"][0]["instances"] if i["state"] == "ready")


def wait_ready_count(m, name, n):
    """Waits (on events) until service name has exactly n ready instances
    and no other instance."""
    ev = CtlConn(m)
    try:
        assert ev.cmd(cmd="events")["ok"]
        while True:
            r = ctl(m, cmd="status", service=name)
            insts = r["services"][0]["instances"]
            if len(insts) == n and all(i["state"] == "ready" for i in insts):
                return insts
            ev.recv()  # the next event: something changed
    finally:
        ev.close()


def hups(follow, n):
    """The next n "got HUP" lines of a followed log, as SERVICE+INDEX."""
    got = set()
    while len(got) < n:
        mt = re.search(r"(\w)\[\d\] out: got HUP (\d)", follow.recv()["line"])
        if mt:
            got.add(mt.group(1) + mt.group(2))
    return got


class ControlTest(unittest.TestCase):

    def test_status_shape(self):
        with Muster([dummy()]).start() as m:
            m.seen_or_expect(r"dummy\[0\]: ready: ")
            m.seen_or_expect(r"dummy\[1\]: ready: ")
            r = ctl(m, cmd="status")
            self.assertTrue(r["ok"])
            (svc,) = r["services"]
            self.assertEqual(svc["name"], "dummy")
            self.assertEqual(svc["state"], "running")
            self.assertEqual(len(svc["instances"]), 2)
            for i, inst in enumerate(sorted(svc["instances"], key=lambda x: x["index"])):
                self.assertEqual(inst["index"], i)
                self.assertGreater(inst["pid"], 0)
                self.assertEqual(inst["state"], "ready")
                for key in ("restarts", "uptime_ms", "rss_bytes", "inflight", "requests"):
                    self.assertIsInstance(inst[key], int, key)
                self.assertGreater(inst["rss_bytes"], 0)
                self.assertIsNone(inst["last_exit"])
            self.assertEqual(ctl(m, cmd="version"), {"ok": True, "version": "0.1.0"})
            self.assertFalse(ctl(m, cmd="status", service="nope")["ok"])

    def test_stop_gives_503_start_gives_200(self):
        with Muster([dummy()]).start() as m:
            m.ready("dummy[1]")
            self.assertEqual(http_get(m, "/dummy/echo")[0], 200)
            self.assertEqual(ctl(m, cmd="stop", service="dummy"), {"ok": True, "service": "dummy"})
            status, headers, _ = http_get(m, "/dummy/echo")
            self.assertEqual(status, 503)
            self.assertIn("retry-after", {k.lower() for k in headers})
            m.expect(r"dummy\[\d\]: stop: stopped")
            m.expect(r"dummy\[\d\]: stop: stopped")
            self.assertEqual(ctl(m, cmd="status")["services"][0]["state"], "stopped")
            self.assertTrue(ctl(m, cmd="start", service="dummy")["ok"])
            wait_ready_count(m, "dummy", 2)
            self.assertEqual(http_get(m, "/dummy/echo")[0], 200)

    def test_scale_2_4_plus_1_then_1(self):
        with Muster([dummy()]).start() as m:
            wait_ready_count(m, "dummy", 2)
            self.assertEqual(ctl(m, cmd="scale", service="dummy", instances=4),
                             {"ok": True, "service": "dummy", "instances": 4})
            insts = wait_ready_count(m, "dummy", 4)
            self.assertEqual(sorted(i["index"] for i in insts), [0, 1, 2, 3])
            self.assertEqual(ctl(m, cmd="scale", service="dummy", instances="+1"),  # pm2's +N
                             {"ok": True, "service": "dummy", "instances": 5})
            insts = wait_ready_count(m, "dummy", 5)
            self.assertEqual(sorted(i["index"] for i in insts), [0, 1, 2, 3, 4])
            self.assertFalse(ctl(m, cmd="scale", service="dummy", instances="+1020")["ok"])
            self.assertTrue(ctl(m, cmd="scale", service="dummy", instances=1)["ok"])
            insts = wait_ready_count(m, "dummy", 1)
            self.assertEqual(insts[0]["index"], 0)
            self.assertEqual(http_get(m, "/dummy/echo")[0], 200)

    def test_rolling_restart_and_scale_down_under_load_lose_nothing(self):
        with Muster([dummy(instances=3)]).start() as m:
            old = set(p["pid"] for p in wait_ready_count(m, "dummy", 3))
            load = Load(m, "/dummy/echo", n=8).start()
            try:
                load.wait_for(200)
                r = ctl(m, cmd="restart", service="dummy")  # replies when done
                self.assertEqual(r, {"ok": True, "service": "dummy"})
                new = set(ready_pids(m, "dummy"))
                self.assertEqual(len(new), 3)
                self.assertFalse(old & new, "every old pid replaced")
                load.wait_for(load.total() + 200)
                self.assertTrue(ctl(m, cmd="scale", service="dummy", instances=1)["ok"])
                wait_ready_count(m, "dummy", 1)
                load.wait_for(load.total() + 200)
            finally:
                load.stop()
            self.assertEqual(load.errors, [])
            self.assertEqual(set(load.statuses), {200}, load.statuses)
            self.assertGreater(load.statuses[200], 600)
            for pid in old:
                self.assertTrue(wait_pid_gone(pid))

    def test_all_names_every_service_for_start_stop_restart(self):
        # supervisorctl's and PM2's `restart all`: each service's rolling
        # restart in turn, the reply once the last is done.
        with Muster([dummy("a"), dummy("b", instances=1)]).start() as m:
            old = set(p["pid"] for p in wait_ready_count(m, "a", 2))
            old |= set(p["pid"] for p in wait_ready_count(m, "b", 1))
            load = Load(m, "/a/echo", n=4).start()
            try:
                load.wait_for(100)
                self.assertEqual(ctl(m, cmd="restart", service="all"),
                                 {"ok": True, "service": "all"})
                new = set(ready_pids(m, "a")) | set(ready_pids(m, "b"))
                self.assertEqual(len(new), 3)
                self.assertFalse(old & new, "every old pid replaced")
                load.wait_for(load.total() + 100)
            finally:
                load.stop()
            self.assertEqual(load.errors, [])
            self.assertEqual(set(load.statuses), {200}, load.statuses)
            m.seen_or_expect(r"b: restarted: every instance replaced")
            log = m.log_text()
            # one after the other: b's replacement comes after a's restart ended
            self.assertLess(log.index("a: restarted: every instance replaced"),
                            log.rindex("b[0]: spawn: "))
            self.assertLess(log.rindex("b[0]: spawn: "),
                            log.index("b: restarted: every instance replaced"))
            self.assertEqual(ctl(m, cmd="stop", service="all"), {"ok": True, "service": "all"})
            for _ in range(3):
                m.expect(r"[ab]\[\d\]: stop: stopped")
            self.assertEqual({s["state"] for s in ctl(m, cmd="status")["services"]}, {"stopped"})
            self.assertEqual(ctl(m, cmd="start", service="all"), {"ok": True, "service": "all"})
            wait_ready_count(m, "a", 2)
            wait_ready_count(m, "b", 1)
            self.assertFalse(ctl(m, cmd="scale", service="all", instances=2)["ok"])

    def test_restart_all_goes_by_name_when_a_reload_removes_a_service(self):
        # a's replacement takes 1.5 s to get ready; a reload then removes a:
        # the walk goes on with b and c, whose places in the list moved.
        svcs = [dummy("a", instances=1, env={"DUMMY_READY_DELAY_MS": "1500"}),
                dummy("b", instances=1), dummy("c", instances=1)]
        m = Muster(svcs)
        with m.start():
            for n in "abc":
                m.seen_or_expect(r"%s\[0\]: ready: " % n)
            old = {n: ready_pids(m, n) for n in "bc"}
            conn = CtlConn(m)
            try:
                conn.send_raw(b'{"cmd": "restart", "service": "all"}\n')
                m.expect(r"a\[0\]: spawn: ")  # the replacement, not ready yet
                m.config["services"] = svcs[1:]
                m.write_config()
                self.assertTrue(ctl(m, cmd="reload")["ok"])
                reply = conn.recv()
            finally:
                conn.close()
            # a's restart did not finish: the reply says why, after b's and c's
            self.assertEqual(reply, {"ok": False,
                                     "error": "a: the service was removed by a reload"})
            m.seen_or_expect(r"a: restart-failed: the service was removed by a reload")
            for n in "bc":
                m.seen_or_expect(r"%s: restarted: every instance replaced" % n)
                self.assertNotEqual(ready_pids(m, n), old[n], n)

    def test_env_shows_what_an_instance_started_with(self):
        # pm2 env: the variables of instance 1 as its program got them.
        m = Muster([dummy("d", 2, env={"GREETING": "hi there", "ODD": "a\u0001b"})])
        with m.start():
            wait_ready_count(m, "d", 2)
            reply = ctl(m, cmd="env", service="d", index=1)
            self.assertTrue(reply["ok"], reply)
            with open("/proc/%d/environ" % reply["pid"], "rb") as f:
                want = [v.decode() for v in f.read().split(b"\0") if v]
            self.assertEqual(reply["env"], want)
            for var in ("MUSTER_SERVICE=d", "MUSTER_INSTANCE=1", "NODE_APP_INSTANCE=1",
                        "GREETING=hi there", "ODD=a\u0001b", "MUSTER_CHANNEL_FD=3"):
                self.assertIn(var, reply["env"])
            self.assertEqual(ctl(m, cmd="env", service="d", index=5),
                             {"ok": False, "error": "d has no instance 5 with a process"})
            self.assertTrue(ctl(m, cmd="stop", service="d")["ok"])
            m.expect(r"d\[0\]: stop: stopped")
            m.seen_or_expect(r"d\[1\]: stop: stopped")
            self.assertEqual(ctl(m, cmd="env", service="d")["error"],
                             "d has no instance 0 with a process")

    def test_flush_empties_the_log_and_its_rotated_files(self):
        # pm2 flush, supervisorctl clear: 120 lines rotate into .1 and .2;
        # after the flush every file is empty or gone, and a line written
        # later starts the file anew.
        script = ('trap "echo after the flush" HUP; i=0; '
                  'while [ $i -lt 120 ]; do echo "line $i %s"; i=$((i+1)); done; echo written; '
                  'while :; do sleep 60 & wait; done' % ("x" * 60))
        m = Muster([service("w", ["sh", "-c", script], ready="running"), dummy("d", 1)],
                   logs={"dir": "logs", "max_bytes": 4096, "keep": 2})
        with m.start():
            log = os.path.join(m.dir, "logs", "w.log")
            poll_until(lambda: "written" in "".join(ctl(m, cmd="logs", service="w",
                                                        lines=5)["lines"]), what="every line")
            self.assertTrue(os.path.exists(log + ".2"))
            sizes = sum(os.path.getsize(p) for p in (log, log + ".1", log + ".2"))
            reply = ctl(m, cmd="flush", service="w")
            self.assertEqual(reply, {"ok": True, "service": "w", "bytes": sizes})
            self.assertEqual(os.path.getsize(log), 0)
            self.assertFalse(os.path.exists(log + ".1") or os.path.exists(log + ".2"))
            self.assertEqual(ctl(m, cmd="logs", service="w", lines=10)["lines"], [])
            self.assertEqual(ctl(m, cmd="signal", service="w", signal="HUP")["instances"], 1)
            poll_until(lambda: ctl(m, cmd="logs", service="w", lines=10)["lines"], what="a line")
            (line,) = ctl(m, cmd="logs", service="w", lines=10)["lines"]
            self.assertRegex(line, r"w\[0\] out: after the flush$")
            with open(log) as f:
                self.assertEqual(f.read().count("\n"), 1)  # at the start, no hole
            reply = ctl(m, cmd="flush")  # every service
            self.assertEqual((reply["ok"], reply["service"]), (True, "all"))
            self.assertEqual(os.path.getsize(log), 0)
            self.assertEqual(ctl(m, cmd="flush", service="nope")["ok"], False)

    def test_logs_without_a_service_merges_every_service_in_time_order(self):
        # `pm2 logs`: the last lines of every service, by time; with follow,
        # what each of them writes next.
        loop = 'i=0; while :; do echo "%s $i"; i=$((i+1)); sleep 0.02; done'
        svcs = [service(n, ["sh", "-c", loop % n], ready="running") for n in ("a", "b")]
        with Muster(svcs).start() as m:
            def both():
                r = ctl(m, cmd="logs", lines=20)
                labels = {re.search(r" ([ab])\[0\] out: ", ln).group(1) for ln in r["lines"]}
                return r["lines"] if len(r["lines"]) == 20 and labels == {"a", "b"} else None
            lines = poll_until(both, what="20 lines of both services")
            stamps = [ln.split(" ", 1)[0] for ln in lines]
            self.assertEqual(stamps, sorted(stamps))
            for n in ("a", "b"):  # each service's own lines keep their order
                own = [int(ln.rsplit(" ", 1)[1]) for ln in lines if " %s[0] " % n in ln]
                self.assertEqual(own, sorted(own))
            follow = CtlConn(m)
            try:
                self.assertTrue(follow.cmd(cmd="logs", lines=1, follow=True)["ok"])
                seen = set()
                for _ in range(200):
                    seen.add(re.search(r" ([ab])\[0\] out: ", follow.recv()["line"]).group(1))
                    if seen == {"a", "b"}:
                        break
                self.assertEqual(seen, {"a", "b"})
            finally:
                follow.close()

    def test_signal_reaches_each_instance_s_main_process(self):
        # supervisorctl signal / pm2 sendSignal: a program that reopens its
        # files or reloads on SIGHUP gets it, and keeps running.
        hup = 'trap "echo got HUP $MUSTER_INSTANCE" HUP; while :; do sleep 0.05; done'
        svcs = [service("w", ["sh", "-c", hup], ready="running", instances=2),
                service("x", ["sh", "-c", hup], ready="running")]
        with Muster(svcs).start() as m:
            for label in ("w[0]", "w[1]", "x[0]"):
                m.ready(label)
            pids = ready_pids(m, "w")
            follow = CtlConn(m)
            try:
                self.assertTrue(follow.cmd(cmd="logs", lines=1, follow=True)["ok"])
                self.assertEqual(ctl(m, cmd="signal", service="w", signal="HUP"),
                                 {"ok": True, "service": "w", "signal": "SIGHUP", "instances": 2})
                self.assertEqual(hups(follow, 2), {"w0", "w1"})
                self.assertEqual(ctl(m, cmd="signal", service="all", signal="SIGHUP")["instances"],
                                 3)
                self.assertEqual(hups(follow, 3), {"w0", "w1", "x0"})
            finally:
                follow.close()
            self.assertEqual(ready_pids(m, "w"), pids)  # still the same processes
            r = ctl(m, cmd="signal", service="w", signal="STOP")
            self.assertFalse(r["ok"])
            self.assertIn("must be one of", r["error"])

    def test_rolling_restart_of_a_single_instance_loses_nothing(self):
        # With one instance, only "replacement ready before the old one
        # drains" keeps every request answered.
        with Muster([dummy(instances=1)]).start() as m:
            (old,) = [p["pid"] for p in wait_ready_count(m, "dummy", 1)]
            load = Load(m, "/dummy/echo", n=8).start()
            try:
                load.wait_for(100)
                for _ in range(3):
                    self.assertTrue(ctl(m, cmd="restart", service="dummy")["ok"])
                    load.wait_for(load.total() + 100)
            finally:
                load.stop()
            self.assertEqual(load.errors, [])
            self.assertEqual(set(load.statuses), {200}, load.statuses)
            self.assertNotIn(old, ready_pids(m, "dummy"))
            self.assertGreaterEqual(len(load.pids), 4, "requests reached all 4 generations")

    def test_reload_adds_changes_removes(self):
        with Muster([dummy("a"), dummy("b", instances=1)]).start() as m:
            wait_ready_count(m, "a", 2)
            wait_ready_count(m, "b", 1)
            old_a = set(ready_pids(m, "a"))
            cfg = dict(m.config)
            cfg["services"] = [dummy("a", instances=3, env={"GREETING": "changed"}),
                               dummy("c", instances=1)]
            m.write_config(cfg)
            r = ctl(m, cmd="reload")
            self.assertEqual(r, {"ok": True, "added": ["c"], "removed": ["b"], "changed": ["a"]})
            m.expect(r"c\[0\]: ready: ")
            insts = wait_ready_count(m, "a", 3)
            self.assertFalse(old_a & {i["pid"] for i in insts}, "a was restarted")
            names = [s["name"] for s in ctl(m, cmd="status")["services"]]
            self.assertEqual(names, ["a", "c"])
            self.assertEqual(http_get(m, "/c/echo")[0], 200)
            self.assertEqual(http_get(m, "/b/echo")[0], 404)
            _, _, body = http_get(m, "/a/echo")
            self.assertEqual(json.loads(body)["path"], "/a/echo")

    def test_reload_broken_file_changes_nothing(self):
        with Muster([dummy()]).start() as m:
            wait_ready_count(m, "dummy", 2)
            before = ready_pids(m, "dummy")
            with open(m.config_path, "w") as f:
                f.write('{"services": [{"name": "dummy", "command": ["dummy_service"], "instances": 0}]}')
            r = ctl(m, cmd="reload")
            self.assertFalse(r["ok"])
            self.assertIn("services[0].instances: must be 1..1024", r["problems"])
            self.assertEqual(ready_pids(m, "dummy"), before)
            self.assertEqual(http_get(m, "/dummy/echo")[0], 200)

    def test_sighup_reloads(self):
        with Muster([dummy(instances=1)]).start() as m:
            wait_ready_count(m, "dummy", 1)
            cfg = dict(m.config)
            cfg["services"] = [dummy(instances=1), dummy("extra", instances=1)]
            m.write_config(cfg)
            m.signal(signal.SIGHUP)
            m.expect(r"reload: added: extra; removed: -; changed: -")
            m.expect(r"extra\[0\]: ready: ")

    def test_socket_is_private(self):
        with Muster([dummy(instances=1)]).start() as m:
            m.expect(r"control: listening on ")
            path = os.path.join(m.dir, m.config["control"]["socket"])
            self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
            if os.geteuid() != 0:
                self.skipTest("needs root to try another uid")
            code = ("import socket,sys\n"
                    "s=socket.socket(socket.AF_UNIX)\n"
                    "try:\n s.connect(sys.argv[1]); s.sendall(b'{\"cmd\":\"status\"}\\n')\n"
                    " print(s.recv(4096).decode())\n"
                    "except OSError as e: print('refused', e.errno)\n")
            import pwd
            nobody = pwd.getpwnam("nobody")
            r = subprocess.run([sys.executable, "-c", code, path], capture_output=True, text=True,
                               timeout=TIMEOUT, user=nobody.pw_uid, group=nobody.pw_gid)
            out = r.stdout.strip()
            self.assertTrue(out.startswith("refused") or '"ok":false' in out, out)
            self.assertNotIn('"services"', out)

    def test_garbage_lines_keep_the_connection_usable(self):
        with Muster([dummy(instances=1)]).start() as m:
            c = CtlConn(m)
            try:
                for junk in (b"not json\n", b"[1,2]\n", b'{"cmd":"frob"}\n', b'{"cmd":"stop"}\n',
                             b'{"cmd":"scale","service":"dummy","instances":"x"}\n',
                             b"\x00\xff\xfe\n", b'{"cmd":"status","extra":1}\n'):
                    c.send_raw(junk)
                    r = c.recv()
                    self.assertFalse(r["ok"], junk)
                    self.assertIsInstance(r["error"], str)
                self.assertTrue(c.cmd(cmd="version")["ok"])
            finally:
                c.close()
            self.assertIsNone(m.proc.poll())

    def test_logs_of_output_that_is_not_text(self):
        # A program's output may hold any byte: the reply is still JSON in
        # UTF-8 (jq and json.loads refused the raw bytes), each byte that is
        # not UTF-8 a U+FFFD, a NUL escaped rather than ending the line.
        script = r"printf 'bin \377\376 nul \000 end\n'; exec dummy_service"
        with Muster([service("raw", ["/bin/sh", "-c", script])]).start() as m:
            m.ready("raw[0]")
            c = CtlConn(m)
            self.addCleanup(c.close)
            c.send_raw(b'{"cmd":"logs","service":"raw","lines":5}\n')
            while b"\n" not in c.buf:
                c.buf += c.sock.recv(65536)
            line = c.buf.split(b"\n", 1)[0]
            reply = json.loads(line.decode("utf-8"))  # strict: no byte that is not UTF-8
            self.assertTrue(reply["ok"], reply)
            self.assertTrue(any(l.endswith("raw[0] out: bin \ufffd\ufffd nul \x00 end")
                                for l in reply["lines"]), reply["lines"])


def parse_prometheus(text):
    """Parses the text exposition format; returns {(name, labels): value}.
    Fails on any malformed line."""
    samples = {}
    types = {}
    rx = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
    lrx = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            assert kind in ("counter", "gauge", "histogram", "summary", "untyped"), line
            types[name] = kind
            continue
        assert not line.startswith("#"), line
        mt = rx.match(line)
        assert mt, "bad sample line: %r" % line
        labels = tuple(lrx.findall(mt.group(3) or ""))
        samples[(mt.group(1), labels)] = float(mt.group(4))
        base = re.sub(r"_(bucket|sum|count)$", "", mt.group(1))
        assert mt.group(1) in types or base in types, "sample without TYPE: " + line
    return samples


class AdminTest(unittest.TestCase):

    def test_metrics_count_requests(self):
        admin = "127.0.0.1:%d" % free_port()
        with Muster([dummy()], admin={"listen": admin}).start() as m:
            wait_ready_count(m, "dummy", 2)
            for _ in range(7):
                self.assertEqual(http_get(m, "/dummy/echo")[0], 200)
            for _ in range(3):
                self.assertEqual(http_get(m, "/dummy/status/404")[0], 404)
            host, port = admin.split(":")
            status, headers, body = http_get(m, "/metrics", addr=(host, int(port)))
            self.assertEqual(status, 200)
            self.assertTrue(headers["content-type"].startswith("text/plain"))
            s = parse_prometheus(body.decode())
            self.assertEqual(s[("muster_requests_total", (("service", "dummy"), ("code", "200")))], 7)
            self.assertEqual(s[("muster_requests_total", (("service", "dummy"), ("code", "404")))], 3)
            self.assertEqual(s[("muster_request_duration_seconds_count", (("service", "dummy"),))], 10)
            self.assertEqual(s[("muster_instances", (("service", "dummy"), ("state", "ready")))], 2)
            buckets = [v for (n, l), v in s.items() if n == "muster_request_duration_seconds_bucket"]
            self.assertEqual(max(buckets), 10)
            self.assertIn(("muster_restarts_total", (("service", "dummy"),)), s)
            self.assertIn(("muster_gateway_connections", ()), s)
            # never on the public port
            self.assertEqual(http_get(m, "/metrics")[0], 404)
            self.assertEqual(http_get(m, "/healthz", addr=(host, int(port)))[0], 200)

    def test_events_stream_shows_exit_then_ready(self):
        admin = "127.0.0.1:%d" % free_port()
        with Muster([dummy(instances=1)], admin={"listen": admin}).start() as m:
            pid = m.spawned_pid("dummy[0]")
            m.ready("dummy[0]")
            host, port = admin.split(":")
            s = socket.create_connection((host, int(port)), timeout=TIMEOUT)
            try:
                s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
                f = s.makefile("rb")
                self.assertIn(b"200", f.readline())
                while f.readline() not in (b"\r\n", b""):
                    pass  # headers
                os.kill(pid, signal.SIGKILL)
                seen = []
                while "ready" not in seen:
                    line = f.readline()
                    self.assertNotEqual(line, b"", "stream closed early")
                    mt = re.match(rb"event: (\w+)", line)
                    if mt:
                        seen.append(mt.group(1).decode())
                self.assertLess(seen.index("exit"), seen.index("ready"))
            finally:
                s.close()


if __name__ == "__main__":
    unittest.main()
