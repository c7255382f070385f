"""The chat's page in a real browser (services/chat): headless Debian
chromium over the DevTools protocol (tests/lib/cdp.py), two pages in
browser contexts of their own (two people). They join a room and see each
other's messages (as text, never as HTML); then both chat instances are
SIGKILLed, several times, while one page keeps sending: neither page's
WebSocket nor EventSource closes (muster holds them), every message shows
exactly once on both pages, in the order sent (copies that come again are
dropped by id); a page reloaded afterwards shows the room's history.
Screenshots go to $MUSTER_TEST_OUT (ctest: build/.../tests/chat_page/) or
a temp dir that is kept, printed on stderr: look at them."""
import os
import re
import signal
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import Muster, ctl, gateway_addr, service, TIMEOUT  # noqa: E402
import cdp  # noqa: E402

ROUNDS = 3          # times both instances are killed
MAX_SENT = 60       # the room keeps 100: everything stays in its history

# The room as a page shows it: [type, from or name, text, id, redelivered].
SHOWN = """
Array.prototype.map.call(document.querySelectorAll('#log li[data-id]'), function (li) {
  var from = li.querySelector('.from'), text = li.querySelector('.text');
  return [li.getAttribute('data-type'), from ? from.textContent : li.textContent,
          text ? text.textContent : null, li.getAttribute('data-id'),
          li.hasAttribute('data-redelivered')];
})
"""


def out_dir():
    d = os.environ.get("MUSTER_TEST_OUT")
    if d:
        os.makedirs(d, exist_ok=True)
        return d
    return tempfile.mkdtemp(prefix="muster-chat-page-")


def js(v):
    import json
    return json.dumps(v)


class Sender:
    """Page types and sends a numbered message every interval seconds
    (pacing a load, not waiting for anything) until stopped or MAX_SENT."""

    def __init__(self, page, prefix, interval=0.08):
        self.page, self.prefix, self.interval = page, prefix, interval
        self.sent, self.stop_flag, self.error, self.done = [], threading.Event(), None, False
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        try:
            while not self.stop_flag.is_set() and len(self.sent) < MAX_SENT:
                text = "%s %02d" % (self.prefix, len(self.sent))
                say(self.page, text)
                with self.cond:
                    self.sent.append(text)
                    self.cond.notify_all()
                self.stop_flag.wait(self.interval)
        except Exception as e:  # noqa: BLE001 - reported by stop()
            self.error = e
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def count(self):
        with self.cond:
            return len(self.sent)

    def wait_count(self, n):
        """Waits until n messages were sent (or the sender ended)."""
        with self.cond:
            self.cond.wait_for(lambda: len(self.sent) >= n or self.done, TIMEOUT)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_flag.set()
        self.thread.join(TIMEOUT)
        if self.error:
            raise self.error
        return self.sent


def join(page, name, room):
    """Fills the join form and submits it, as a person would."""
    page.wait_for("document.getElementById('join-button') !== null", what="the join form")
    page.eval("document.getElementById('name').value = %s; document.getElementById('room')"
              ".value = %s; document.getElementById('join-button').click(); true"
              % (js(name), js(room)))
    wait_live(page)


def wait_live(page):
    page.wait_for("document.getElementById('live').getAttribute('data-live') === 'live'",
                  what="the page live (WebSocket and EventSource open)")


def say(page, text):
    page.eval("document.getElementById('text').value = %s; "
              "document.getElementById('send').click(); true" % js(text))


def says(page):
    """(from, text) of every message the page shows, in order."""
    return [(r[1], r[2]) for r in page.eval(SHOWN) if r[0] == "say"]



