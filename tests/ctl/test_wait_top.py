"""musterctl wait and top (SPEC section 11) against the real muster, and
status's cpu_percent.

`wait` is checked for each way out (ready, already ready, failed, timeout,
unknown service). `top` runs in a real terminal: a tmux server of the test's
own (its socket in a temp dir) runs `musterctl top` in a detached session;
the test reads the screen with capture-pane and types with send-keys, and
kills that tmux server at the end."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import (BIN, TIMEOUT, Muster, ctl, http_get, poll_until,  # noqa: E402
                        service, wait_pid_gone)

MUSTERCTL = os.path.join(BIN, "musterctl")
# A service that says ready and then keeps one core busy (heartbeats off).
SPIN = ("import os\nos.write(3, b'{\"type\":\"ready\"}\\n')\nwhile True:\n    pass\n")


def dummy(name, **kw):
    kw.setdefault("routes", ["/" + name])
    return service(name, ["dummy_service"], **kw)


def sock(m):
    return os.path.join(m.dir, "run/muster.sock")


def musterctl(m, *args, timeout=TIMEOUT):
    m.seen_or_expect(r"control: listening on ")
    return subprocess.run([MUSTERCTL, "-s", sock(m)] + list(args), capture_output=True,
                          text=True, timeout=timeout)


def states(m, name):
    r = ctl(m, cmd="status", service=name)
    return [i["state"] for i in r["services"][0]["instances"]]


class WaitTest(unittest.TestCase):

    def test_wait_until_ready(self):
        svcs = [dummy("slow", env={"DUMMY_READY_DELAY_MS": "1500"})]
        with Muster(svcs).start() as m:
            r = musterctl(m, "wait", "slow", "--timeout", "20")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, "slow: ready\n")
            self.assertIn("ready", states(m, "slow"))
            # Already ready: at once, and --json prints the last status.
            r = musterctl(m, "--json", "wait", "slow")
            self.assertEqual(r.returncode, 0, r.stderr)
            reply = json.loads(r.stdout)
            self.assertTrue(reply["ok"])
            self.assertEqual(reply["services"][0]["name"], "slow")

    def test_wait_timeout_failed_and_unknown(self):
        svcs = [dummy("never", env={"DUMMY_NO_READY": "1"}, ready_timeout_ms=60000),
                service("crash", ["false"], restart={"max_restarts": 1, "window_s": 60,
                                                      "backoff_initial_ms": 1})]
        with Muster(svcs).start() as m:
            t0 = time.monotonic()
            r = musterctl(m, "wait", "never", "--timeout=1")
            self.assertEqual(r.returncode, 1)
            self.assertGreaterEqual(time.monotonic() - t0, 1.0)
            self.assertIn("never has no ready instance after 1 s (state starting)", r.stderr)
            r = musterctl(m, "wait", "crash", "--timeout", "20")
            self.assertEqual(r.returncode, 1)
            self.assertIn("crash is failed", r.stderr)
            r = musterctl(m, "wait", "nope")
            self.assertEqual(r.returncode, 1)
            self.assertIn('no service "nope"', r.stderr)
            self.assertEqual(musterctl(m, "wait", "never", "--timeout", "x").returncode, 2)
            self.assertEqual(musterctl(m, "wait").returncode, 2)


class CpuTest(unittest.TestCase):

    def test_cpu_percent_of_a_busy_instance(self):
        svcs = [service("spin", [sys.executable, "-c", SPIN], heartbeat_ms=0),
                dummy("idle")]
        with Muster(svcs).start() as m:
            m.seen_or_expect(r"spin\[0\]: ready: ")
            m.seen_or_expect(r"idle\[0\]: ready: ")

            def cpu():
                r = ctl(m, cmd="status")
                return {s["name"]: s["instances"][0]["cpu_percent"] for s in r["services"]}
            # Readings are a second apart: the second one gives a figure.
            got = poll_until(lambda: (lambda c: c if c["spin"] > 30 else None)(cpu()),
                             what="spin's cpu_percent over 30")
            self.assertLess(got["spin"], 150)
            self.assertLess(got["idle"], 30)


class Tmux:
    """A tmux server of our own, on a socket in a temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="muster-tmux-")
        self.sock = os.path.join(self.dir, "tmux.sock")
        self.pid = None

    def run(self, *args):
        env = dict(os.environ, TERM="xterm-256color")
        return subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null"] + list(args),
                              capture_output=True, text=True, timeout=TIMEOUT, env=env,
                              check=True).stdout

    def start(self, command, width=110, height=30):
        self.run("new-session", "-d", "-s", "t", "-x", str(width), "-y", str(height), command)
        self.pid = int(self.run("display-message", "-p", "-t", "t", "#{pid}").strip())
        return self

    def screen(self):
        return self.run("capture-pane", "-p", "-t", "t")

    def wait_screen(self, pred, what):
        return poll_until(lambda: (lambda s: s if pred(s) else None)(self.screen()),
                          what=what, interval=0.1)

    def keys(self, *keys):
        self.run("send-keys", "-t", "t", *keys)

    def kill(self):
        if self.pid:
            try:
                self.run("kill-server")
            except subprocess.CalledProcessError:
                pass
            if not wait_pid_gone(self.pid, 5):
                os.kill(self.pid, signal.SIGKILL)
                wait_pid_gone(self.pid)
        shutil.rmtree(self.dir, ignore_errors=True)


