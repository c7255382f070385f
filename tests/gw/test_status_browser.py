"""The admin status page in a real browser (SPEC §11): headless Debian
chromium over the DevTools protocol (tests/lib/cdp.py). The page shows
the services and instances; an instance killed with SIGKILL turns red
(not ready) within 2 s and comes back to ready without a reload; the
script renders what muster renders; at 360 px there is no horizontal
scroll; without script the page still shows the state. Screenshots go to
$MUSTER_TEST_OUT (ctest: build/.../tests/status_page/) or a temp dir that
is kept, printed on stderr: look at them."""
import http.client
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import Muster, ctl, free_port, gateway_addr, service, TIMEOUT  # noqa: E402
import cdp  # noqa: E402

RED_BG = "rgb(255, 227, 227)"   # --bad-bg of the light scheme (headless default)

# Every instance row the page shows, after each change of the DOM: [time
# (ms since the epoch), service, index, pid, state, background colour].
RECORDER = """
window.__noReload = 1;
window.__seen = [];
(function () {
  function rec() {
    var now = Date.now();
    document.querySelectorAll('#services tr[data-svc]').forEach(function (tr) {
      window.__seen.push([now, tr.getAttribute('data-svc'), +tr.getAttribute('data-index'),
                          +tr.getAttribute('data-pid'), tr.getAttribute('data-state'),
                          getComputedStyle(tr).backgroundColor]);
    });
  }
  new MutationObserver(rec).observe(document.getElementById('services'),
                                    {subtree: true, childList: true, attributes: true});
  rec();
})();
true
"""

# The rows as [service, index, pid, state, {label: text}].
ROWS = """
Array.prototype.map.call(document.querySelectorAll('#services tr[data-svc]'), function (tr) {
  var cells = {};
  tr.querySelectorAll('td').forEach(function (td) {
    cells[td.getAttribute('data-l')] = td.textContent;
  });
  return [tr.getAttribute('data-svc'), +tr.getAttribute('data-index'),
          +tr.getAttribute('data-pid'), tr.getAttribute('data-state'), cells];
})
"""

# What muster renders (fetched again, parsed) next to what the script
# made of the same state: the texts that do not change by themselves.
SAME_MARKUP = """
fetch('/', {cache: 'no-store'}).then(function (r) { return r.text(); }).then(function (t) {
  var served = new DOMParser().parseFromString(t, 'text/html');
  function texts(doc) {
    var out = [];
    doc.querySelectorAll('#services section.svc').forEach(function (s) {
      out.push(s.getAttribute('data-svc'), s.getAttribute('data-state'),
               s.querySelector('.sh').textContent, s.querySelectorAll('dt').length,
               s.querySelectorAll('table.inst th').length);
      s.querySelectorAll('tr[data-svc]').forEach(function (tr) {
        ['instance', 'state', 'pid', 'restarts', 'last exit', 'in-flight', 'address']
          .forEach(function (l) {
            var td = tr.querySelector('td[data-l="' + l + '"]');
            out.push(td || l !== 'address' ? td.textContent : null);
          });
        out.push(tr.querySelectorAll('td').length, tr.getAttribute('data-state'));
      });
    });
    return out;
  }
  return JSON.stringify([texts(served), texts(document)]);
})
"""


def out_dir():
    d = os.environ.get("MUSTER_TEST_OUT")
    if d:
        os.makedirs(d, exist_ok=True)
        return d
    d = tempfile.mkdtemp(prefix="muster-status-page-")
    return d


class Traffic:
    """A few requests a second through the gateway (req/s, latencies)."""

    def __init__(self, m):
        self.m, self.stop_flag = m, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        paths = ["/dummy/echo", "/dummy/sleep?ms=3", "/dummy/sleep?ms=30", "/other/echo"]
        k = 0
        while not self.stop_flag.wait(0.05):
            c = http.client.HTTPConnection(*gateway_addr(self.m), timeout=TIMEOUT)
            try:
                c.request("GET", paths[k % len(paths)])
                c.getresponse().read()
            except OSError:
                pass        # an instance being killed: not this test's subject
            finally:
                c.close()
            k += 1

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_flag.set()
        self.thread.join(TIMEOUT)


class StatusPageBrowserTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not cdp.chromium_path():
            raise AssertionError("chromium is not installed: run `tools/deps.sh test` as root")
        cls.out = out_dir()
        sys.stderr.write("status page screenshots: %s\n" % cls.out)

    def setUp(self):
        self.admin = ("127.0.0.1", free_port())
        self.m = Muster([service("dummy", ["dummy_service"], instances=2, routes=["/dummy"]),
                         service("other", ["dummy_service"], instances=1, routes=["/other"])],
                        admin={"listen": "%s:%d" % self.admin}).start()
        self.addCleanup(self.m.stop)
        for label in ("dummy[0]", "dummy[1]", "other[0]"):
            self.m.seen_or_expect(re.escape(label) + r": ready: ")
        self.m.seen_or_expect(r"admin: listening on ")
        self.url = "http://%s:%d/" % self.admin

    def browser(self, **kw):
        b = cdp.Browser(**kw)
        self.addCleanup(b.close)
        return b

    def wait_live(self, b):
        """Waits until the script has its event stream and a first poll."""
        b.wait_for("document.getElementById('live').getAttribute('data-live') === 'live' && "
                   "document.getElementById('updated').textContent.indexOf('updated') === 0",
                   what="the page live")

    def row(self, b, svc, index):
        rows = [r for r in b.eval(ROWS) if r[0] == svc and r[1] == index]
        self.assertEqual(len(rows), 1, rows)
        return rows[0]

    def test_kill_turns_red_and_comes_back_without_reload(self):
        traffic = Traffic(self.m).start()
        self.addCleanup(traffic.stop)
        b = self.browser(width=1200, height=900)
        b.navigate(self.url)
        self.wait_live(b)
        st = ctl(self.m, cmd="status")
        want = [(s["name"], i["index"], i["pid"], "ready")
                for s in st["services"] for i in s["instances"]]
        self.assertEqual([tuple(r[:4]) for r in b.eval(ROWS)], want)
        self.assertEqual(b.eval("Array.prototype.map.call(document.querySelectorAll("
                                "'section.svc'), function (s) { return s.getAttribute("
                                "'data-svc') + ':' + s.getAttribute('data-state'); })"),
                         ["dummy:running", "other:running"])
        # requests flow: rates, the histogram and a sparkline are drawn
        b.wait_for("document.querySelectorAll('section[data-svc=\"dummy\"] .bars i').length "
                   "=== 14 && document.querySelector('section[data-svc=\"dummy\"] polyline')"
                   ".getAttribute('points').split(' ').length >= 3", what="charts drawn")
        old = self.row(b, "dummy", 0)[2]
        b.eval(RECORDER)
        killed = time.time() * 1000
        os.kill(old, signal.SIGKILL)
        # not ready (red) within 2 s: the exit event, else the next poll
        b.wait_for("window.__seen.some(function (r) { return r[1] === 'dummy' && r[2] === 0 "
                   "&& r[4] !== 'ready'; })", timeout=TIMEOUT, what="dummy[0] not ready")
        seen = b.eval("window.__seen")
        down = [r for r in seen if r[1] == "dummy" and r[2] == 0 and r[4] != "ready"]
        self.assertLess(down[0][0] - killed, 2000, down[0])
        for r in down:
            if r[4] in ("exited", "backoff"):
                self.assertEqual(r[5], RED_BG, r)
        self.assertIn("exited", [r[4] for r in down])   # the exit event, shown at once
        # back to ready, with a new process, without a reload
        self.m.expect(r"dummy\[0\]: ready: ")
        b.wait_for("(function () { var tr = document.querySelector('tr[data-svc=\"dummy\"]"
                   "[data-index=\"0\"]'); return tr && tr.getAttribute('data-state') === "
                   "'ready' && +tr.getAttribute('data-pid') !== %d; })()" % old,
                   what="dummy[0] ready again")
        self.assertEqual(b.eval("window.__noReload"), 1)
        new = ctl(self.m, cmd="status", service="dummy")["services"][0]["instances"][0]
        svc, index, pid, state, cells = self.row(b, "dummy", 0)
        self.assertEqual((pid, state), (new["pid"], "ready"))
        b.wait_for("(function () { var tr = document.querySelector('tr[data-svc=\"dummy\"]"
                   "[data-index=\"0\"]'); return tr.querySelector('td[data-l=\"last exit\"]')"
                   ".textContent === 'SIGKILL' && tr.querySelector('td[data-l=\"restarts\"]')"
                   ".textContent === '1'; })()", what="last exit and restarts (the next poll)")
        self.assertEqual(self.row(b, "dummy", 1)[3], "ready")   # the other one never moved
        self.assertTrue(b.eval("document.querySelector('#events li[data-type=\"exit\"]')"
                               ".textContent.indexOf('dummy[0]') >= 0"))
        traffic.stop()
        # what the script renders is what muster renders
        b.wait_for("document.querySelector('section[data-svc=\"dummy\"] dd').textContent "
                   "=== '2/2 ready'", what="both ready")
        # (the same once a poll followed the last request: bounded retries)
        deadline = time.monotonic() + TIMEOUT
        while True:
            served, live = json.loads(b.eval(SAME_MARKUP))
            if live == served or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(live, served)
        self.assertEqual(b.console_errors(), [])
        path = b.screenshot(os.path.join(self.out, "status-1200.png"))
        self.assertGreater(os.path.getsize(path), 10000)

    def test_upstream_addresses_as_muster_renders_them(self):
        # an upstream service's instances show where they listen, the
        # script's table as muster's; the IPC services have no such column
        sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "up"))
        from uplib import up_svc
        admin = ("127.0.0.1", free_port())
        web = up_svc("web", 2, routes=["/web"])
        m = Muster([web, service("dummy", ["dummy_service"], routes=["/dummy"])],
                   admin={"listen": "%s:%d" % admin}).start()
        self.addCleanup(m.stop)
        for label in ("web[0]", "web[1]", "dummy[0]"):
            m.seen_or_expect(re.escape(label) + r": ready: ")
        b = self.browser(width=1200, height=900)
        b.navigate("http://%s:%d/" % admin)
        self.wait_live(b)
        base = web["upstream"]["port"]
        self.assertEqual([(r[0], r[4].get("address")) for r in b.eval(ROWS)],
                         [("web", "127.0.0.1:%d" % base), ("web", "127.0.0.1:%d" % (base + 1)),
                          ("dummy", None)])
        served, live = json.loads(b.eval(SAME_MARKUP))
        self.assertEqual(live, served)
        self.assertEqual(b.console_errors(), [])

    def test_phone_width_and_without_script(self):
        for _ in range(5):
            c = http.client.HTTPConnection(*gateway_addr(self.m), timeout=TIMEOUT)
            c.request("GET", "/dummy/sleep?ms=5")
            c.getresponse().read()
            c.close()
        b = self.browser(width=360, height=780, mobile=True)
        b.navigate(self.url)
        self.wait_live(b)
        self.assertEqual(b.eval("window.innerWidth"), 360)
        # no horizontal scroll: nothing is wider than the screen
        self.assertLessEqual(b.eval("document.documentElement.scrollWidth"), 360)
        wide = b.eval("Array.prototype.filter.call(document.querySelectorAll('body *'), "
                      "function (e) { return e.getBoundingClientRect().right > 360.5; })"
                      ".map(function (e) { return e.tagName + '.' + e.className; })")
        self.assertEqual(wide, [])
        self.assertEqual(len(b.eval(ROWS)), 3)
        self.assertEqual(b.console_errors(), [])
        b.screenshot(os.path.join(self.out, "status-360.png"))
        # without script: muster's HTML alone shows the state
        b.scripts(False)
        b.navigate(self.url + "?noscript")
        rows = b.eval(ROWS)
        st = ctl(self.m, cmd="status")
        self.assertEqual([tuple(r[:4]) for r in rows],
                         [(s["name"], i["index"], i["pid"], i["state"])
                          for s in st["services"] for i in s["instances"]])
        self.assertEqual(b.eval("document.getElementById('live').textContent"), "static page")
        self.assertIn("requests5", b.eval("document.querySelector('section[data-svc=\"dummy\"] "
                                          "dl').textContent"))
        self.assertLessEqual(b.eval("document.documentElement.scrollWidth"), 360)
        b.screenshot(os.path.join(self.out, "status-360-noscript.png"))


if __name__ == "__main__":
    unittest.main()
