"""A program written for systemd's Type=notify, as muster hosts it with
ready "notify": it speaks sd_notify(3) to $NOTIFY_SOCKET by hand, as
python-systemd or go-systemd's daemon.SdNotify would. Its argv is a
script of steps, run in order:

  env            print NOTIFY_SOCKET, WATCHDOG_USEC and whether fd 3 is open
  send TEXT      one datagram; "\\n" in TEXT is a newline
  child TEXT     a child process sends TEXT and exits, as systemd-notify does
  fds TEXT       TEXT with a pipe's two ends attached (SCM_RIGHTS); prints
                 the pipe's name as /proc shows it
  big            a datagram of 5000 bytes (READY=1 in it)
  nul            READY=1 with a NUL byte after it
  asuser TEXT    a child that became uid 65534 sends TEXT (needs root)
  sleep S        sleep S seconds
  until PATH     wait (polling, at most 60 s) for PATH to exist
  beat N         WATCHDOG=1 N times, every WATCHDOG_USEC / 4
  serve          answer HTTP on $PORT from a thread ("notify NNN")
  wait           wait (for SIGTERM)

SIGTERM, at any step, ends it with code 0. Every step is echoed on stdout first ("step: ...")."""
import http.server
import os
import signal
import socket
import sys
import threading
import time


def addr():
    name = os.environ["NOTIFY_SOCKET"]
    return "\0" + name[1:] if name.startswith("@") else name


def send(text, fds=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    data = text.replace("\\n", "\n").encode()
    if fds:
        s.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(
            b for fd in fds for b in fd.to_bytes(4, sys.byteorder)))], 0, addr())
    else:
        s.sendto(data, addr())
    s.close()


def serve():
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = ("notify %d\n" % os.getpid()).encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()


def main(steps):
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    i = 0
    while i < len(steps):
        op = steps[i]
        arg = steps[i + 1] if op not in ("env", "big", "nul", "serve", "wait") else None
        i += 1 if arg is None else 2
        print("step: %s%s" % (op, "" if arg is None else " " + arg), flush=True)
        if op == "env":
            try:
                os.fstat(3)
                fd3 = "open"
            except OSError:
                fd3 = "closed"
            print("NOTIFY_SOCKET=%s WATCHDOG_USEC=%s fd3=%s" % (
                os.environ.get("NOTIFY_SOCKET", "-"), os.environ.get("WATCHDOG_USEC", "-"), fd3),
                flush=True)
        elif op == "send":
            send(arg)
        elif op == "child":
            pid = os.fork()
            if pid == 0:
                send(arg)
                os._exit(0)
            os.waitpid(pid, 0)
        elif op == "fds":
            r, w = os.pipe()
            print("pipe:[%d]" % os.fstat(r).st_ino, flush=True)
            send(arg, [r, w])
            os.close(r)
            os.close(w)
        elif op == "big":
            send("READY=1\nSTATUS=" + "x" * 4990)
        elif op == "nul":
            send("READY=1\0")
        elif op == "asuser":
            pid = os.fork()
            if pid == 0:
                os.setuid(65534)
                send(arg)
                os._exit(0)
            os.waitpid(pid, 0)
        elif op == "sleep":
            time.sleep(float(arg))
        elif op == "until":
            deadline = time.monotonic() + 60
            while not os.path.exists(arg) and time.monotonic() < deadline:
                time.sleep(0.02)
        elif op == "beat":
            period = int(os.environ["WATCHDOG_USEC"]) / 4e6
            for _ in range(int(arg)):
                send("WATCHDOG=1")
                time.sleep(period)
        elif op == "serve":
            serve()
        elif op == "wait":
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1:])
