"""Headless Debian chromium driven over the DevTools protocol, standard
library only (tests of the admin status page).

chromium is started with --remote-debugging-pipe: it reads protocol
messages on its fd 3 and writes on its fd 4, each a JSON text ended by a
NUL byte, so no port and no WebSocket client are needed. A reader thread
files replies by id and keeps events; the test talks to pages (targets
attached in "flat" mode: commands carry their sessionId): the browser's
first one through the Browser's own methods, more with new_page(), each
in a browser context of its own unless asked otherwise (like two people:
no shared cookies or storage). Everything the test waits for is awaited
by bounded polling of the page, never by sleeping. close() ends chromium by its pid (Browser.close, then SIGTERM,
then SIGKILL) and kills any of its processes left behind, by pid.
"""
import base64
import fcntl
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from musterproc import TIMEOUT, descendants, proc_stat, wait_pid_gone

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--no-default-browser-check", "--mute-audio",
         "--remote-debugging-pipe"]


def chromium_path():
    """The chromium binary (Debian's `chromium` package), or None."""
    return shutil.which("chromium") or (os.path.exists("/usr/bin/chromium") and "/usr/bin/chromium")


class CDPError(AssertionError):
    pass


class Page:
    """One page of a Browser: a target attached in flat mode."""

    def __init__(self, browser, session, target_id):
        self.browser, self.session, self.target_id = browser, session, target_id

    def send(self, method, params=None, timeout=TIMEOUT):
        """One command to this page; its result (CDPError on an error)."""
        return self.browser.send(method, params, session=self.session, timeout=timeout)

    def viewport(self, width, height, mobile=False):
        """The page's size in CSS pixels (a phone when mobile)."""
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})

    def scripts(self, enabled):
        self.send("Emulation.setScriptExecutionDisabled", {"value": not enabled})

    def navigate(self, url):
        """Loads url and waits until its document is complete."""
        r = self.send("Page.navigate", {"url": url})
        if r.get("errorText"):
            raise CDPError("navigate %s: %s" % (url, r["errorText"]))
        self.wait_for("document.readyState === 'complete' && location.href === %s"
                      % json.dumps(url), what="page loaded")

    def reload(self):
        """Reloads the page and waits until the new document is complete."""
        self.eval("window.__cdpBeforeReload = 1")
        self.send("Page.reload", {"ignoreCache": True})
        self.wait_for("!window.__cdpBeforeReload && document.readyState === 'complete'",
                      what="page reloaded")

    def eval(self, expr):
        """The value of a JavaScript expression in the page (promises awaited)."""
        r = self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise CDPError("JavaScript error in %r: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait_for(self, expr, timeout=TIMEOUT, interval=0.05, what=None):
        """Polls expr in the page until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            v = self.eval(expr)
            if v:
                return v
            if time.monotonic() > deadline:
                raise AssertionError("%s not true within %.0f s (last: %r)"
                                     % (what or expr, timeout, v))
            time.sleep(interval)

    def console_errors(self):
        """Exceptions thrown and console.error calls in the page so far."""
        with self.browser.cond:
            evs = [e for e in self.browser.events if e.get("sessionId") == self.session]
        out = []
        for e in evs:
            if e.get("method") == "Runtime.exceptionThrown":
                out.append(json.dumps(e["params"]["exceptionDetails"])[:500])
            elif e.get("method") == "Runtime.consoleAPICalled" and \
                    e["params"].get("type") == "error":
                out.append(json.dumps(e["params"].get("args"))[:500])
        return out

    def screenshot(self, path, full_page=True):
        """Writes a PNG of the page (all of it when full_page) to path."""
        params = {"format": "png"}
        if full_page:
            m = self.send("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True,
                          clip={"x": 0, "y": 0, "width": m["width"], "height": m["height"],
                                "scale": 1})
        data = self.send("Page.captureScreenshot", params)["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))
        return path


class Browser:
    """One headless chromium with one page (more with new_page()); the
    page methods of the Browser are its first page's."""

    def __init__(self, width=1200, height=900, mobile=False):
        self.dir = tempfile.mkdtemp(prefix="muster-chromium-")
        self.next_id = 0
        self.cond = threading.Condition()
        self.replies = {}
        self.events = []
        self.closed = False
        self.proc = None
        self.session = None
        self.page = None
        self._start()
        try:
            self.page = self._open_page()
            self.session = self.page.session
            self.viewport(width, height, mobile)
        except BaseException:
            self.close()
            raise

    # ---- the process and the pipe ----

    def _start(self):
        cmd_r, cmd_w = os.pipe()   # we write commands, chromium reads them on fd 3
        out_r, out_w = os.pipe()   # chromium writes on fd 4, we read
        # copies numbered 10 and up, so that 3<&R 4>&W cannot clobber them (bash:
        # dash takes single-digit fds only)
        hi_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD, 10)
        hi_w = fcntl.fcntl(out_w, fcntl.F_DUPFD, 10)
        argv = [chromium_path()] + FLAGS + ["--user-data-dir=" + os.path.join(self.dir, "profile"),
                                            "about:blank"]
        shell = 'exec "$@" 3<&%d 4>&%d %d<&- %d>&-' % (hi_r, hi_w, hi_r, hi_w)
        self.log = open(os.path.join(self.dir, "chromium.log"), "wb")
        self.proc = subprocess.Popen(["/bin/bash", "-c", shell, "bash"] + argv,
                                     stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, pass_fds=(hi_r, hi_w),
                                     cwd=self.dir)
        for fd in {cmd_r, out_w, hi_r, hi_w}:
            os.close(fd)
        self.wfd, self.rfd = cmd_w, out_r
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        buf = b""
        while True:
            try:
                chunk = os.read(self.rfd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buf += chunk
            while b"\0" in buf:
                raw, buf = buf.split(b"\0", 1)
                msg = json.loads(raw)
                with self.cond:
                    if "id" in msg:
                        self.replies[msg["id"]] = msg
                    else:
                        self.events.append(msg)
                    self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def send(self, method, params=None, session=True, timeout=TIMEOUT):
        """Sends one command and returns its result; CDPError on an error.
        session: True for the first page's, a page's sessionId, or False
        for the browser itself."""
        with self.cond:
            self.next_id += 1
            mid = self.next_id
        msg = {"id": mid, "method": method, "params": params or {}}
        if isinstance(session, str):
            msg["sessionId"] = session
        elif session and self.session:
            msg["sessionId"] = self.session
        os.write(self.wfd, json.dumps(msg).encode() + b"\0")
        with self.cond:
            ok = self.cond.wait_for(lambda: mid in self.replies or self.closed, timeout)
            reply = self.replies.pop(mid, None)
        if reply is None:
            raise CDPError("%s: no reply within %.0f s%s; chromium log:\n%s"
                           % (method, timeout, "" if ok else " (timeout)", self.log_text()))
        if "error" in reply:
            raise CDPError("%s: %s" % (method, reply["error"]))
        return reply.get("result", {})

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "chromium.log"), "rb") as f:
                return f.read()[-4000:].decode(errors="replace")
        except OSError:
            return ""

    # ---- the pages ----

    def _open_page(self, context=None):
        params = {"url": "about:blank"}
        if context:
            params["browserContextId"] = context
        target = self.send("Target.createTarget", params, session=False)
        att = self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True},
                        session=False)
        page = Page(self, att["sessionId"], target["targetId"])
        page.send("Page.enable")
        page.send("Runtime.enable")
        return page

    def new_page(self, width=1200, height=900, mobile=False, own_context=True):
        """Another page, in a browser context of its own (no cookies or
        storage shared with the others) unless own_context is False."""
        context = None
        if own_context:
            context = self.send("Target.createBrowserContext", session=False)["browserContextId"]
        page = self._open_page(context)
        page.viewport(width, height, mobile)
        return page

    # The first page's methods, on the Browser itself.

    def viewport(self, width, height, mobile=False):
        self.page.viewport(width, height, mobile)

    def scripts(self, enabled):
        self.page.scripts(enabled)

    def navigate(self, url):
        self.page.navigate(url)

    def reload(self):
        self.page.reload()

    def eval(self, expr):
        return self.page.eval(expr)

    def wait_for(self, expr, timeout=TIMEOUT, interval=0.05, what=None):
        return self.page.wait_for(expr, timeout, interval, what)

    def console_errors(self):
        return self.page.console_errors()

    def screenshot(self, path, full_page=True):
        return self.page.screenshot(path, full_page)

    # ---- the end ----

    def close(self):
        """Ends chromium by pid and removes its profile."""
        if self.proc is None:
            return
        pids = descendants(self.proc.pid)
        if self.proc.poll() is None and not self.closed:
            try:
                self.send("Browser.close", session=False, timeout=5)
            except (CDPError, OSError):
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                self.proc.wait(TIMEOUT / 3)
                break
            except subprocess.TimeoutExpired:
                self.proc.send_signal(sig)
        self.proc.wait()
        for pid, start in pids.items():   # a renderer or helper left behind
            st = proc_stat(pid)
            if st and st[0] != "Z" and st[3] == start:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                wait_pid_gone(pid, 5)
        os.close(self.wfd)
        self.reader.join(5)
        os.close(self.rfd)
        self.log.close()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
