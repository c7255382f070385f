#!/usr/bin/env python3
"""A program written for systemd's Type=notify, with nothing but Python's
standard library: it says how far its start has come (STATUS=), that it
is ready (READY=1) once its index is built, feeds the watchdog
(WATCHDOG=1 at half of WATCHDOG_USEC) while it works, and says STOPPING=1
on SIGTERM. Hosted by muster with "ready": "notify"
(config/examples/notify.json), unmodified: muster gives it a
NOTIFY_SOCKET of its own, as systemd would.

It indexes the words of the files in INDEX_DIR (default: the current
directory) and writes the count of distinct words to INDEX_OUT every few
seconds. Without NOTIFY_SOCKET (run by hand) it runs all the same."""
import os
import signal
import socket
import sys
import time

stopping = False


def notify(text):
    """One sd_notify(3) datagram; nothing without NOTIFY_SOCKET."""
    addr = os.environ.get("NOTIFY_SOCKET")
    if not addr:
        return
    if addr.startswith("@"):
        addr = "\0" + addr[1:]  # the abstract namespace
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.sendto(text.encode(), addr)


def build(root):
    words, files = set(), 0
    for dirpath, dirnames, names in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in names:
            try:
                with open(os.path.join(dirpath, name), errors="replace") as f:
                    words.update(f.read().split())
                files += 1
            except OSError:
                continue
            if files % 100 == 0:
                notify("STATUS=indexing: %d files" % files)
    return words, files


def on_term(signum, frame):
    global stopping
    stopping = True


def main():
    signal.signal(signal.SIGTERM, on_term)
    root = os.environ.get("INDEX_DIR", ".")
    out = os.environ.get("INDEX_OUT", "index.count")
    notify("STATUS=indexing %s" % root)
    words, files = build(root)
    notify("READY=1\nSTATUS=%d words from %d files" % (len(words), files))
    beat = int(os.environ.get("WATCHDOG_USEC", "0")) / 2e6 or 5.0
    while not stopping:
        with open(out + ".tmp", "w") as f:
            f.write("%d\n" % len(words))
        os.replace(out + ".tmp", out)
        notify("WATCHDOG=1")
        time.sleep(min(beat, 5.0))
    notify("STOPPING=1")
    print("indexer: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
