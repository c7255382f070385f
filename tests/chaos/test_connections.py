"""Connection abuse (hardening issue, part 3).

Clients that hold connections without finishing a request (idle,
slowloris), more clients than max_connections, clients that stop reading a
large response, and clients that reset mid-request. Through all of it
normal clients keep getting answers, muster's fds come back to their
baseline once the abusers are gone, its memory is bounded by what it
really buffered, and at the end it exits 0 on SIGTERM leaving no process.
Figures are printed (stderr)."""
import os
import resource
import select
import signal
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from musterproc import (Load, LogFollow, Muster, ctl, descendants, fd_count,  # noqa: E402
                        free_port, gateway_addr, http_get, no_quarantine_env, poll_until,
                        rss_kb, service, stop_clean, survivors, TIMEOUT)

MiB = 1024  # rss_kb() is in kB
# What may stay resident once buffers are freed: the release build gives
# everything back; ASan's allocator keeps some 10-16 MB cached.
RELEASED = 32 * MiB


def raise_fd_limit(n):
    """Raises our soft fd limit (muster inherits it); True when >= n."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n and hard >= n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= n


def gateway(**kw):
    kw.setdefault("listen", "127.0.0.1:%d" % free_port())
    kw.setdefault("access_log", None)
    return kw


class RssPeak:
    """Samples a process's RSS every 10 ms (a /proc poll) to keep its peak."""

    def __init__(self, pid):
        self.pid, self.peak = pid, rss_kb(pid)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.wait(0.01):
            try:
                self.peak = max(self.peak, rss_kb(self.pid))
            except (FileNotFoundError, ProcessLookupError):
                return

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.peak


def timed_get(m, path):
    t0 = time.monotonic()
    status = http_get(m, path)[0]
    return status, time.monotonic() - t0


def connect(m):
    return socket.create_connection(gateway_addr(m), timeout=TIMEOUT)