def marked(screen):
    """The service name on the selected ('>') row."""
    for line in screen.splitlines():
        if line.startswith("> "):
            return line.split()[1]
    return None


class TopTest(unittest.TestCase):

    def test_top_in_a_terminal(self):
        self.assertTrue(shutil.which("tmux"), "tmux is not installed: run tools/deps.sh test")
        svcs = [dummy("alpha", instances=2), dummy("beta")]
        with Muster(svcs).start() as m:
            for label in ("alpha[0]", "alpha[1]", "beta[0]"):
                m.seen_or_expect(label.replace("[", r"\[").replace("]", r"\]") + ": ready: ")
            tmux = Tmux()
            try:
                tmux.start("%s -s %s top; echo \"top exited $?\"; exec cat"
                           % (MUSTERCTL, sock(m)))
                s = tmux.wait_screen(lambda s: "muster top" in s and "beta" in s, "top's screen")
                self.assertIn("3/3 instances ready", s)
                self.assertRegex(s, r"SERVICE +# +PID +STATE +CPU% +RSS +INFLIGHT +REQ/S "
                                    r"+RESTARTS +UPTIME")
                self.assertEqual(marked(s), "alpha")
                self.assertIn("-- logs: alpha --", s)
                rows = [ln for ln in s.splitlines() if ln.split()[:2] in (["0"], ["1"]) or
                        (len(ln.split()) > 3 and ln.split()[0] in ("0", "1") and
                         ln.split()[2] == "ready")]
                self.assertGreaterEqual(len(rows), 3, s)
                # Requests show up as a rate on the next refreshes.
                for _ in range(20):
                    self.assertEqual(http_get(m, "/alpha/echo")[0], 200)
                s = tmux.wait_screen(lambda s: any(
                    ln.startswith("> alpha") and ln.split()[8] not in ("-", "0.0")
                    for ln in s.splitlines()), "alpha's requests/s")
                # j and the down arrow select beta (the last: it stays).
                tmux.keys("j")
                s = tmux.wait_screen(lambda s: marked(s) == "beta", "beta selected")
                self.assertIn("-- logs: beta --", s)
                tmux.keys("Down")
                tmux.keys("Up")
                tmux.wait_screen(lambda s: marked(s) == "alpha", "alpha selected again")
                tmux.keys("k", "q")
                s = tmux.wait_screen(lambda s: "top exited" in s, "top to exit")
                self.assertIn("top exited 0", s)
                self.assertNotIn("muster top", s)  # the normal screen is back
            finally:
                tmux.kill()

    def test_top_needs_a_terminal(self):
        with Muster([dummy("alpha")]).start() as m:
            r = musterctl(m, "top")
            self.assertEqual(r.returncode, 2)
            self.assertIn("top needs a terminal", r.stderr)


if __name__ == "__main__":
    unittest.main()
