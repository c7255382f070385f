"""services[].watch, as PM2's watch: a file saved under the watched tree
restarts the service (rolling, so requests still get answers), a failed
one starts again, a stopped one stays stopped; names matching
watch_ignore (dot files, "*~", "*.log", node_modules by default) and
muster's own log directory never count. Every wait is on a log line."""
import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from musterproc import Muster, ctl, service  # noqa: E402


def write(path, text="x\n"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def app_muster(script, **kw):
    """A muster whose service runs script in DIR/app, watched, with
    muster's logs inside the watched tree (app/logs)."""
    m = Muster([service("web", ["sh", "-c", script], cwd="app", watch=True,
                        watch_delay_ms=100, routes=["/web"], **kw)],
               logs={"dir": "app/logs"})
    app = os.path.join(m.dir, "app")
    write(os.path.join(app, "src", "main.js"))
    write(os.path.join(app, "node_modules", "lib", "index.js"))
    return m, app


def pid_of(m):
    return ctl(m, cmd="status", service="web")["services"][0]["instances"][0]["pid"]


class WatchTest(unittest.TestCase):

    def test_a_saved_file_restarts_the_service_and_ignored_names_do_not(self):
        m, app = app_muster('echo "up $$"; exec dummy_service')
        with m.start():
            m.expect(r"web: watching \d+ directories for changes")
            m.expect(r"web\[0\]: ready: ")
            old = pid_of(m)
            # Ignored first: had any counted, the restart would name it.
            write(os.path.join(app, "node_modules", "lib", "index.js"), "y\n")
            write(os.path.join(app, "src", ".main.js.swp"))
            write(os.path.join(app, "src", "main.js~"))
            write(os.path.join(app, "debug.log"))
            write(os.path.join(app, "src", "main.js"), "saved\n")
            m.expect(r"web: watch: %s/src/main\.js changed; restarting$" % app)
            m.expect(r"web: restarted: every instance replaced")
            self.assertNotEqual(pid_of(m), old)
            # The new instance wrote "up" to app/logs/web.log: not a change.
            # A directory made now is watched too.
            write(os.path.join(app, "src", "new", "route.js"))
            m.expect(r"web: watch: %s/src/new/route\.js changed; restarting$" % app)
            m.expect(r"web: restarted: every instance replaced")

    def test_a_failed_service_starts_when_the_fix_is_saved(self):
        m, app = app_muster("test -f fixed || exit 3; exec dummy_service",
                            restart={"max_restarts": 1, "backoff_initial_ms": 10})
        with m.start():
            m.expect(r"web: failed: ")
            write(os.path.join(app, "fixed"))
            m.expect(r"web: watch: %s/fixed changed; restarting$" % app)
            m.expect(r"web\[0\]: ready: ")
            self.assertEqual(ctl(m, cmd="status", service="web")["services"][0]["state"],
                             "running")

    def test_a_stopped_service_stays_stopped(self):
        m, app = app_muster("exec dummy_service")
        with m.start():
            m.expect(r"web\[0\]: ready: ")
            self.assertTrue(ctl(m, cmd="stop", service="web")["ok"])
            m.expect(r"web\[0\]: stop: stopped")
            write(os.path.join(app, "src", "main.js"), "saved\n")
            m.expect(r"web: %s/src/main\.js changed; not restarting a service that is stopped"
                     % app)
            self.assertEqual(ctl(m, cmd="status", service="web")["services"][0]["state"],
                             "stopped")


if __name__ == "__main__":
    unittest.main()