def rst_close(s):
    """Closes s with an RST instead of a FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def read_all(s):
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        data += chunk
    return data


class ConnectionsTest(unittest.TestCase):

    def start(self, services, env=None, **gw):
        m = Muster(services, gateway=gateway(**gw))
        full_env = no_quarantine_env()  # freed memory must show in RSS
        full_env.update(env or {})
        m.start(extra_env=full_env)
        self.addCleanup(m.stop)
        self.m = m
        for svc in services:
            for i in range(svc["instances"]):
                m.seen_or_expect(r"%s\[%d\]: ready: " % (svc["name"], i))
        return m

    def baseline(self):
        self.fd0, self.rss0 = fd_count(self.m.proc.pid), rss_kb(self.m.proc.pid)

    def fds_back(self, slack=3):
        """Waits until muster's fd count is back near its baseline."""
        pid = self.m.proc.pid
        return poll_until(lambda: fd_count(pid) <= self.fd0 + slack and fd_count(pid),
                          what="muster's fd count back to %d" % self.fd0)

    def finish(self):
        self.assertIsNone(self.m.proc.poll(), "muster died")
        code, left = stop_clean(self.m)
        self.assertEqual(code, 0, "muster's exit code after SIGTERM")
        self.assertEqual(left, [], "processes left behind")

    def stuck_readers(self, m, n):
        """n clients (a 4 KiB receive buffer) that ask "big" for 8 MB each
        and read nothing; returns once every response left the instances
        (muster now holds what the clients do not read)."""
        stuck = []
        self.addCleanup(lambda: [s.close() for s in stuck])
        for _ in range(n):
            s = socket.socket()
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.settimeout(TIMEOUT)
            s.connect(gateway_addr(m))
            s.sendall(b"GET /big/bytes?n=8000000 HTTP/1.1\r\nHost: t\r\n\r\n")
            stuck.append(s)

        def all_relayed():
            insts = ctl(m, cmd="status", service="big")["services"][0]["instances"]
            return (sum(i["requests"] for i in insts) >= n and
                    sum(i["inflight"] for i in insts) == 0)
        poll_until(all_relayed, timeout=TIMEOUT * 2, interval=0.1,
                   what="%d responses relayed" % n)
        return stuck

    # ---- holding connections ----

    def test_1000_idle_and_1000_slowloris_do_not_starve_clients(self):
        if not raise_fd_limit(8192):
            self.skipTest("cannot raise the fd limit to 8192")
        m = self.start([service("dummy", ["dummy_service"], routes=["/dummy"], instances=2)],
                       max_connections=5000, header_timeout_ms=120000)
        load = Load(m, "/dummy/echo", n=2).start()
        self.addCleanup(load.stop)
        load.wait_for(20)
        self.baseline()
        idle = [connect(m) for _ in range(1000)]
        slow = [connect(m) for _ in range(1000)]
        self.addCleanup(lambda: [s.close() for s in idle + slow])
        # muster really holds them all (accepted, not waiting in the backlog)
        held = poll_until(lambda: fd_count(m.proc.pid) >= self.fd0 + 2000 and fd_count(m.proc.pid),
                          what="2000 connections accepted")
        worst, probes = 0.0, 0
        line = b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 40
        for rnd in range(len(line)):  # one more byte of the head each round
            for s in slow:
                s.send(line[rnd:rnd + 1])
            for _ in range(5):
                status, took = timed_get(m, "/dummy/echo")
                self.assertEqual(status, 200)
                worst, probes = max(worst, took), probes + 1
        n0 = load.total()
        load.wait_for(n0 + 20)
        # nobody got an answer or was cut: the slowloris are still within
        # header_timeout_ms, the idle ones too
        p = select.poll()
        for s in idle + slow:
            p.register(s, select.POLLIN)
        self.assertEqual(p.poll(0), [], "an idle or slowloris connection was answered or closed")
        for s in idle + slow:
            s.close()
        self.fds_back()
        load.stop()
        print("\n  2000 held connections: muster fds %d -> %d; %d probes, slowest %.3f s; "
              "load %s, errors %d; RSS %d -> %d kB" % (self.fd0, held, probes, worst,
                                                      load.statuses, len(load.errors), self.rss0,
                                                      rss_kb(m.proc.pid)), file=sys.stderr)
        self.assertEqual(load.errors, [])
        self.assertEqual(set(load.statuses), {200})
        self.assertLess(worst, 5.0, "a normal request waited behind the abusers")
        self.finish()

    def test_slowloris_and_silent_connections_get_408_at_header_timeout(self):
        m = self.start([service("dummy", ["dummy_service"], routes=["/dummy"])],
                       header_timeout_ms=1000)
        load = Load(m, "/dummy/echo", n=2).start()
        self.addCleanup(load.stop)
        load.wait_for(20)
        self.baseline()
        line = b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 1000
        t0 = time.monotonic()
        silent = [connect(m) for _ in range(200)]
        slow = [connect(m) for _ in range(200)]
        self.addCleanup(lambda: [s.close() for s in silent + slow])
        sent = {s: 0 for s in slow}
        answers, took = {}, []
        open_ = set(silent + slow)
        by_fd = {s.fileno(): s for s in open_}
        p = select.poll()
        for s in open_:
            p.register(s, select.POLLIN)
        while open_ and time.monotonic() - t0 < TIMEOUT:
            # a byte every 100 ms to each slowloris; the poll is the pace
            # and also where the 408s arrive
            for fd, _ in p.poll(100):
                s = by_fd[fd]
                p.unregister(fd)
                answers[s] = read_all(s)
                took.append(time.monotonic() - t0)
                open_.discard(s)
            for s in slow:
                if s in open_:
                    try:
                        s.send(line[sent[s]:sent[s] + 1])
                        sent[s] += 1
                    except OSError:
                        pass
        self.assertEqual(open_, set(), "connections never timed out")
        for s, data in answers.items():
            self.assertTrue(data.startswith(b"HTTP/1.1 408 "), data[:200])
        self.assertGreaterEqual(min(took), 0.9)  # not before header_timeout_ms
        self.fds_back()
        n0 = load.total()
        load.wait_for(n0 + 20)
        load.stop()
        print("\n  400 slow/silent connections: 408 after %.2f..%.2f s; load %s, errors %d"
              % (min(took), max(took), load.statuses, len(load.errors)), file=sys.stderr)
        self.assertEqual(load.errors, [])
        self.assertEqual(set(load.statuses), {200})
        self.finish()

    def test_over_max_connections_new_clients_get_503_at_once(self):
        m = self.start([service("dummy", ["dummy_service"], routes=["/dummy"])],
                       max_connections=50, header_timeout_ms=60000)
        self.baseline()
        held = [connect(m) for _ in range(50)]
        self.addCleanup(lambda: [s.close() for s in held])
        poll_until(lambda: fd_count(m.proc.pid) >= self.fd0 + 50, what="50 connections held")
        worst = 0.0
        for _ in range(20):
            t0 = time.monotonic()
            s = connect(m)
            s.sendall(b"GET /dummy/echo HTTP/1.1\r\nHost: t\r\n\r\n")
            data = read_all(s)  # answered and closed by muster
            worst = max(worst, time.monotonic() - t0)
            s.close()
            self.assertTrue(data.startswith(b"HTTP/1.1 503 "), data[:200])
            self.assertIn(b"retry-after: 1\r\n", data.lower())
        self.assertLess(worst, 2.0)
        for s in held:
            s.close()
        # once they are gone, clients are served again
        poll_until(lambda: http_get(m, "/dummy/echo")[0] == 200, what="a 200 again")
        self.fds_back()
        print("\n  over max_connections: 503 within %.3f s" % worst, file=sys.stderr)
        self.finish()

    # ---- clients that stop reading ----

    def test_clients_that_stop_reading_a_large_response(self):
        # "big" serves the 8 MB bodies (under ASan a dummy blocks its loop
        # for a while building them: heartbeat allowance), "dummy" the load.
        big = service("big", ["dummy_service"], routes=["/big"], instances=2,
                      heartbeat_ms=1000, heartbeat_misses=30)
        m = self.start([big, service("dummy", ["dummy_service"], routes=["/dummy"])],
                       keepalive_timeout_ms=1000)
        load = Load(m, "/dummy/echo", n=2).start()
        self.addCleanup(load.stop)
        load.wait_for(20)
        self.baseline()
        self.stuck_readers(m, 20)
        held = rss_kb(m.proc.pid)
        n0 = load.total()
        load.wait_for(n0 + 20)  # others are served meanwhile
        # The clients neither read nor close: muster drops them at
        # keepalive_timeout_ms plus its 5 s linger, and frees the buffers.
        self.fds_back()
        after = poll_until(lambda: rss_kb(m.proc.pid) < self.rss0 + RELEASED and
                           rss_kb(m.proc.pid), what="RSS back down")
        load.stop()
        print("\n  20 clients not reading 8 MB each: RSS %d kB -> %d kB (+%.1f MB for 160 MB "
              "of responses) -> %d kB once muster dropped them; load %s, errors %d"
              % (self.rss0, held, (held - self.rss0) / 1024.0, after, load.statuses,
                 len(load.errors)), file=sys.stderr)
        self.assertEqual(load.errors, [])
        self.assertEqual(set(load.statuses), {200})
        # bounded by what it buffered (20 x 8 MB) plus a little
        self.assertLess(held - self.rss0, 20 * 8000000 // 1024 + 16 * MiB)
        self.finish()

    def test_clients_not_reading_are_shed_over_max_buffered_bytes(self):
        # 20 clients ask for 8 MB each and read nothing: under the 64 MiB
        # cap of one connection, but 160 MB together, five times the
        # 32 MiB max_buffered_bytes. muster drops the connections holding
        # the most until what it holds fits, keeps serving the others, and
        # its memory stays near the budget, not near 160 MB.
        budget = 32 << 20
        big = service("big", ["dummy_service"], routes=["/big"], instances=2,
                      heartbeat_ms=1000, heartbeat_misses=30)
        m = self.start([big, service("dummy", ["dummy_service"], routes=["/dummy"])],
                       keepalive_timeout_ms=120000, max_buffered_bytes=budget)
        load = Load(m, "/dummy/echo", n=2).start()
        self.addCleanup(load.stop)
        load.wait_for(20)
        self.baseline()
        sampler = RssPeak(m.proc.pid)
        self.addCleanup(sampler.stop)
        stuck = self.stuck_readers(m, 20)
        peak = sampler.stop()
        m.seen_or_expect(r"gateway: \d+ response bytes queued for clients \(max_buffered_bytes "
                         r"%d\); closing the connection of 127\.0\.0\.1, which is not reading "
                         r"\d+ of them" % budget)
        # Each client now reads: the dropped ones get a part, then EOF;
        # the others get all 8 MB (muster writes on as they read).
        whole = cut = 0
        for s in stuck:
            got = b""
            while b"\r\n\r\n" not in got:
                d = s.recv(65536)
                if not d:
                    break
                got += d
            head, _, body = got.partition(b"\r\n\r\n")
            n = len(body)
            while n < 8000000:
                try:
                    d = s.recv(1 << 20)
                except ConnectionResetError:
                    d = b""
                if not d:
                    break
                n += len(d)
            if n == 8000000:
                whole += 1
            else:
                cut += 1
        n0 = load.total()
        load.wait_for(n0 + 20)  # others are served throughout
        load.stop()
        print("\n  20 clients not reading 8 MB each, max_buffered_bytes 32 MiB: %d dropped, %d "
              "served whole; RSS %d kB -> peak %d kB (+%.1f MB); load %s, errors %d"
              % (cut, whole, self.rss0, peak, (peak - self.rss0) / 1024.0, load.statuses,
                 len(load.errors)), file=sys.stderr)
        self.assertGreaterEqual(cut, 10, "160 MB asked for, 32 MiB allowed")
        self.assertGreaterEqual(whole, 1, "the connections that fit are kept")
        self.assertEqual(load.errors, [])
        self.assertEqual(set(load.statuses), {200})
        # bounded by the budget, one response over it, and allocator slack
        self.assertLess(peak - self.rss0, (budget + 8000000) // 1024 + 24 * MiB)
        self.finish()

    def test_pipelining_client_that_never_reads_is_dropped_at_the_queue_cap(self):
        big = service("big", ["dummy_service"], routes=["/big"],
                      heartbeat_ms=1000, heartbeat_misses=30)
        m = self.start([big, service("dummy", ["dummy_service"], routes=["/dummy"])])
        self.baseline()
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(TIMEOUT)
        s.connect(gateway_addr(m))
        self.addCleanup(s.close)
        sampler = RssPeak(m.proc.pid)
        self.addCleanup(sampler.stop)
        s.sendall(b"GET /big/bytes?n=40000000 HTTP/1.1\r\nHost: t\r\n\r\n" * 3)
        mt = m.expect(r"gateway: client \S+ is not reading its response \((\d+) bytes "
                      r"queued\); closing the connection", timeout=TIMEOUT * 2)
        peak = sampler.stop()
        self.assertEqual(http_get(m, "/dummy/echo")[0], 200)
        self.fds_back()
        after = poll_until(lambda: rss_kb(m.proc.pid) < self.rss0 + RELEASED and
                           rss_kb(m.proc.pid), what="RSS back down")
        print("\n  pipelining non-reader of 3 x 40 MB dropped with %s bytes queued; RSS %d -> "
              "peak %d -> %d kB" % (mt.group(1), self.rss0, peak, after), file=sys.stderr)
        self.assertGreater(int(mt.group(1)), 64 << 20)
        self.finish()

    # ---- shutdown with responses still being written ----

    def test_shutdown_finishes_responses_being_written(self):
        # SPEC §1: SIGTERM drains in-flight requests. A response whose
        # head and part of whose body went out is still in flight: it must
        # not be cut when the last service has stopped.
        m = self.start([service("dummy", ["dummy_service"], routes=["/dummy"],
                                heartbeat_ms=1000, heartbeat_misses=30)])
        reader = connect(m)
        reader.sendall(b"GET /dummy/bytes?n=8000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        got = reader.recv(65536)  # the response is under way; the rest waits
        never = socket.socket()   # and one client that will never read
        never.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        never.connect(gateway_addr(m))
        self.addCleanup(never.close)
        never.sendall(b"GET /dummy/bytes?n=8000000 HTTP/1.1\r\nHost: t\r\n\r\n")
        poll_until(lambda: ctl(m, cmd="status")["services"][0]["instances"][0]["requests"] == 2
                   and ctl(m, cmd="status")["services"][0]["instances"][0]["inflight"] == 0,
                   what="both responses relayed")
        t0 = time.monotonic()
        before = descendants(m.proc.pid)
        m.signal(signal.SIGTERM)
        m.expect(r"all services stopped; exiting")
        got += read_all(reader)
        reader.close()
        head, _, body = got.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200 "), head)
        self.assertEqual(len(body), 8000000, "the response was cut at shutdown")
        # the client that never reads holds muster at most its linger (5 s)
        self.assertEqual(m.wait(), 0)
        took = time.monotonic() - t0
        self.assertEqual(survivors(before), [], "processes left behind")
        print("\n  SIGTERM with 2 responses under way: 8000000 bytes delivered; muster exited "
              "0 after %.1f s (a client never reading: the 5 s linger)" % took, file=sys.stderr)
        self.assertLess(took, 5 + 5)

    # ---- resets ----

    def test_reset_mid_request_cancels_it_at_the_instance(self):
        hold = service("hold", ["misbehave_service"], routes=["/hold"],
                       env={"MISBEHAVE": "hold"})
        # (the dummy also builds 8 MB bodies below: slow under ASan, so a
        # generous heartbeat, or it is rightly killed as hung meanwhile)
        m = self.start([hold, service("dummy", ["dummy_service"], routes=["/dummy"],
                                      heartbeat_ms=1000, heartbeat_misses=30)])
        pid = int(m.seen_or_expect(r"hold\[0\]: spawn: spawned pid (\d+)").group(1))
        load = Load(m, "/dummy/echo", n=2).start()
        self.addCleanup(load.stop)
        load.wait_for(20)
        self.baseline()
        logs = LogFollow(m, "hold")
        self.addCleanup(logs.close)
        seen = {"request": [], "cancel": []}

        def next_event():
            mt = logs.expect(r"hold\[0\] out: (request|cancel) (\d+)$")
            seen[mt.group(1)].append(int(mt.group(2)))
            return mt.group(1)
        for i in range(60):
            s = connect(m)
            s.sendall(b"GET /hold/x HTTP/1.1\r\nHost: t\r\n\r\n")
            # the request reached the instance, then the client goes away:
            # RST for most, a plain FIN for some
            while next_event() != "request":
                pass
            if i % 3 == 2:
                s.close()
            else:
                rst_close(s)
        while len(seen["cancel"]) < 60:
            next_event()
        self.assertEqual(sorted(seen["cancel"]), sorted(seen["request"]))
        self.assertEqual(len(set(seen["request"])), 60)

        def idle():
            inst = ctl(m, cmd="status", service="hold")["services"][0]["instances"][0]
            return inst if inst["inflight"] == 0 else None
        inst = poll_until(idle, what="hold's in-flight count back to 0")
        self.assertEqual(inst["pid"], pid)  # the same process, never restarted
        self.assertEqual(inst["requests"], 60)
        self.assertEqual(http_get(m, "/hold/now")[2], b"now")
        # a reset in the middle of a large response being written
        for _ in range(5):
            s = connect(m)
            s.sendall(b"GET /dummy/bytes?n=8000000 HTTP/1.1\r\nHost: t\r\n\r\n")
            s.recv(65536)
            rst_close(s)
        self.fds_back()
        n0 = load.total()
        load.wait_for(n0 + 20)
        load.stop()
        print("\n  60 resets/closes mid-request: 60 cancels at the instance; load %s, errors %d"
              % (load.statuses, len(load.errors)), file=sys.stderr)
        self.assertEqual(load.errors, [])
        self.assertEqual(set(load.statuses), {200})
        self.finish()


if __name__ == "__main__":
    unittest.main()