def wait_says(page, want, what):
    """Polls the page (bounded) until it shows exactly the messages want,
    in order."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        got = says(page)
        if got == want:
            return
        if time.monotonic() > deadline:
            raise AssertionError("%s: not within %.0f s; the page shows %r, want %r"
                                 % (what, TIMEOUT, got, want))
        time.sleep(0.05)


class ChatBrowserTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if not cdp.chromium_path():
            raise AssertionError("chromium is not installed: run `tools/deps.sh test` as root")
        cls.out = out_dir()
        sys.stderr.write("chat page screenshots: %s\n" % cls.out)

    def setUp(self):
        svc = service("chat", ["chat_service"], instances=2, routes=["/chat"],
                      restart={"backoff_initial_ms": 50, "backoff_max_ms": 400,
                               "max_restarts": 100, "window_s": 60})
        svc["ws"] = {"ack": True}
        self.m = Muster([svc], realtime={"history_size": 100}).start()
        self.addCleanup(self.m.stop)
        for i in range(2):
            self.m.seen_or_expect(r"chat\[%d\]: ready: " % i)
        self.m.seen_or_expect(r"gateway: listening on ")
        self.url = "http://%s:%d/chat/" % gateway_addr(self.m)

    def browser(self):
        b = cdp.Browser(width=900, height=640)
        self.addCleanup(b.close)
        return b

    def kill_both(self):
        """SIGKILLs both instances; returns once both are ready again."""
        pids = {i["index"]: i["pid"] for i in
                ctl(self.m, cmd="status", service="chat")["services"][0]["instances"]}
        for pid in pids.values():
            os.kill(pid, signal.SIGKILL)
        exited, ready = set(), set()
        while len(exited) < 2 or len(ready) < 2:
            mt = self.m.expect(r"chat\[(\d)\]: (exit: killed by signal 9|ready: )")
            (exited if mt.group(2).startswith("exit") else ready).add(int(mt.group(1)))
        now = {i["index"]: i["pid"] for i in
               ctl(self.m, cmd="status", service="chat")["services"][0]["instances"]}
        self.assertTrue(all(now[k] != pids[k] for k in pids), (pids, now))

    def test_two_people_while_the_instances_die(self):
        b = self.browser()
        ada, bob = b.page, b.new_page(900, 640)
        ada.navigate(self.url)
        join(ada, "Ada", "lobby")
        bob.navigate(self.url)
        join(bob, "Bob", "lobby")
        self.assertEqual(ada.eval("location.pathname + location.search"), "/chat/?room=lobby")
        # each sees the other's, and who came
        tricky = "<img src=x onerror=alert(1)> & <b>bold</b> &amp;"
        say(ada, "hello from Ada")
        wait_says(bob, [("Ada", "hello from Ada")], "Ada's hello on Bob's page")
        say(bob, tricky)
        for page in (ada, bob):
            wait_says(page, [("Ada", "hello from Ada"), ("Bob", tricky)], "both messages")
            self.assertEqual(page.eval("document.querySelectorAll('#log img, #log b:not(.from)')"
                                       ".length"), 0)
        self.assertIn(["join", "Bob joined", None],
                      [r[:3] for r in ada.eval(SHOWN)])
        self.assertEqual(ada.eval("document.querySelectorAll('#log li.mine').length"), 1)
        ada.screenshot(os.path.join(self.out, "chat-ada.png"))

        # both instances die, again and again, while Ada keeps talking
        sender = Sender(ada, "Ada says").start()
        try:
            for _ in range(ROUNDS):
                n = sender.count()
                self.kill_both()
                sender.wait_count(n + 4)   # some more on the new instances too
        finally:
            sent = sender.stop()
        self.assertGreaterEqual(len(sent), 4 * ROUNDS)
        want = [("Ada", "hello from Ada"), ("Bob", tricky)] + [("Ada", t) for t in sent]
        for page, who in ((ada, "Ada"), (bob, "Bob")):
            wait_says(page, want, "every message once on %s's page" % who)
            ids = [r[3] for r in page.eval(SHOWN)]
            self.assertEqual(len(ids), len(set(ids)))
            st = page.eval("chat.stats")
            # muster held them: never closed, never reopened
            self.assertEqual((st["wsOpen"], st["wsClose"], st["esOpen"], st["esError"],
                              st["resets"]), (1, 0, 1, 0, 0), (who, st))
            self.assertEqual(page.eval("[chat.ws.readyState, chat.es.readyState]"), [1, 1])
        redelivered = sum(1 for r in bob.eval(SHOWN) if r[4])
        sys.stderr.write("chat page: %d messages sent during %d double kills; %d duplicates "
                         "dropped on Ada's page, %d on Bob's; %d shown from a redelivery\n"
                         % (len(sent), ROUNDS, ada.eval("chat.stats.duplicates"),
                            bob.eval("chat.stats.duplicates"), redelivered))
        ada.screenshot(os.path.join(self.out, "chat-ada-after-kills.png"))

        # a reload: the same person, back in the room, with its history
        bob.reload()
        wait_live(bob)
        wait_says(bob, want, "the room's history after Bob's reload")
        self.assertEqual(bob.eval("document.getElementById('where').textContent"),
                         "Bob in #lobby")
        st = bob.eval("chat.stats")
        self.assertEqual((st["wsOpen"], st["esOpen"], st["resets"]), (1, 1, 0), st)
        shown = bob.eval(SHOWN)
        self.assertEqual([r[:2] for r in shown if r[0] != "say"][:2],
                         [["join", "Ada joined"], ["join", "Bob joined"]])
        # and the room goes on, both ways
        say(bob, "back")
        wait_says(ada, want + [("Bob", "back")], "Bob's message after his reload")
        self.assertTrue(any(r[:2] == ["leave", "Bob left"] for r in ada.eval(SHOWN)))
        bob.screenshot(os.path.join(self.out, "chat-bob-reloaded.png"))
        for page in (ada, bob):
            self.assertEqual(page.console_errors(), [])
            self.assertLessEqual(page.eval("document.documentElement.scrollWidth"),
                                 page.eval("window.innerWidth"))

    def test_switch_rooms_and_a_phone(self):
        b = self.browser()
        b.viewport(360, 740, mobile=True)
        b.navigate(self.url + "?room=first")
        self.assertEqual(b.eval("document.getElementById('room').value"), "first")
        join(b, "Zoë 😀", "first")
        say(b, "in first")
        wait_says(b.page, [("Zoë 😀", "in first")], "the message in first")
        b.eval("document.getElementById('switch-room').value = 'second'; "
               "document.querySelector('#switch-form button').click(); true")
        wait_live(b)
        self.assertEqual(b.eval("location.search"), "?room=second")
        say(b, "in second")
        wait_says(b.page, [("Zoë 😀", "in second")], "only second's messages")
        # first heard that Zoë left
        rooms = {r["room"]: r for r in ctl(self.m, cmd="rooms")["rooms"]}
        self.assertIn("second", rooms)
        self.assertLessEqual(b.eval("document.documentElement.scrollWidth"), 360)
        self.assertEqual(b.console_errors(), [])
        b.screenshot(os.path.join(self.out, "chat-360.png"))
        # back to first: its history, with the leave and both joins
        b.eval("document.getElementById('switch-room').value = 'first'; "
               "document.querySelector('#switch-form button').click(); true")
        wait_live(b)
        wait_says(b.page, [("Zoë 😀", "in first")], "first's history")
        b.wait_for("document.querySelectorAll('#log li.note').length >= 3",
                   what="join, leave, join in first")
        notes = [r[1] for r in b.eval(SHOWN) if r[0] != "say"]
        self.assertEqual(notes[:3], ["Zoë 😀 joined", "Zoë 😀 left", "Zoë 😀 joined"])
        self.assertTrue(re.match(r"^\d\d:\d\d$", b.eval("document.querySelector('#log time')"
                                                        ".textContent")))


if __name__ == "__main__":
    unittest.main()
